"""Scheduled batch ingestion: beat runs ``vidground.scan``, which turns each new file of the sources into a job.

A source is a folder glob (``/footage/**/*.mp4``, ``/footage/cam1``) or a manifest file (one path per line,
``vidground ingest --manifest``'s format). Each scan:

1. collects the files of every source (a source that cannot be read is recorded as such; the others go on),
2. hashes each file: content already in the index is ``known``; a file an unfinished ingest job already has is
   ``pending``; anything else gets one ingest job (``queued``),
3. records the run (an ``ingest_runs`` row) with one entry per file: path, outcome, job id, reason.
"""

from __future__ import annotations

import glob
import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from vidground import jobs
from vidground.errors import VidgroundError
from vidground.index.sql.models import IngestRun, Job
from vidground.index.store import IndexStore
from vidground.ingest import VIDEO_SUFFIXES, collect_videos, hash_file
from vidground.jobs import JobKind, JobStatus

logger = logging.getLogger(__name__)


class ScanOutcome(StrEnum):
    QUEUED = "queued"  # a new ingest job
    KNOWN = "known"  # its content is already in the index
    PENDING = "pending"  # an unfinished ingest job already has this file
    FAILED = "failed"  # the file (or its source) could not be read


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"


@dataclass(frozen=True)
class RunFile:
    path: str
    outcome: ScanOutcome
    job_id: int | None = None
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "outcome": str(self.outcome), "job_id": self.job_id, "reason": self.reason}


@dataclass(frozen=True)
class IngestRunRecord:
    id: int
    tenant: str
    status: RunStatus
    sources: tuple[str, ...]
    files: tuple[RunFile, ...]
    started_at: datetime
    finished_at: datetime | None

    def counts(self) -> dict[str, int]:
        """Files per outcome, e.g. ``{"known": 12, "queued": 2}``."""
        return dict(Counter(str(f.outcome) for f in self.files))

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tenant": self.tenant,
            "status": str(self.status),
            "sources": list(self.sources),
            "files": [f.to_json() for f in self.files],
            "counts": self.counts(),
            "started_at": self.started_at.isoformat(),
            "finished_at": None if self.finished_at is None else self.finished_at.isoformat(),
        }


def _record(row: IngestRun) -> IngestRunRecord:
    return IngestRunRecord(
        id=row.id,
        tenant=row.tenant,
        status=RunStatus(row.status),
        sources=tuple(row.sources),
        files=tuple(
            RunFile(f["path"], ScanOutcome(f["outcome"]), job_id=f.get("job_id"), reason=f.get("reason"))
            for f in row.files
        ),
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


def source_files(source: str) -> list[Path]:
    """The video files of one source: a manifest file's entries, or what a folder glob matches (folders it matches:
    their video files, all levels).

    Raises:
        ConfigError: a manifest that cannot be read, or a source that matches no video file.
    """
    path = Path(source)
    if path.is_file() and path.suffix.lower() not in VIDEO_SUFFIXES:
        return collect_videos([], manifest=path)
    matches = [Path(m) for m in sorted(glob.glob(source, recursive=True))]
    return collect_videos(matches or [path], recursive=True)


def scan(
    engine: Engine,
    store: IndexStore,
    *,
    sources: Sequence[str],
    tenant: str,
    options: Mapping[str, Any],
    params_hash: str,
    enqueue: Callable[[int], object],
) -> IngestRunRecord:
    """Scan the sources once (steps in the module docstring); ``enqueue(job_id)`` sends each new job."""
    with Session(engine) as session, session.begin():
        run = IngestRun(tenant=tenant, status=str(RunStatus.RUNNING), sources=list(sources), files=[])
        session.add(run)
        session.flush()
        run_id = run.id
    files: list[RunFile] = []
    seen: set[Path] = set()
    for source in sources:
        try:
            paths = source_files(source)
        except VidgroundError as exc:
            files.append(RunFile(source, ScanOutcome.FAILED, reason=str(exc)))
            continue
        for path in paths:
            if path.resolve() in seen:
                continue
            seen.add(path.resolve())
            files.append(_scan_file(engine, store, path, tenant=tenant, options=options, params_hash=params_hash,
                                    enqueue=enqueue))  # fmt: skip
    with Session(engine) as session, session.begin():
        row = session.get_one(IngestRun, run_id)
        row.files = [f.to_json() for f in files]
        row.status = str(RunStatus.SUCCEEDED)
        row.finished_at = datetime.now(UTC)
        session.flush()
        record = _record(row)
    logger.info("ingest run_id=%s %s", run_id, record.counts())
    return record


def _scan_file(
    engine: Engine,
    store: IndexStore,
    path: Path,
    *,
    tenant: str,
    options: Mapping[str, Any],
    params_hash: str,
    enqueue: Callable[[int], object],
) -> RunFile:
    resolved = str(path.resolve())
    try:
        content_hash, _ = hash_file(path)
    except VidgroundError as exc:
        return RunFile(resolved, ScanOutcome.FAILED, reason=str(exc))
    if store.find_video(content_hash, tenant=tenant) is not None:
        return RunFile(resolved, ScanOutcome.KNOWN)
    with Session(engine) as session:
        pending = session.scalar(
            select(Job.id).where(
                Job.tenant == tenant,
                Job.kind == str(JobKind.INGEST),
                Job.status.in_([str(JobStatus.QUEUED), str(JobStatus.RUNNING)]),
                Job.request["path"].astext == resolved,
            )
        )
    if pending is not None:
        return RunFile(resolved, ScanOutcome.PENDING, job_id=pending)
    job = jobs.create(engine, tenant=tenant, kind=JobKind.INGEST, video_id=None, request={"path": resolved},
                      options=options, params_hash=params_hash)  # fmt: skip
    enqueue(job.id)
    return RunFile(resolved, ScanOutcome.QUEUED, job_id=job.id)


def list_runs(engine: Engine, *, tenant: str | None = None, limit: int = 20) -> list[IngestRunRecord]:
    """The most recent ingestion runs, newest first (of one tenant, when given)."""
    query = select(IngestRun).order_by(IngestRun.id.desc()).limit(limit)
    if tenant is not None:
        query = query.where(IngestRun.tenant == tenant)
    with Session(engine) as session:
        return [_record(row) for row in session.scalars(query)]
