"""Operations: ``/healthz`` (the process answers), ``/readyz`` (database reachable and at migration head, broker
reachable when one is configured), ``/metrics`` (Prometheus text)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from api import queue
from api.deps import EngineDep, SettingsDep
from api.schemas import HealthPublic

logger = logging.getLogger(__name__)
router = APIRouter(tags=["operations"])

BROKER_TIMEOUT_S = 1.0


@router.get("/healthz")
def healthz() -> HealthPublic:
    """The process is up (says nothing about the database: see /readyz)."""
    return HealthPublic(status="ok")


def _checks(engine: EngineDep, settings: SettingsDep) -> dict[str, str]:
    from vidground.index.sql import migrate

    checks: dict[str, str] = {}
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
        current, head = migrate.current_revision(engine), migrate.head_revision()
        checks["migrations"] = "ok" if current == head else f"at {current or 'none'}, head is {head}"
    except Exception as exc:  # reported, not raised: readiness is the answer, not an error
        logger.warning("readyz: database check failed: %s", exc)
        checks["database"] = f"unreachable: {type(exc).__name__}"
    url = queue.broker_url(settings)
    if url is None:
        checks["broker"] = "not configured"
    else:
        try:
            import redis

            redis.Redis.from_url(url, socket_connect_timeout=BROKER_TIMEOUT_S, socket_timeout=BROKER_TIMEOUT_S).ping()
            checks["broker"] = "ok"
        except Exception as exc:  # as above
            logger.warning("readyz: broker check failed: %s", exc)
            checks["broker"] = f"unreachable: {type(exc).__name__}"
    return checks


@router.get("/readyz", responses={503: {"model": HealthPublic}})
async def readyz(engine: EngineDep, settings: SettingsDep) -> JSONResponse:
    """Ready to serve: 200 when every check is ``ok`` (or the broker is not configured), else 503."""
    checks = await run_in_threadpool(_checks, engine, settings)
    ready = all(v in ("ok", "not configured") for v in checks.values())
    body = HealthPublic(status="ready" if ready else "not ready", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


@router.get("/metrics", response_class=Response)
def metrics(request: Request) -> Response:
    """Prometheus metrics: requests by route and status, jobs by state, queue depth (with a broker)."""
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
