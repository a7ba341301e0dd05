"""A worker SIGKILLed in the middle of a real ingest: after a restart the job completes exactly once."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.workers.conftest import WorkerProcess, send, vidground_worker_command, wait_for_job
from vidground import jobs
from vidground.index.sql.models import Analysis, QueryOutcomeRow, Segment, SegmentEmbedding, Video
from vidground.jobs import JobKind, JobStatus

pytestmark = pytest.mark.slow

# The restarted worker's limits: the broker hands the dead worker's message out again once it is older than the
# visibility timeout (hard limit + margin = 31 s), which must still exceed one ingest in a fresh process.
SHORT_LIMITS = {
    "VIDGROUND_TASK_SOFT_TIME_LIMIT_S": "28",
    "VIDGROUND_TASK_TIME_LIMIT_S": "30",
    "VIDGROUND_VISIBILITY_MARGIN_S": "1",
}


def _count(engine: Any, model: Any, *where: Any) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_a_job_whose_worker_is_killed_mid_ingest_completes_once_after_a_restart(
    start_worker: Callable[..., WorkerProcess], producer: Any, engine: Any, bikes_video: Path
) -> None:
    first = start_worker(**SHORT_LIMITS)
    job = jobs.create(engine, tenant="default", kind=JobKind.INGEST, video_id=None,
                      request={"path": str(bikes_video), "queries": ["a person rides a bike"]},
                      options={}, params_hash="-")  # fmt: skip
    send(producer, "vidground.ingest", job.id)
    deadline = time.monotonic() + 60
    while jobs.get(engine, job.id).stage is None:  # running and into the video: decoding or the model
        assert time.monotonic() < deadline, first.log()
        time.sleep(0.05)
    first.kill()
    killed = jobs.get(engine, job.id)
    assert killed.status is JobStatus.RUNNING and killed.attempts == 1

    second = start_worker(vidground_worker_command(), VIDGROUND_LOG_LEVEL="INFO", **SHORT_LIMITS)
    record, _ = wait_for_job(engine, job.id, timeout_s=240, worker=second)  # a loaded 2-core machine is slow
    assert record.status is JobStatus.SUCCEEDED, (record.error, second.log())
    assert record.attempts == 2
    assert record.result is not None
    video_id = record.result["video_id"]
    assert _count(engine, Video) == 1
    assert _count(engine, Analysis, Analysis.video_id == video_id) == 2  # caption + locate, once each
    assert _count(engine, QueryOutcomeRow) == 1
    n_segments = _count(engine, Segment, Segment.video_id == video_id)
    assert n_segments == record.result["n_segments"]
    assert _count(engine, SegmentEmbedding, SegmentEmbedding.video_id == video_id) == n_segments
    assert sum(f"job_id={job.id} kind=ingest attempt=2 started" in line for line in second.lines) == 1
