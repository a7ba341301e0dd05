"""``/v1/jobs``: a tenant's jobs (status, stage, progress, result, error), one page at a time, and cancelling one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import CurrentTenant, EngineDep, JobId
from api.pagination import DEFAULT_LIMIT, MAX_LIMIT, make_cursor, read_cursor
from api.schemas import ErrorPublic, JobList, JobPublic
from vidground import jobs
from vidground.jobs import JobStatus

router = APIRouter(
    prefix="/v1/jobs",
    tags=["jobs"],
    responses={401: {"model": ErrorPublic}, 404: {"model": ErrorPublic}},
)


@router.get("")
def list_jobs(
    engine: EngineDep,
    tenant: CurrentTenant,
    status: JobStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> JobList:
    """The caller's jobs, newest first."""
    records = jobs.list_jobs(
        engine, tenant=tenant, status=status, limit=limit + 1, before_id=read_cursor("jobs", cursor)
    )
    page = records[:limit]
    more = len(records) > limit
    return JobList(
        items=[JobPublic.from_record(r) for r in page],
        next_cursor=make_cursor("jobs", page[-1].id) if more else None,
    )


@router.get("/{job_id}")
def get_job(job_id: JobId, engine: EngineDep, tenant: CurrentTenant) -> JobPublic:
    """One job: status, stage and progress, result or error."""
    return JobPublic.from_record(jobs.get(engine, job_id, tenant=tenant))


@router.post("/{job_id}/cancel")
def cancel_job(job_id: JobId, engine: EngineDep, tenant: CurrentTenant) -> JobPublic:
    """Cancel a queued or running job (a running task stops at its next step); a finished job is returned as is."""
    return JobPublic.from_record(jobs.cancel(engine, job_id, tenant=tenant))
