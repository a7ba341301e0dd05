"""Webhook signatures: what a receiver's check (``webhooks.verify``) accepts and refuses, and the payload's shape."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime

from vidground import webhooks
from vidground.jobs import JobKind, JobRecord, JobStatus

SECRET = "3f" * 32
BODY = b'{"job_id":7,"status":"succeeded"}'
NOW_S = 1_700_000_000


def test_sign_is_hmac_sha256_over_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert webhooks.sign(SECRET, NOW_S, BODY) == expected
    assert webhooks.sign(SECRET, NOW_S + 1, BODY) != expected  # the timestamp is signed too


def test_headers_verify_with_the_same_secret_in_any_header_case() -> None:
    headers = webhooks.headers(SECRET, BODY, timestamp=NOW_S)
    assert headers["X-Vidground-Timestamp"] == str(NOW_S)
    assert headers["X-Vidground-Signature"].startswith("sha256=")
    assert webhooks.verify(SECRET, headers, BODY, now_s=NOW_S + 10)
    assert webhooks.verify(SECRET, {k.lower(): v for k, v in headers.items()}, BODY, now_s=NOW_S)


def test_verify_refuses_a_tampered_body_a_wrong_secret_and_a_forged_timestamp() -> None:
    headers = webhooks.headers(SECRET, BODY, timestamp=NOW_S)
    assert not webhooks.verify(SECRET, headers, BODY.replace(b"succeeded", b"failed"), now_s=NOW_S)
    assert not webhooks.verify("another secret", headers, BODY, now_s=NOW_S)
    moved = {**headers, "X-Vidground-Timestamp": str(NOW_S + 60)}  # replayed later with a fresh timestamp
    assert not webhooks.verify(SECRET, moved, BODY, now_s=NOW_S + 60)


def test_verify_refuses_old_or_future_timestamps_beyond_the_tolerance() -> None:
    headers = webhooks.headers(SECRET, BODY, timestamp=NOW_S)
    assert webhooks.verify(SECRET, headers, BODY, now_s=NOW_S + 300)
    assert not webhooks.verify(SECRET, headers, BODY, now_s=NOW_S + 301)
    assert not webhooks.verify(SECRET, headers, BODY, now_s=NOW_S - 301)
    assert webhooks.verify(SECRET, headers, BODY, now_s=NOW_S + 1000, tolerance_s=1000)


def test_verify_refuses_missing_or_malformed_headers() -> None:
    headers = webhooks.headers(SECRET, BODY, timestamp=NOW_S)
    assert not webhooks.verify(SECRET, {}, BODY, now_s=NOW_S)
    assert not webhooks.verify(SECRET, {**headers, "X-Vidground-Timestamp": "soon"}, BODY, now_s=NOW_S)
    bare = {**headers, "X-Vidground-Signature": headers["X-Vidground-Signature"].removeprefix("sha256=")}
    assert not webhooks.verify(SECRET, bare, BODY, now_s=NOW_S)


def _job(result: dict[str, object] | None, status: JobStatus = JobStatus.SUCCEEDED) -> JobRecord:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    return JobRecord(
        id=7, tenant="t", kind=JobKind.LOCATE, status=status, video_id=3, request={"api_key_id": 1}, options={},
        params_hash="-", stage=None, progress_done=0, progress_total=0, attempts=1, max_attempts=3,
        error=None if status is JobStatus.SUCCEEDED else "boom", result=result, webhook_url="http://x",
        created_at=when, started_at=when, finished_at=when,
    )  # fmt: skip


def test_payload_carries_the_job_and_a_summary_without_raw_answers_or_provenance() -> None:
    result = {
        "results": [{"query": "a dog", "found": True, "parsed": True, "spans": [{"start_s": 1.5, "end_s": 2.0,
                     "score": None}], "raw": ["x" * 10_000], "issues": []}],
        "provenance": {"model_id": "m", "frame_times_s": list(range(1000))},
        "webhook": {"delivered": False},
    }  # fmt: skip
    data = json.loads(webhooks.payload(_job(result)))
    assert data == {
        "job_id": 7, "kind": "locate", "status": "succeeded", "video_id": 3, "error": None,
        "finished_at": "2026-01-02T03:04:05+00:00",
        "result": {"results": [{"query": "a dog", "found": True, "spans": [{"start_s": 1.5, "end_s": 2.0,
                                                                             "score": None}]}]},
    }  # fmt: skip


def test_payload_of_a_failed_job_has_its_error_and_no_result() -> None:
    data = json.loads(webhooks.payload(_job(None, JobStatus.FAILED)))
    assert (data["status"], data["error"], data["result"]) == ("failed", "boom", None)
