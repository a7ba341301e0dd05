"""Hand a job to the workers: ``enqueue(job)`` sends its id to the job kind's Celery task over the broker.

The API never imports ``workers``: it names the tasks (``send_task``) on a Celery app that only knows the broker.
With no broker configured (``VIDGROUND_REDIS_URL`` unset) nothing is sent and the job stays queued in the database
until a worker or the sweeper picks it up; routes say so in their responses (``enqueued``).
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from vidground.jobs import JobKind, JobRecord

if TYPE_CHECKING:
    from celery import Celery

    from vidground.settings import Settings

logger = logging.getLogger(__name__)

# Task name and queue per job kind: the workers register these names (workers/), the API only sends them.
TASKS: dict[JobKind, tuple[str, str]] = {
    JobKind.INGEST: ("vidground.ingest", "gpu"),
    JobKind.LOCATE: ("vidground.locate", "gpu"),
}

_lock = threading.Lock()
_broker_url: str | None = None
_app: Celery | None = None


def broker_url(settings: Settings) -> str | None:
    """The broker the API sends to: ``redis_url`` when it was configured explicitly (env or argument), else None."""
    return settings.redis_url if "redis_url" in settings.model_fields_set and settings.redis_url else None


def configure(url: str | None) -> None:
    """Use this broker from now on (None: send nothing); called by ``create_app``."""
    global _broker_url, _app
    with _lock:
        if url != _broker_url:
            _broker_url, _app = url, None


def is_configured() -> bool:
    return _broker_url is not None


def _celery() -> Celery | None:
    global _app
    with _lock:
        if _broker_url is None:
            return None
        if _app is None:
            from celery import Celery

            _app = Celery("vidground-api", broker=_broker_url)
            _app.conf.update(broker_connection_retry_on_startup=False, broker_connection_max_retries=1)
        return _app


def enqueue(job: JobRecord) -> None:
    """Send the job's id to its task on its queue; nothing when no broker is configured (the job stays queued).

    Raises:
        Whatever the broker client raises when the broker cannot be reached (the job row stays queued).
    """
    app = _celery()
    if app is None:
        logger.info("no broker configured: job_id=%s stays queued", job.id)
        return
    name, queue = TASKS[job.kind]
    app.send_task(name, args=[job.id], queue=queue)
    logger.info("enqueued job_id=%s kind=%s task=%s queue=%s", job.id, job.kind, name, queue)
