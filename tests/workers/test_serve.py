"""``vidground serve`` with nothing configured, as a real process: embedded PostgreSQL and Valkey, the API, a worker
and beat; an upload is ingested and its captions served; SIGINT stops every process of it and exits 0."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.workers.conftest import REPO

READY_TIMEOUT_S = 150.0
STOP_TIMEOUT_S = 30.0


@pytest.fixture
def serve_data_dir() -> Iterator[Path]:
    """A fresh data dir under /var/tmp: as root the embedded PostgreSQL's system user must traverse its parents,
    which pytest's private /tmp/pytest-of-root does not allow."""
    folder = Path(tempfile.mkdtemp(prefix="vidground-serve-", dir="/var/tmp"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _processes_of(data_dir: Path) -> list[int]:
    """Pids of live processes whose environment names this data dir (serve's children, their pools, Valkey)."""
    needle = f"VIDGROUND_DATA_DIR={data_dir}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            state = next(line for line in (entry / "status").read_text().splitlines() if line.startswith("State:"))
        except (OSError, StopIteration):
            continue
        if needle in environ and "zombie" not in state:
            found.append(int(entry.name))
    return found


def test_serve_with_nothing_configured_ingests_an_upload_and_stops_on_sigint(
    serve_data_dir: Path, tiny_model_dir: Path, bikes_video: Path
) -> None:
    import httpx

    from vidground.broker import embedded_broker_pid
    from vidground.index.sql.engine import embedded_server_pid

    port = _free_port()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("VIDGROUND_")
    }  # nothing configured: no database or redis URL
    env.update(
        PYTHONPATH=str(REPO),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        VIDGROUND_DATA_DIR=str(serve_data_dir),
        VIDGROUND_MODEL_ID=str(tiny_model_dir),
        VIDGROUND_DEVICE="cpu",
        VIDGROUND_RESIZE="fast",
        VIDGROUND_NFRAMES="8",
        VIDGROUND_MAX_NEW_TOKENS="24",
        VIDGROUND_TORCH_THREADS="1",
    )
    cli = [sys.executable, "-m", "vidground"]
    serve = subprocess.Popen(
        [*cli, "serve", "--port", str(port)], env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    lines: list[str] = []
    url_seen = threading.Event()

    def read() -> None:
        assert serve.stdout is not None
        for line in serve.stdout:
            lines.append(line.rstrip())
            if "vidground is serving at http://" in line:
                url_seen.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not url_seen.wait(0.2):
            assert serve.poll() is None and time.monotonic() < deadline, "serve did not start:\n" + "\n".join(lines)
        url = next(line for line in lines if "serving at" in line).split("serving at ")[1].split()[0]
        assert url == f"http://127.0.0.1:{port}"
        hint_deadline = time.monotonic() + 10  # the reader thread may not have taken the next line yet
        while not any("vidground keys create --tenant NAME" in line for line in lines):
            assert time.monotonic() < hint_deadline, "no key hint after the URL:\n" + "\n".join(lines)
            time.sleep(0.05)
        assert embedded_server_pid(serve_data_dir) is not None and embedded_broker_pid(serve_data_dir) is not None

        made = subprocess.run(  # another process reaches the same embedded PostgreSQL while serve runs
            [*cli, "keys", "create", "--tenant", "t"], env=env, cwd=REPO, capture_output=True, text=True, timeout=60
        )
        assert made.returncode == 0, made.stderr
        auth = {"Authorization": f"Bearer {made.stdout.strip().splitlines()[-1]}"}

        with httpx.Client(base_url=url, headers=auth, timeout=30) as client:
            with bikes_video.open("rb") as stream:
                uploaded = client.post("/v1/videos", files={"file": ("bikes.mp4", stream, "video/mp4")})
            assert uploaded.status_code == 201, uploaded.text
            assert uploaded.json()["enqueued"] is True  # the API was given the embedded Valkey's URL
            video_id, job_id = uploaded.json()["video"]["id"], uploaded.json()["job"]["id"]

            deadline = time.monotonic() + 60
            job = client.get(f"/v1/jobs/{job_id}").json()
            while job["status"] in ("queued", "running") and time.monotonic() < deadline:
                time.sleep(0.5)
                job = client.get(f"/v1/jobs/{job_id}").json()
            assert job["status"] == "succeeded", (job, "\n".join(lines[-40:]))

            captions = client.get(f"/v1/videos/{video_id}/captions", params={"format": "vtt"})
            assert captions.status_code == 200 and captions.text.startswith("WEBVTT")

        serve.send_signal(signal.SIGINT)
        assert serve.wait(STOP_TIMEOUT_S) == 0, "\n".join(lines[-40:])
        deadline = time.monotonic() + 5  # PostgreSQL's last processes may still be exiting
        while time.monotonic() < deadline and (
            _processes_of(serve_data_dir) or embedded_server_pid(serve_data_dir) or embedded_broker_pid(serve_data_dir)
        ):
            time.sleep(0.1)
        assert _processes_of(serve_data_dir) == []
        assert embedded_server_pid(serve_data_dir) is None
        assert embedded_broker_pid(serve_data_dir) is None
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()
        for pid in _processes_of(serve_data_dir):
            os.kill(pid, signal.SIGKILL)


def test_a_child_that_dies_stops_the_rest_and_serve_exits_1(serve_data_dir: Path) -> None:
    """A port already taken: the API child exits, serve names it, stops the others and exits 1."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("VIDGROUND_")}
        env.update(PYTHONPATH=str(REPO), VIDGROUND_DATA_DIR=str(serve_data_dir))
        done = subprocess.run(
            [sys.executable, "-m", "vidground", "serve", "--port", str(port)], env=env, cwd=REPO,
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    assert done.returncode == 1, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: serve: the API (pid ") and "exited with status" in last
    assert _processes_of(serve_data_dir) == []
