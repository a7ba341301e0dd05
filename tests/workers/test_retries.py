"""Transient failures in a job: retried with backoff as new messages, CUDA out-of-memory once, then a clear failure.

The job path runs in this process against a real PostgreSQL database; the broker is replaced by a recorder of the
messages the task would send (``SentTasks``, a fake), and the failures come from work functions that raise them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from vidground import jobs
from vidground.jobs import JobKind, JobStatus
from vidground.settings import Settings
from workers import tasks
from workers.app import TaskName
from workers.runtime import WorkerRuntime

# torch's CUDA out-of-memory error, as the worker tells it apart: by name and module, without importing torch.
FakeCudaOutOfMemory = type("OutOfMemoryError", (RuntimeError,), {"__module__": "torch.cuda"})


@dataclass
class SentTasks:
    """A fake broker: records each ``send_task`` instead of publishing it."""

    calls: list[dict[str, Any]] = field(default_factory=list)

    def send_task(self, name: str, **kwargs: Any) -> None:
        self.calls.append({"name": name, **kwargs})


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch, engine: Any, worker_database: str) -> SentTasks:
    from vidground.cli_index import open_store

    recorder = SentTasks()
    monkeypatch.setattr(tasks, "app", recorder)
    rt = WorkerRuntime(Settings(database_url=worker_database), open_store(Settings(database_url=worker_database)),
                       embedder=None)  # type: ignore[arg-type]  # fmt: skip
    monkeypatch.setattr(tasks, "runtime", lambda: rt)
    return recorder


def _job(engine: Any, *, max_attempts: int = 3) -> jobs.JobRecord:
    return jobs.create(engine, tenant="default", kind=JobKind.LOCATE, video_id=None, request={"queries": ["q"]},
                       options={}, params_hash="-", max_attempts=max_attempts)  # fmt: skip


def _raising(exc: BaseException) -> Callable[..., None]:
    def work(*_: Any) -> None:
        raise exc

    return work


def test_cuda_out_of_memory_is_retried_once_then_fails_with_what_to_lower(sent: SentTasks, engine: Any) -> None:
    job = _job(engine)
    oom = _raising(FakeCudaOutOfMemory("CUDA out of memory. Tried to allocate 2.00 GiB"))

    tasks._run_job(TaskName.LOCATE, job.id, oom, retries=0, oom_retried=False)
    assert sent.calls == [{"name": "vidground.locate", "args": [job.id], "kwargs": {"retries": 1, "oom_retried": True},
                           "queue": "gpu", "countdown": 1.0}]  # fmt: skip
    assert jobs.get(engine, job.id).status is JobStatus.RUNNING  # waiting for its retry, not failed

    tasks._run_job(TaskName.LOCATE, job.id, oom, retries=1, oom_retried=True)
    record = jobs.get(engine, job.id)
    assert len(sent.calls) == 1
    assert record.status is JobStatus.FAILED
    assert record.error is not None and "out of GPU memory twice" in record.error
    assert "VIDGROUND_MAX_TOKENS" in record.error and "2.00 GiB" in record.error


def test_any_other_error_fails_the_job_at_once(sent: SentTasks, engine: Any) -> None:
    job = _job(engine)
    with pytest.raises(RuntimeError):
        tasks._run_job(TaskName.LOCATE, job.id, _raising(RuntimeError("CUDA error: device-side assert")),
                       retries=0, oom_retried=False)  # fmt: skip
    assert sent.calls == []
    assert jobs.get(engine, job.id).error == "internal error: RuntimeError: CUDA error: device-side assert"


def test_a_lost_database_is_retried_with_backoff_then_given_up(sent: SentTasks, engine: Any) -> None:
    job = _job(engine, max_attempts=1)
    gone = _raising(OperationalError("SELECT 1", None, Exception("server closed the connection unexpectedly")))
    for retries in range(tasks.TRANSIENT_RETRIES):
        tasks._run_job(TaskName.LOCATE, job.id, gone, retries=retries, oom_retried=False)
    assert [c["countdown"] for c in sent.calls] == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert [c["kwargs"]["retries"] for c in sent.calls] == [1, 2, 3, 4, 5]
    # Five claims of a job allowed one attempt: retries are not deaths, so it was not given up as dying each time.
    record = jobs.get(engine, job.id)
    assert (record.status, record.attempts) == (JobStatus.RUNNING, 5)

    tasks._run_job(TaskName.LOCATE, job.id, gone, retries=tasks.TRANSIENT_RETRIES, oom_retried=False)
    record = jobs.get(engine, job.id)
    assert len(sent.calls) == tasks.TRANSIENT_RETRIES
    assert record.status is JobStatus.FAILED
    assert record.error == (f"job {job.id}: gave up after 5 retries: database unavailable "
                            "(server closed the connection unexpectedly)")  # fmt: skip
