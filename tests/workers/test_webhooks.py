"""A locate job's webhook through a real worker: a receiver that fails once gets a retry, signed with the key's
secret."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.workers.conftest import WorkerProcess, send, wait_for_job
from vidground import jobs, keys, webhooks
from vidground.jobs import JobKind, JobStatus

pytestmark = pytest.mark.slow


@dataclass
class Receiver:
    """A local HTTP endpoint that answers each POST with the next of ``codes`` (then 200) and keeps what it got."""

    codes: list[int]
    url: str = ""
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def receiver(request: pytest.FixtureRequest) -> Iterator[Receiver]:
    got = Receiver(codes=list(getattr(request, "param", [500])))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            got.received.append((dict(self.headers.items()), body))
            self.send_response(got.codes.pop(0) if got.codes else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    got.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield got
    server.shutdown()
    server.server_close()


# A Redis database of this module's own: a retry is a new message, which any worker on the shared test database
# (db 15: other modules' workers, other checkouts' test runs) could take and drop as an unknown task.
WEBHOOK_REDIS_URL = f"redis://127.0.0.1:6379/{int(os.environ.get('VIDGROUND_TEST_REDIS_DB', '15')) - 1}"


@pytest.fixture(scope="module")
def redis_client(redis_client: Any) -> Iterator[Any]:
    import redis

    client = redis.Redis.from_url(WEBHOOK_REDIS_URL)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture(scope="module")
def worker_env(worker_env: dict[str, str]) -> dict[str, str]:
    return {**worker_env, "VIDGROUND_REDIS_URL": WEBHOOK_REDIS_URL, "VIDGROUND_WEBHOOK_RETRY_BASE_S": "0.2"}


@pytest.fixture(scope="module")
def producer(redis_client: Any) -> Any:
    from celery import Celery

    from vidground.settings import Settings
    from workers.app import celery_config

    app = Celery("vidground-webhook-tests")
    app.conf.update(celery_config(Settings(redis_url=WEBHOOK_REDIS_URL)))
    return app


@pytest.fixture(scope="module")
def worker(start_worker: Callable[..., WorkerProcess]) -> WorkerProcess:
    return start_worker()


@pytest.fixture(scope="module")
def video_id(worker: WorkerProcess, producer: Any, engine: Any, bikes_video: Path) -> int:
    """A video in the index (ingested without the model: no captions, no queries)."""
    ingest = jobs.create(engine, tenant="default", kind=JobKind.INGEST, video_id=None,
                         request={"path": str(bikes_video), "captions": False, "queries": []},
                         options={}, params_hash="-")  # fmt: skip
    send(producer, "vidground.ingest", ingest.id)
    ingested, _ = wait_for_job(engine, ingest.id, worker=worker)
    assert ingested.result is not None, (ingested.error, worker.log())
    return int(ingested.result["video_id"])


def _locate(engine: Any, video_id: int, queries: list[str], *, key_id: int, url: str) -> jobs.JobRecord:
    return jobs.create(engine, tenant="default", kind=JobKind.LOCATE, video_id=video_id,
                       request={"queries": queries, "api_key_id": key_id}, options={}, params_hash="-",
                       webhook_url=url)  # fmt: skip


def _delivery(engine: Any, job_id: int, *, timeout_s: float = 30.0) -> dict[str, Any]:
    """The job's webhook record once it is final (delivered, or not retrying)."""
    delivery: dict[str, Any] = {}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        delivery = (jobs.get(engine, job_id).result or {}).get("webhook") or {}
        if delivery and not delivery["retrying"]:
            break
        time.sleep(0.1)
    return delivery


def test_locate_job_webhook_is_retried_after_a_500_and_verifies_with_the_keys_secret(
    worker: WorkerProcess, producer: Any, engine: Any, video_id: int, receiver: Receiver
) -> None:
    key = keys.create(engine, tenant="default", name="hooks")
    job = _locate(engine, video_id, ["a person on a bike"], key_id=key.record.id, url=receiver.url)
    send(producer, "vidground.locate", job.id)
    record, _ = wait_for_job(engine, job.id, worker=worker)
    assert record.status is JobStatus.SUCCEEDED, (record.error, worker.log())

    delivery = _delivery(engine, job.id)
    assert delivery == {"delivered": True, "attempts": 2, "status_code": 200, "error": None, "retrying": False}, (
        worker.log()
    )
    assert len(receiver.received) == 2
    secret = keys.webhook_secret(engine, key.record.id)
    headers, body = receiver.received[-1]
    assert webhooks.verify(secret, headers, body)
    assert not webhooks.verify(secret, headers, body + b" ")
    assert body == receiver.received[0][1]  # the same payload, signed afresh
    data = webhooks.payload(jobs.get(engine, job.id))
    assert body == data  # what was sent is the job as it ended (the delivery record is not in the payload)
    assert b'"status":"succeeded"' in body and b'"a person on a bike"' in body


@pytest.mark.parametrize("receiver", [[404]], indirect=True)
def test_failed_job_webhook_is_sent_and_a_404_is_not_retried(
    worker: WorkerProcess, producer: Any, engine: Any, video_id: int, receiver: Receiver
) -> None:
    key = keys.create(engine, tenant="default", name="hooks-404")
    job = _locate(engine, video_id, [], key_id=key.record.id, url=receiver.url)  # no query: the job fails
    send(producer, "vidground.locate", job.id)
    record, _ = wait_for_job(engine, job.id, worker=worker)
    assert record.status is JobStatus.FAILED

    delivery = _delivery(engine, job.id)
    assert delivery == {"delivered": False, "attempts": 1, "status_code": 404, "error": "HTTP 404", "retrying": False}
    time.sleep(1.0)  # a retry would have come by now (base 0.2 s)
    assert len(receiver.received) == 1
    headers, body = receiver.received[0]
    assert webhooks.verify(key.webhook_secret, headers, body)
    assert b'"status":"failed"' in body and b"at least one query" in body
