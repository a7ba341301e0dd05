"""``vidground api`` and ``vidground serve``: the REST API alone, or the whole service in one command.

Registered on the main app by :func:`register` (called from ``vidground/cli_index.py``).

``serve`` is the laptop path (``../shared/design/service.md`` section 8). With nothing configured it starts the
embedded PostgreSQL (migrated to head) and the embedded Valkey (:mod:`vidground.broker`), then three child
processes, each in its own process group and given the resolved ``VIDGROUND_DATABASE_URL`` and
``VIDGROUND_REDIS_URL``: the API (``vidground api``), one worker for both queues and beat. It prints the URL once
the API answers ``/healthz``. SIGINT (Ctrl-C) or SIGTERM stops the children (SIGTERM, then SIGKILL of their whole
process group after :data:`GRACE_S`), then Valkey and the embedded PostgreSQL, and exits 0. A child that exits on
its own stops the rest and exits 1, naming it. With ``VIDGROUND_DATABASE_URL`` / ``VIDGROUND_REDIS_URL`` set it
uses those servers and starts no embedded one.
"""

# No ``from __future__ import annotations``: typer reads the commands' annotations.
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from vidground.settings import Settings

GRACE_S = 10.0  # how long a child may take to stop after SIGTERM before its process group is killed
HEALTHY_TIMEOUT_S = 120.0  # how long the API may take to answer /healthz after it was started
POLL_S = 0.2

Host = Annotated[str, typer.Option("--host", help="Address the API listens on (0.0.0.0: every interface).")]
Port = Annotated[int, typer.Option("--port", "-p", min=1, max=65535, help="Port the API listens on.")]


@dataclass(frozen=True)
class Child:
    """A child process of ``serve``: what to call it in messages, and the process (leader of its own group)."""

    name: str
    process: "subprocess.Popen[bytes]"


@dataclass(frozen=True)
class ChildExited:
    """A child that ended while ``serve`` still needed it."""

    name: str
    pid: int
    returncode: int

    def message(self) -> str:
        how = (
            f"was killed by signal {-self.returncode}"
            if self.returncode < 0
            else f"exited with status {self.returncode}"
        )
        return f"serve: the {self.name} (pid {self.pid}) {how}; stopped the rest (its messages are above)"


def register(app: typer.Typer) -> None:
    """Add the api and serve commands to the main app."""
    from vidground import cli

    epilog = cli._epilog

    @app.command(epilog=epilog("vidground api", "vidground api --host 0.0.0.0 --port 8080"))
    def api(host: Host = "127.0.0.1", port: Port = 8000) -> None:
        """Run the REST API (uvicorn) on the database and broker of the settings; workers run apart."""
        import uvicorn

        settings = cli._settings()
        uvicorn.run(
            "api.main:app_from_env", factory=True, host=host, port=port, log_level=str(settings.log_level).lower()
        )

    @app.command(
        epilog=epilog(
            "vidground serve                           # embedded PostgreSQL and Valkey, API on 127.0.0.1:8000",
            "vidground serve --host 0.0.0.0 --port 8080",
        )
    )
    def serve(host: Host = "127.0.0.1", port: Port = 8000) -> None:
        """Run the whole service: databases (embedded unless set), the API, one worker and beat; Ctrl-C stops it."""
        exited = run_service(cli._settings(), host=host, port=port)
        if exited is not None:
            cli.err.print(f"error: {exited.message()}", markup=False)
            raise typer.Exit(1)


def run_service(settings: "Settings", *, host: str, port: int) -> ChildExited | None:
    """Start the servers and the children, print the URL, and supervise until a signal or a child's exit.

    Returns:
        None after a clean stop (SIGINT or SIGTERM), else the child that exited on its own (the rest are stopped).

    Raises:
        ConfigError: the database or the broker cannot be reached or started (nothing is left running).
    """
    from vidground import cli
    from vidground.broker import broker_url, release_broker
    from vidground.cli_index import open_store
    from vidground.index.sql.engine import release_embedded

    stop = threading.Event()
    handlers = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    children: list[Child] = []
    try:
        store = open_store(settings)  # the embedded server is started and migrated; a configured one must be at head
        database_url = settings.database_url or store.engine.url.render_as_string(hide_password=False)
        store.engine.dispose()
        redis_url = broker_url(settings)
        env = {**os.environ, "VIDGROUND_DATABASE_URL": database_url, "VIDGROUND_REDIS_URL": redis_url}
        for name, args in (
            ("API", ["api", "--host", host, "--port", str(port)]),
            ("worker", ["worker", "--queues", "gpu,cpu", "--concurrency", "1"]),
            ("beat", ["beat"]),
        ):
            if stop.is_set():
                return None
            children.append(_start(name, args, env))
        url = f"http://{_client_host(host)}:{port}"
        exited = _wait_healthy(url, children, stop)
        if exited is not None or stop.is_set():
            return exited
        cli.out.print(f"vidground is serving at {url} (API docs at {url}/docs; Ctrl-C stops it)", markup=False)
        cli.out.print("make an API key: vidground keys create --tenant NAME", markup=False)
        sys.stdout.flush()
        return _watch(children, stop)
    finally:
        _stop_children(children)
        release_broker(settings.data_dir)
        if settings.database_url is None:
            release_embedded(settings.data_dir)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def _start(name: str, args: list[str], env: dict[str, str]) -> Child:
    """Run ``python -m vidground ARGS`` in a new session (its own process group: a terminal's Ctrl-C reaches only
    ``serve``, which stops the children in order)."""
    process = subprocess.Popen([sys.executable, "-m", "vidground", *args], env=env, start_new_session=True)
    return Child(name=name, process=process)


def _client_host(host: str) -> str:
    """Where a client on this machine reaches a server listening on ``host`` (``0.0.0.0`` -> ``127.0.0.1``)."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def _first_exited(children: list[Child]) -> ChildExited | None:
    for child in children:
        code = child.process.poll()
        if code is not None:
            return ChildExited(name=child.name, pid=child.process.pid, returncode=code)
    return None


def _wait_healthy(url: str, children: list[Child], stop: threading.Event) -> ChildExited | None:
    """Poll ``url/healthz`` until it answers 200; a child's exit (or the timeout, as the API's) ends the wait."""
    import httpx

    deadline = time.monotonic() + HEALTHY_TIMEOUT_S
    while not stop.is_set():
        exited = _first_exited(children)
        if exited is not None:
            return exited
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                return None
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            api = children[0].process
            return ChildExited(name=f"API (no answer at {url}/healthz in {HEALTHY_TIMEOUT_S:g} s)", pid=api.pid,
                               returncode=api.poll() or 0)  # fmt: skip
        stop.wait(POLL_S)
    return None


def _watch(children: list[Child], stop: threading.Event) -> ChildExited | None:
    """Wait for a signal (None) or a child's exit (that child)."""
    while not stop.wait(POLL_S):
        exited = _first_exited(children)
        if exited is not None:
            return exited
    return None


def _stop_children(children: list[Child]) -> None:
    """SIGTERM each child, wait up to :data:`GRACE_S`, then SIGKILL each child's whole process group.

    Only the group leaders get SIGTERM (Celery stops its own pool processes); the group kill at the end also takes
    pool processes whose parent has already gone.
    """
    for child in children:
        if child.process.poll() is None:
            child.process.terminate()
    deadline = time.monotonic() + GRACE_S
    for child in children:
        try:
            child.process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for child in children:
        try:
            os.killpg(child.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass  # the group is empty: every process of it has exited
        child.process.wait()
