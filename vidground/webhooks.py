"""Job webhooks: the signed JSON a job's ``webhook_url`` receives when the job ends, and how a receiver checks it.

A delivery is ``POST webhook_url`` with the body :func:`payload` and two headers:

- ``X-Vidground-Timestamp``: unix seconds when it was sent (each retry is signed afresh);
- ``X-Vidground-Signature``: ``sha256=`` + hex HMAC-SHA256, keyed by the API key's webhook secret, over
  ``f"{timestamp}.".encode() + raw_body`` (:func:`sign`).

A receiver recomputes the signature over the raw bytes it received (not re-serialised JSON), compares in constant
time and refuses old timestamps, which stops a captured delivery from being replayed later (:func:`verify`, the
recipe in the README). Delivery itself (retries, backoff) is the workers' ``vidground.webhook`` task.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from vidground.index.sql.models import Job
from vidground.jobs import JobRecord

TIMESTAMP_HEADER = "X-Vidground-Timestamp"
SIGNATURE_HEADER = "X-Vidground-Signature"
SIGNATURE_PREFIX = "sha256="
DEFAULT_TOLERANCE_S = 300.0
SUMMARY_FIELDS = ("query", "found", "spans")  # of each locate answer; the raw model text and provenance stay out


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``f"{timestamp}.".encode() + body`` keyed by ``secret`` (UTF-8).

    Example: ``sign("s", 1700000000, b"{}")`` signs the bytes ``b'1700000000.{}'``.
    """
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def headers(secret: str, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
    """The headers of one delivery of ``body``: timestamp (now, unless given), signature and content type."""
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: str(ts),
        SIGNATURE_HEADER: SIGNATURE_PREFIX + sign(secret, ts, body),
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    now_s: float | None = None,
) -> bool:
    """Whether ``body`` with these ``headers`` was signed with ``secret`` within ``tolerance_s`` of now.

    Header names are matched in any case. False (never an exception) for a missing or malformed header, a
    timestamp further than ``tolerance_s`` from ``now_s`` (default: the clock), or a signature that differs
    (compared in constant time).
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    timestamp = lowered.get(TIMESTAMP_HEADER.lower(), "")
    signature = lowered.get(SIGNATURE_HEADER.lower(), "")
    if not timestamp.isdigit() or not signature.startswith(SIGNATURE_PREFIX):
        return False
    now = time.time() if now_s is None else now_s
    if abs(now - int(timestamp)) > tolerance_s:
        return False
    expected = SIGNATURE_PREFIX + sign(secret, int(timestamp), body)
    return hmac.compare_digest(expected.encode(), signature.encode())


def summary(result: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The part of a job's result a webhook carries: scalar fields and lists of scalars (an ingest's outcome,
    video id, counts) and, of a locate's ``results``, each query's ``found`` and ``spans``; nested objects
    (provenance) and the model's raw answers are left out — ``GET /v1/jobs/{id}`` has the whole result."""
    if result is None:
        return None
    out: dict[str, Any] = {}
    for key, value in result.items():
        if key == "webhook":
            continue  # the delivery record itself
        if key == "results" and isinstance(value, list):
            out[key] = [
                {f: item[f] for f in SUMMARY_FIELDS if f in item} for item in value if isinstance(item, Mapping)
            ]
        elif _scalar(value) or (isinstance(value, list) and all(_scalar(v) for v in value)):
            out[key] = value
    return out


def payload(job: JobRecord) -> bytes:
    """The JSON body of a job's webhook (UTF-8, keys sorted): id, kind, status, video_id, error, finished_at (ISO
    8601) and the result's :func:`summary`."""
    data = {
        "job_id": job.id,
        "kind": str(job.kind),
        "status": str(job.status),
        "video_id": job.video_id,
        "error": job.error,
        "finished_at": None if job.finished_at is None else job.finished_at.isoformat(),
        "result": summary(job.result),
    }
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def record_delivery(engine: Engine, job_id: int, outcome: Mapping[str, Any]) -> None:
    """Keep a delivery's outcome in the job's ``result["webhook"]`` (the rest of the result unchanged)."""
    with Session(engine) as session, session.begin():
        row = session.scalar(select(Job).where(Job.id == job_id).with_for_update())
        if row is not None:
            row.result = {**(row.result or {}), "webhook": dict(outcome)}
