"""Fixtures for the workers: a migrated database, the machine's Redis (db 15, flushed) and real Celery worker
processes started as subprocesses with the test's environment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.model.conftest import tiny_model_dir  # noqa: F401  (a fixture used by the worker fixtures)

REPO = Path(__file__).resolve().parents[2]
# The machine's Redis; the tests empty their database, so two runs at once need different ones.
REDIS_URL = f"redis://127.0.0.1:6379/{os.environ.get('VIDGROUND_TEST_REDIS_DB', '15')}"
READY_TIMEOUT_S = 120.0


def _redis_or_skip() -> Any:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"no Redis at {REDIS_URL}")
    return client


@pytest.fixture(scope="module")
def redis_client() -> Iterator[Any]:
    """The test Redis database, emptied before the module's workers start."""
    client = _redis_or_skip()
    client.flushdb()
    yield client
    client.close()


@pytest.fixture(scope="module")
def worker_database(pg_url: str, _pg_template: str) -> Iterator[str]:
    """A fresh database migrated to head, shared by one test module's worker processes."""
    from sqlalchemy.engine import make_url

    from tests.conftest import _execute
    from vidground.cli_index import open_store
    from vidground.settings import Settings

    name = f"test_workers_{uuid.uuid4().hex}"
    _execute(pg_url, f'CREATE DATABASE "{name}" TEMPLATE "{_pg_template}"')
    url = make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    open_store(Settings(database_url=url), migrate=True).engine.dispose()
    yield url
    _execute(pg_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def worker_env(
    worker_database: str,
    tiny_model_dir: Path,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, str]:
    """The environment of a worker process: this module's database, Redis db 15, the tiny model on the CPU."""
    return {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "VIDGROUND_DATA_DIR": str(tmp_path_factory.mktemp("worker-data")),
        "VIDGROUND_DATABASE_URL": worker_database,
        "VIDGROUND_REDIS_URL": REDIS_URL,
        "VIDGROUND_MODEL_ID": str(tiny_model_dir),
        "VIDGROUND_DEVICE": "cpu",
        "VIDGROUND_RESIZE": "fast",
        "VIDGROUND_NFRAMES": "8",
        "VIDGROUND_TORCH_THREADS": "1",
        "VIDGROUND_MAX_NEW_TOKENS": "24",  # a random model's answers run to the cap: keep each call short
    }


@dataclass
class WorkerProcess:
    """A real worker (its main process and its pool) started as a subprocess in its own process group."""

    command: list[str]
    env: Mapping[str, str]
    process: subprocess.Popen[str] | None = None
    lines: list[str] = field(default_factory=list)

    def start(self) -> WorkerProcess:
        self.lines = []
        self.process = subprocess.Popen(
            self.command, env=dict(self.env), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, start_new_session=True,
        )  # fmt: skip
        ready = threading.Event()

        def read(stream: Any) -> None:
            for line in stream:
                self.lines.append(line.rstrip())
                if " ready." in line:
                    ready.set()

        threading.Thread(target=read, args=(self.process.stdout,), daemon=True).start()
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not ready.wait(0.1):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail("the worker did not start:\n" + "\n".join(self.lines[-40:]))
        return self

    def kill(self) -> None:
        """SIGKILL the worker's whole process group: the main process and the pool process running a task."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def log(self) -> str:
        return "\n".join(self.lines[-60:])


def celery_worker_command(name: str) -> list[str]:
    return [
        sys.executable, "-m", "celery", "-A", "workers.app", "worker", "-Q", "gpu,cpu", "-c", "1",
        "-n", f"{name}-{uuid.uuid4().hex[:8]}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat",
        "-l", "INFO",
    ]  # fmt: skip


def vidground_worker_command() -> list[str]:
    """``vidground worker`` (the CLI's entry point, run from this checkout)."""
    entry = "import sys; from vidground.cli import main; sys.exit(main(sys.argv[1:]))"
    return [sys.executable, "-c", entry, "worker", "--queues", "gpu,cpu", "--concurrency", "1"]


@pytest.fixture(scope="module")
def start_worker(worker_env: dict[str, str], redis_client: Any) -> Iterator[Callable[..., WorkerProcess]]:
    """``start_worker(command=None, **env)`` -> a started worker (stopped at the end of the module)."""
    started: list[WorkerProcess] = []

    def start(command: list[str] | None = None, **env: str) -> WorkerProcess:
        worker = WorkerProcess(command or celery_worker_command("test"), {**worker_env, **env})
        started.append(worker)
        return worker.start()

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture(scope="module")
def producer(redis_client: Any) -> Any:
    """A Celery app of the test process that sends to the test Redis with the workers' routes."""
    from celery import Celery

    from vidground.settings import Settings
    from workers.app import celery_config

    app = Celery("vidground-tests")
    app.conf.update(celery_config(Settings(redis_url=REDIS_URL)))
    return app


@pytest.fixture(scope="module")
def engine(worker_database: str) -> Iterator[Any]:
    from vidground.index.sql.engine import make_engine

    engine = make_engine(worker_database)
    yield engine
    engine.dispose()


def send(producer: Any, task: str, job_id: int) -> None:
    from workers.app import ROUTES, TaskName

    producer.send_task(task, args=[job_id], queue=str(ROUTES[TaskName(task)]))


def wait_for_job(
    engine: Any, job_id: int, *, timeout_s: float = 180.0, worker: WorkerProcess | None = None
) -> tuple[Any, list[str]]:
    """Poll the job row until it is finished: (its record, the statuses seen in order)."""
    from vidground import jobs

    seen: list[str] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        record = jobs.get(engine, job_id)
        if not seen or seen[-1] != record.status:
            seen.append(str(record.status))
        if record.status.finished:
            return record, seen
        time.sleep(0.05)
    pytest.fail(
        f"job {job_id} did not finish in {timeout_s} s (seen {seen})" + ("" if worker is None else "\n" + worker.log())
    )
