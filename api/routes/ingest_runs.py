"""``/v1/ingest-runs``: the scheduled scans of the configured sources (Celery beat), newest first, per tenant."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.deps import CurrentTenant, EngineDep
from api.schemas import ErrorPublic

router = APIRouter(prefix="/v1/ingest-runs", tags=["ingest"], responses={401: {"model": ErrorPublic}})


class IngestRunPublic(BaseModel):
    id: int
    status: str
    sources: list[str]
    counts: dict[str, int]  # files per outcome: queued, known, pending, failed
    files: list[dict[str, Any]]  # {path, outcome, job_id, reason}
    started_at: datetime
    finished_at: datetime | None


class IngestRunList(BaseModel):
    items: list[IngestRunPublic]


@router.get("")
def list_ingest_runs(
    engine: EngineDep, tenant: CurrentTenant, limit: Annotated[int, Query(ge=1, le=200)] = 20
) -> IngestRunList:
    """The caller's most recent scheduled ingestion runs with their per-file outcomes."""
    from workers.scan import list_runs  # the scan's own reader: plain SQL, no Celery or torch

    return IngestRunList(
        items=[
            IngestRunPublic(
                id=run.id,
                status=str(run.status),
                sources=list(run.sources),
                counts=run.counts(),
                files=[f.to_json() for f in run.files],
                started_at=run.started_at,
                finished_at=run.finished_at,
            )
            for run in list_runs(engine, tenant=tenant, limit=limit)
        ]
    )
