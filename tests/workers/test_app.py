"""The Celery app's configuration and what importing it costs (no torch, no environment read)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from vidground.settings import Settings
from workers.app import ROUTES, QueueName, TaskName, celery_config

REPO = Path(__file__).resolve().parents[2]


def test_importing_the_app_and_its_tasks_imports_no_torch_and_reads_no_settings() -> None:
    code = (
        "import sys, workers.app, workers.tasks; "
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin",
                               "VIDGROUND_TASK_TIME_LIMIT_S": "-1"})  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_config_makes_long_jobs_safe() -> None:
    settings = Settings(task_soft_time_limit_s=100, task_time_limit_s=120, visibility_margin_s=30,
                        worker_max_tasks_per_child=7, redis_url="redis://example:6379/3")  # fmt: skip
    config = celery_config(settings)
    assert config["broker_url"] == "redis://example:6379/3"
    assert config["task_acks_late"] is True and config["task_reject_on_worker_lost"] is True
    assert config["worker_prefetch_multiplier"] == 1
    assert (config["worker_pool"], config["worker_pool_start_method"]) == ("prefork", "spawn")
    assert (config["task_soft_time_limit"], config["task_time_limit"]) == (100, 120)
    assert config["worker_max_tasks_per_child"] == 7
    assert config["broker_transport_options"]["visibility_timeout"] == 150  # above the hard limit
    assert config["task_serializer"] == "json" and config["accept_content"] == ["json"]
    assert config["task_routes"]["vidground.locate"] == {"queue": "gpu"}
    assert config["task_routes"]["vidground.sweep"] == {"queue": "cpu"}
    assert {q.name for q in config["task_queues"]} == {"gpu", "cpu"}
    assert ROUTES[TaskName.INGEST] is QueueName.GPU


def test_beat_scans_only_when_there_are_sources() -> None:
    assert set(celery_config(Settings())["beat_schedule"]) == {"sweep-stale-jobs"}
    schedule = celery_config(Settings(ingest_sources=["/data/*.mp4"], ingest_interval_s=60))["beat_schedule"]
    assert schedule["scan-ingest-sources"] == {"task": "vidground.scan", "schedule": 60}


def test_a_soft_limit_not_below_the_hard_limit_is_refused() -> None:
    with pytest.raises(ValidationError, match="SOFT_TIME_LIMIT_S"):
        Settings(task_soft_time_limit_s=3900, task_time_limit_s=3900)
