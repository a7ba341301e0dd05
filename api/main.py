"""The REST API: ``create_app(settings)`` builds the FastAPI app; ``uvicorn --factory api.main:app_from_env`` serves it.

Errors are mapped once, here: a :class:`~vidground.errors.VidgroundError` becomes JSON ``{code, message}`` with its
``http_status`` (404 for ``NotFoundError``, 401 for ``AuthenticationError``, ...); a request that fails validation
is a 422 in the same shape; anything else is a 500 with a generic message and a logged traceback (never one in the
body).

The API process never imports torch, transformers or the pipeline: it stores files, writes job rows and reads
results. Two paths load more, on their first use: ``GET /v1/search`` loads the sentence embedder's NumPy runtime to
embed the query, and uploads probe files with PyAV.
"""

from __future__ import annotations

import logging
import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import queue
from api.metrics import JobsCollector, Metrics, MetricsMiddleware
from api.routes import export, ingest_runs, jobs, media, ops, search, videos, web
from vidground.errors import VidgroundError
from vidground.settings import Settings

logger = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    401: "authentication",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    416: "range_not_satisfiable",
    422: "invalid_request",
}


def error_code(exc: VidgroundError) -> str:
    """A stable code from the error's type: ``NotFoundError`` -> ``not_found``, ``VideoDecodeError`` ->
    ``video_decode``, ``DatabaseUnavailable`` -> ``database_unavailable``."""
    name = type(exc).__name__.removesuffix("Error") or "vidground"
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    """The first problems of a request, one line: ``query.limit: Input should be less than or equal to 1000``."""
    parts = []
    for error in exc.errors()[:3]:
        where = ".".join(str(x) for x in error.get("loc", ()))
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def create_app(settings: Settings) -> FastAPI:
    """The API over the index these settings name (the embedded database is started and migrated if unset).

    Raises:
        ConfigError: the database cannot be reached, lacks pgvector, or (configured) is not at migration head.
    """
    from vidground.cli_index import open_store

    store = open_store(settings)
    metrics = Metrics()
    broker = queue.broker_url(settings)
    queue.configure(broker)
    metrics.registry.register(JobsCollector(store.engine, broker))

    app = FastAPI(
        title="vidground",
        summary="Upload videos, ground event queries in them, search what they show.",
        version="1",
    )
    app.state.settings = settings
    app.state.store = store
    app.state.metrics = metrics
    app.state.embedder = None
    app.state.query_vectors = None
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    @app.exception_handler(VidgroundError)
    async def vidground_error(request: Request, exc: VidgroundError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.http_status == 401 else None
        return _error(exc.http_status, error_code(exc), str(exc), headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(422, "invalid_request", _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return _error(exc.status_code, code, str(exc.detail), dict(exc.headers or {}) or None)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unexpected failure on %s %s", request.method, request.url.path)
        return _error(500, "internal", "internal error; the server log has the details")

    for module in (videos, export, media, jobs, ingest_runs, search, ops, web):
        app.include_router(module.router)
    app.mount("/static", web.static_files(), name="static")
    return app


def app_from_env() -> FastAPI:
    """The app with settings from ``VIDGROUND_*`` (for ``uvicorn --factory api.main:app_from_env``)."""
    return create_app(Settings())
