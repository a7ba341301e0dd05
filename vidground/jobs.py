"""Jobs: the database row is the source of truth; a Celery task receives only the job id.

Life of a job: the API (or beat) ``create``s it ``queued`` and enqueues its id; a worker ``claim``s it (``running``,
attempts + 1; a job already finished or cancelled is not claimed, so a task delivered twice does nothing the second
time), reports ``progress``, and ``finish``es it — writing its result rows and the job's end state in one
transaction is the task's job (see ``workers/``). ``cancel`` marks a queued or running job cancelled; a running task
checks ``is_cancelled`` between steps. ``requeue_stale`` (the sweeper) puts running jobs whose heartbeat is older
than a limit back to queued, or fails them once ``max_attempts`` is spent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from vidground.errors import NotFoundError
from vidground.index.sql.models import Job


class JobKind(StrEnum):
    INGEST = "ingest"  # captions + embeddings (and standing queries, subtitles) of one video
    LOCATE = "locate"  # ground queries in one video


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


@dataclass(frozen=True)
class ModelWork:
    """What a job's model work amounted to, stored on its row for ``/metrics``: frames decoded for the model,
    model passes (one per call over the video or one window) and wall seconds per pipeline stage."""

    frames_decoded: int = 0
    model_passes: int = 0
    timings_s: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def from_provenance(cls, provenance: Mapping[str, Any]) -> ModelWork:
        """From a result's provenance as JSON (``Provenance.to_json()``: ``passes`` with ``n_frames``, ``timings_s``).

        Example: passes of 96 and 80 frames, ``timings_s={"decode": 2.0}`` -> ``ModelWork(176, 2, {"decode": 2.0})``.
        """
        passes = provenance.get("passes") or []
        timings = provenance.get("timings_s") or {}
        return cls(
            frames_decoded=sum(int(p["n_frames"]) for p in passes),
            model_passes=len(passes),
            timings_s={str(stage): float(seconds) for stage, seconds in timings.items()},
        )


@dataclass(frozen=True)
class JobRecord:
    id: int
    tenant: str
    kind: JobKind
    status: JobStatus
    video_id: int | None
    request: Mapping[str, Any]
    options: Mapping[str, Any]
    params_hash: str
    stage: str | None
    progress_done: int
    progress_total: int
    attempts: int
    max_attempts: int
    error: str | None
    result: Mapping[str, Any] | None
    webhook_url: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


def _record(row: Job) -> JobRecord:
    return JobRecord(
        id=row.id,
        tenant=row.tenant,
        kind=JobKind(row.kind),
        status=JobStatus(row.status),
        video_id=row.video_id,
        request=row.request,
        options=row.options,
        params_hash=row.params_hash,
        stage=row.stage,
        progress_done=row.progress_done,
        progress_total=row.progress_total,
        attempts=row.attempts,
        max_attempts=row.max_attempts,
        error=row.error,
        result=row.result,
        webhook_url=row.webhook_url,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


def create(
    engine: Engine,
    *,
    tenant: str,
    kind: JobKind,
    video_id: int | None,
    request: Mapping[str, Any],
    options: Mapping[str, Any],
    params_hash: str,
    webhook_url: str | None = None,
    max_attempts: int = 3,
) -> JobRecord:
    """A new queued job (the caller enqueues its id)."""
    with Session(engine) as session, session.begin():
        row = Job(
            tenant=tenant,
            kind=str(kind),
            status=str(JobStatus.QUEUED),
            video_id=video_id,
            request=dict(request),
            options=dict(options),
            params_hash=params_hash,
            webhook_url=webhook_url,
            max_attempts=max_attempts,
        )
        session.add(row)
        session.flush()
        session.refresh(row)
        return _record(row)


def get(engine: Engine, job_id: int, *, tenant: str | None = None) -> JobRecord:
    """The job (of this tenant, when given).

    Raises:
        NotFoundError: no such job, or another tenant's.
    """
    with Session(engine) as session:
        row = session.get(Job, job_id)
        if row is None or (tenant is not None and row.tenant != tenant):
            raise NotFoundError(f"job {job_id} not found")
        return _record(row)


def claim(engine: Engine, job_id: int) -> JobRecord | None:
    """Mark a queued job running (attempts + 1) and return it; None when it is finished, cancelled or gone.

    A job found ``running`` is claimed again too: its previous worker died (the broker redelivered the task).
    The row is locked for the update, so two workers never both claim one delivery.
    """
    now = datetime.now(UTC)
    with Session(engine) as session, session.begin():
        row = session.scalar(select(Job).where(Job.id == job_id).with_for_update())
        if row is None or JobStatus(row.status).finished:
            return None
        row.status = str(JobStatus.RUNNING)
        row.attempts += 1
        row.started_at = row.started_at or now
        row.heartbeat_at = now
        row.error = None
        session.flush()
        return _record(row)


def progress(engine: Engine, job_id: int, *, stage: str, done: int, total: int) -> None:
    """Record where a running job is (also its heartbeat)."""
    with Session(engine) as session, session.begin():
        session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == str(JobStatus.RUNNING))
            .values(stage=stage, progress_done=done, progress_total=total, heartbeat_at=datetime.now(UTC))
        )


def finish_in(
    session: Session,
    job_id: int,
    status: JobStatus,
    *,
    result: Mapping[str, Any] | None = None,
    error: str | None = None,
    timings_s: Mapping[str, float] | None = None,
    work: ModelWork | None = None,
) -> bool:
    """Set a running job's end state inside the caller's transaction (with its result rows). False when the job
    is no longer running (cancelled meanwhile): the caller then rolls back its rows.

    ``work`` (what the model did) is stored with it; its stage seconds join ``timings_s``.
    """
    if work is not None:
        timings_s = {**work.timings_s, **(timings_s or {})}
    changed = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == str(JobStatus.RUNNING))
        .values(
            status=str(status),
            result=None if result is None else dict(result),
            error=error,
            timings_s=None if timings_s is None else dict(timings_s),
            frames_decoded=None if work is None else work.frames_decoded,
            model_passes=None if work is None else work.model_passes,
            finished_at=datetime.now(UTC),
        )
    )
    return bool(changed.rowcount)  # type: ignore[attr-defined]


def fail(engine: Engine, job_id: int, error: str) -> None:
    """Mark a running job failed with a message (its own transaction)."""
    with Session(engine) as session, session.begin():
        finish_in(session, job_id, JobStatus.FAILED, error=error)


def cancel(engine: Engine, job_id: int, *, tenant: str | None = None) -> JobRecord:
    """Cancel a queued or running job (a finished one is returned unchanged).

    Raises:
        NotFoundError: no such job, or another tenant's.
    """
    with Session(engine) as session, session.begin():
        row = session.scalar(select(Job).where(Job.id == job_id).with_for_update())
        if row is None or (tenant is not None and row.tenant != tenant):
            raise NotFoundError(f"job {job_id} not found")
        if not JobStatus(row.status).finished:
            row.status = str(JobStatus.CANCELLED)
            row.finished_at = datetime.now(UTC)
        session.flush()
        return _record(row)


def is_cancelled(engine: Engine, job_id: int) -> bool:
    with Session(engine) as session:
        return session.scalar(select(Job.status).where(Job.id == job_id)) == str(JobStatus.CANCELLED)


def list_jobs(
    engine: Engine, *, tenant: str, status: JobStatus | None = None, limit: int = 50, before_id: int | None = None
) -> list[JobRecord]:
    """A tenant's jobs, newest first (``before_id``: the page after the one that ended at that id)."""
    query = select(Job).where(Job.tenant == tenant)
    if status is not None:
        query = query.where(Job.status == str(status))
    if before_id is not None:
        query = query.where(Job.id < before_id)
    with Session(engine) as session:
        return [_record(r) for r in session.scalars(query.order_by(Job.id.desc()).limit(limit))]


def requeue_stale(engine: Engine, *, older_than_s: float) -> tuple[list[int], list[int]]:
    """The sweeper: running jobs whose heartbeat is older than ``older_than_s`` go back to queued (returned first,
    for the caller to enqueue again), or fail when their attempts are spent (returned second)."""
    limit = datetime.now(UTC) - timedelta(seconds=older_than_s)
    requeued, failed = [], []
    with Session(engine) as session, session.begin():
        rows = session.scalars(
            select(Job)
            .where(Job.status == str(JobStatus.RUNNING), Job.heartbeat_at < limit)
            .with_for_update(skip_locked=True)
        ).all()
        for row in rows:
            if row.attempts >= row.max_attempts:
                row.status = str(JobStatus.FAILED)
                row.error = f"gave up after {row.attempts} attempts: the worker stopped answering each time"
                row.finished_at = datetime.now(UTC)
                failed.append(row.id)
            else:
                row.status = str(JobStatus.QUEUED)
                requeued.append(row.id)
    return requeued, failed


def latest_for_video(engine: Engine, video_id: int, kind: JobKind, *, tenant: str) -> JobRecord | None:
    """The newest job of this kind for a video (of this tenant), or None."""
    query = (
        select(Job)
        .where(Job.video_id == video_id, Job.kind == str(kind), Job.tenant == tenant)
        .order_by(Job.id.desc())
        .limit(1)
    )
    with Session(engine) as session:
        row = session.scalar(query)
        return None if row is None else _record(row)


def subtitle_files(engine: Engine, video_id: int) -> set[str]:
    """The subtitle files that a video's jobs name (``request.subtitles``: uploaded with it)."""
    query = select(Job.request["subtitles"].astext).where(Job.video_id == video_id, Job.request.has_key("subtitles"))
    with Session(engine) as session:
        return {path for path in session.scalars(query) if path}


def subtitle_file_in_use(engine: Engine, path: str) -> bool:
    """Whether any job (of any tenant) still names this subtitle file."""
    query = select(Job.id).where(Job.request["subtitles"].astext == path).limit(1)
    with Session(engine) as session:
        return session.scalar(query) is not None
