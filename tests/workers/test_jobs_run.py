"""Jobs through a real Celery worker process, the machine's Redis and PostgreSQL, with the tiny checkpoint."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.workers.conftest import WorkerProcess, send, wait_for_job
from vidground import jobs
from vidground.index.sql.models import Analysis, QueryOutcomeRow, Segment, Video
from vidground.jobs import JobKind, JobStatus

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def worker(start_worker: Callable[..., WorkerProcess]) -> WorkerProcess:
    return start_worker()


def _ingest_job(engine: Any, path: Path, **request: Any) -> jobs.JobRecord:
    return jobs.create(engine, tenant="default", kind=JobKind.INGEST, video_id=None,
                       request={"path": str(path), **request}, options={}, params_hash="-")  # fmt: skip


def _count(engine: Any, model: Any, *where: Any) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_ingest_job_runs_queued_running_succeeded_and_writes_its_rows(
    worker: WorkerProcess, producer: Any, engine: Any, bikes_video: Path
) -> None:
    job = _ingest_job(engine, bikes_video, queries=["a person rides a bike"])
    assert job.status is JobStatus.QUEUED
    send(producer, "vidground.ingest", job.id)
    record, seen = wait_for_job(engine, job.id, worker=worker)
    assert record.status is JobStatus.SUCCEEDED, (record.error, worker.log())
    assert seen[-2:] == ["running", "succeeded"]
    assert record.attempts == 1
    assert record.progress_total > 0 and record.stage is not None
    assert record.result is not None and record.result["outcome"] == "ingested"
    assert sorted(record.result["stored"]) == ["caption", "locate"]
    video_id = record.result["video_id"]
    with Session(engine) as session:
        video = session.get(Video, video_id)
        assert video is not None and video.status == "indexed" and video.path == str(bikes_video.resolve())
        kinds = sorted(session.scalars(select(Analysis.kind).where(Analysis.video_id == video_id)))
    assert kinds == ["caption", "locate"]
    assert _count(engine, QueryOutcomeRow) == 1


def test_locate_job_stores_its_answers_as_the_videos_locate_analysis(
    worker: WorkerProcess, producer: Any, engine: Any, bikes_video: Path
) -> None:
    ingest = _ingest_job(engine, bikes_video, captions=False, queries=["a dog"])
    send(producer, "vidground.ingest", ingest.id)
    ingested, _ = wait_for_job(engine, ingest.id, worker=worker)
    assert ingested.result is not None
    video_id = ingested.result["video_id"]
    queries = ["a red car", "a person on a bike"]
    job = jobs.create(engine, tenant="default", kind=JobKind.LOCATE, video_id=video_id,
                      request={"queries": queries}, options={}, params_hash="-")  # fmt: skip
    send(producer, "vidground.locate", job.id)
    record, _ = wait_for_job(engine, job.id, worker=worker)
    assert record.status is JobStatus.SUCCEEDED, (record.error, worker.log())
    assert record.result is not None
    assert [r["query"] for r in record.result["results"]] == queries
    with Session(engine) as session:
        analysis = session.scalars(
            select(Analysis).where(Analysis.video_id == video_id, Analysis.kind == "locate")
        ).one()  # replaced, not added: one locate analysis per video
        outcomes = sorted(
            session.scalars(select(QueryOutcomeRow.query).where(QueryOutcomeRow.analysis_id == analysis.id))
        )
        n_spans = sum(len(r["spans"]) for r in record.result["results"])
    assert outcomes == sorted(queries)
    assert _count(engine, Segment, Segment.analysis_id == analysis.id) == n_spans


def test_a_job_delivered_twice_runs_once(
    worker: WorkerProcess, producer: Any, engine: Any, redis_client: Any, bikes_video: Path
) -> None:
    job = _ingest_job(engine, bikes_video, captions=False, queries=["a tree"])
    send(producer, "vidground.ingest", job.id)
    send(producer, "vidground.ingest", job.id)
    record, _ = wait_for_job(engine, job.id, worker=worker)
    deadline = time.monotonic() + 20
    while redis_client.llen("gpu") or redis_client.hlen("unacked"):  # both deliveries taken and acknowledged
        assert time.monotonic() < deadline, worker.log()
        time.sleep(0.1)
    time.sleep(0.3)
    record = jobs.get(engine, job.id)
    assert record.status is JobStatus.SUCCEEDED
    assert record.attempts == 1
    assert sum("nothing to do" in line for line in worker.lines) >= 1


def test_a_cancelled_queued_job_is_not_run(
    worker: WorkerProcess, producer: Any, engine: Any, bikes_video: Path
) -> None:
    job = _ingest_job(engine, bikes_video)
    jobs.cancel(engine, job.id)
    after = _ingest_job(engine, bikes_video, captions=False, queries=["a bird"])
    send(producer, "vidground.ingest", job.id)
    send(producer, "vidground.ingest", after.id)  # one worker process: runs after the cancelled job's message
    wait_for_job(engine, after.id, worker=worker)
    record = jobs.get(engine, job.id)
    assert record.status is JobStatus.CANCELLED
    assert record.attempts == 0 and record.started_at is None


def test_a_corrupt_file_fails_the_job_with_the_message(
    worker: WorkerProcess, producer: Any, engine: Any, tmp_path: Path
) -> None:
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"this is not a video " * 200)
    job = _ingest_job(engine, corrupt)
    send(producer, "vidground.ingest", job.id)
    record, _ = wait_for_job(engine, job.id, worker=worker)
    assert record.status is JobStatus.FAILED
    assert record.error is not None and str(corrupt) in record.error
    assert record.attempts == 1  # a user error is not retried
    assert _count(engine, Video, Video.path == str(corrupt.resolve())) == 0


def test_a_locate_job_whose_video_is_gone_fails_with_a_message(
    worker: WorkerProcess, producer: Any, engine: Any
) -> None:
    job = jobs.create(engine, tenant="default", kind=JobKind.LOCATE, video_id=None,
                      request={"queries": ["x"]}, options={}, params_hash="-")  # fmt: skip
    send(producer, "vidground.locate", job.id)
    record, _ = wait_for_job(engine, job.id, worker=worker)
    assert record.status is JobStatus.FAILED
    assert record.error == f"job {job.id}: its video None is not in the index (deleted?)"


def test_ingest_job_runs_shots_and_speech_when_asked_and_notes_a_video_without_audio(
    worker: WorkerProcess, producer: Any, engine: Any, bikes_video: Path
) -> None:
    from vidground.index.sql.models import ShotRow

    job = _ingest_job(engine, bikes_video, captions=False, shots=True, speech=True)
    send(producer, "vidground.ingest", job.id)
    record, _ = wait_for_job(engine, job.id, worker=worker)
    assert record.status is JobStatus.SUCCEEDED, (record.error, worker.log())
    assert record.result is not None and record.result["stored"] == ["shots", "speech"]
    assert record.result["notes"] == ["speech: no audio track"]  # bikes.mp4 has no sound: a note, not a failure
    assert _count(engine, ShotRow, ShotRow.video_id == record.result["video_id"]) >= 4
