"""The Celery app of vidground's workers: queues, routes and the settings that make a long GPU job safe.

Why each setting (``../shared/design/service.md`` section 6):

- ``task_acks_late`` with ``worker_prefetch_multiplier=1``: a message is acknowledged only after its task ends,
  and a worker holds no second message while a long job runs (another worker may take it).
- ``task_reject_on_worker_lost``: a task whose process died (SIGKILL, out of memory) goes back to the queue. That
  alone loops forever on a job that kills its worker; the job row's ``attempts`` (``jobs.claim`` adds one, the
  task gives up past ``max_attempts``) ends the loop.
- prefork with the ``spawn`` start method: each pool process is a fresh interpreter, so nothing the parent did (it
  never imports torch) leaks into CUDA; ``max_tasks_per_child`` recycles a process, returning its memory.
- soft and hard time limits from the settings (enforced only by prefork, not ``solo`` or ``threads``); the Redis
  ``visibility_timeout`` is the hard limit plus a margin, else Redis hands a still-running job to another worker.
- transient failures (database, CUDA out of memory once) are retried by :mod:`workers.tasks` with backoff; a
  publish that meets a broker blip is retried by Celery (``task_publish_retry_policy``).

Configuration is read from :class:`~vidground.settings.Settings` when Celery first needs it, not at import:
``celery -A workers.app worker`` and ``vidground worker`` both work, and importing this module reads no environment
and never imports torch (``tests/workers/test_app.py``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from celery import Celery
from kombu.entity import Exchange, Queue

if TYPE_CHECKING:
    from vidground.settings import Settings


class QueueName(StrEnum):
    GPU = "gpu"  # model work: ingest (captions, standing queries), locate
    CPU = "cpu"  # no model: sweeping, scanning the ingest sources, webhooks


class TaskName(StrEnum):
    INGEST = "vidground.ingest"
    LOCATE = "vidground.locate"
    SWEEP = "vidground.sweep"
    SCAN = "vidground.scan"
    WEBHOOK = "vidground.webhook"


ROUTES: dict[TaskName, QueueName] = {
    TaskName.INGEST: QueueName.GPU,
    TaskName.LOCATE: QueueName.GPU,
    TaskName.SWEEP: QueueName.CPU,
    TaskName.SCAN: QueueName.CPU,
    TaskName.WEBHOOK: QueueName.CPU,
}


def celery_config(settings: Settings) -> dict[str, Any]:
    """The Celery configuration for these settings (plain values; the app reads them lazily)."""
    beat_schedule: dict[str, dict[str, Any]] = {
        "sweep-stale-jobs": {"task": str(TaskName.SWEEP), "schedule": settings.sweep_interval_s},
    }
    if settings.ingest_sources:
        beat_schedule["scan-ingest-sources"] = {"task": str(TaskName.SCAN), "schedule": settings.ingest_interval_s}
    visibility_s = settings.task_time_limit_s + settings.visibility_margin_s
    return {
        "broker_url": settings.redis_url,
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": {
            "visibility_timeout": visibility_s,
            # How often a worker returns the messages of dead workers (older than the visibility timeout) to their
            # queue: kombu's default sweep is about every 100 s, whatever the timeout.
            "unacked_restore_interval": max(1, min(60, int(visibility_s // 10))),
            "unacked_restore_throttle": 1,
        },
        # A publish (enqueueing a job, a retry, a webhook) that meets a broker blip tries again: 0.5, 1.5, 2.5 ... s.
        "task_publish_retry": True,
        "task_publish_retry_policy": {"max_retries": 5, "interval_start": 0.5, "interval_step": 1.0, "interval_max": 5},
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "task_ignore_result": True,  # the job row is the result
        # Each queue its own exchange and routing key: a bare Queue(name) binds to the default exchange with an
        # empty key, and Redis then lists both queues under one binding.
        "task_queues": [Queue(str(q), Exchange(str(q)), routing_key=str(q)) for q in QueueName],  # type: ignore[no-untyped-call]
        "task_default_queue": str(QueueName.CPU),
        "task_routes": {str(task): {"queue": str(queue)} for task, queue in ROUTES.items()},
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "worker_pool": "prefork",
        "worker_pool_start_method": "spawn",
        "worker_concurrency": settings.worker_concurrency,
        "worker_max_tasks_per_child": settings.worker_max_tasks_per_child,
        "task_soft_time_limit": settings.task_soft_time_limit_s,
        "task_time_limit": settings.task_time_limit_s,
        "worker_hijack_root_logger": False,
        "beat_schedule": beat_schedule,
        "timezone": "UTC",
    }


def _config_from_environment() -> dict[str, Any]:
    from vidground.settings import Settings

    return celery_config(Settings())


app = Celery("vidground", include=["workers.tasks"])
app.add_defaults(_config_from_environment)  # a promise: evaluated on first use of the configuration


def enqueue(task: TaskName, job_id: int) -> str:
    """Send a job's task to its queue (the task receives only the job id) and return the Celery task id."""
    result = app.send_task(str(task), args=[job_id], queue=str(ROUTES[task]))
    return str(result.id)
