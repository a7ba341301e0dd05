"""The wire shapes of the API: one schema family per resource, built from the library's records, never the tables.

``from_record`` turns a library value (``VideoRecord``, ``JobRecord``, ``SearchHit``) into its public schema; list
endpoints wrap items with the cursor of the next page (``next_cursor``, None on the last page).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from vidground.index.records import OutcomeRecord, SearchHit, SegmentRecord, VideoRecord
from vidground.jobs import JobKind, JobRecord, JobStatus


class ErrorPublic(BaseModel):
    """Every error response: a stable machine code and a one-line message for people."""

    code: str = Field(examples=["not_found"])
    message: str = Field(examples=["video 7 not found"])


class VideoPublic(BaseModel):
    id: int
    content_hash: str
    status: str = Field(description="pending, indexed or failed")
    error: str | None
    size_bytes: int
    duration_s: float
    fps: float
    width: int
    height: int
    n_segments: int
    analyses: list[str]
    created_at: datetime

    @classmethod
    def from_record(cls, record: VideoRecord) -> VideoPublic:
        return cls(
            id=record.id,
            content_hash=record.content_hash,
            status=str(record.status),
            error=record.error,
            size_bytes=record.size_bytes,
            duration_s=record.duration_s,
            fps=record.fps,
            width=record.width,
            height=record.height,
            n_segments=record.n_segments,
            analyses=[str(a) for a in record.analyses],
            created_at=record.created_at,
        )


class VideoList(BaseModel):
    items: list[VideoPublic]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last page.")


class ProgressPublic(BaseModel):
    stage: str | None
    done: int
    total: int


class JobPublic(BaseModel):
    id: int
    kind: JobKind
    status: JobStatus
    video_id: int | None
    request: dict[str, Any]
    options: dict[str, Any]
    params_hash: str
    progress: ProgressPublic
    attempts: int
    error: str | None
    result: dict[str, Any] | None
    webhook_url: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def from_record(cls, record: JobRecord) -> JobPublic:
        request = {k: v for k, v in record.request.items() if k != "api_key_id"}  # internal: signs the webhook
        return cls(
            id=record.id,
            kind=record.kind,
            status=record.status,
            video_id=record.video_id,
            request=request,
            options=dict(record.options),
            params_hash=record.params_hash,
            progress=ProgressPublic(stage=record.stage, done=record.progress_done, total=record.progress_total),
            attempts=record.attempts,
            error=record.error,
            result=None if record.result is None else dict(record.result),
            webhook_url=record.webhook_url,
            created_at=record.created_at,
            started_at=record.started_at,
            finished_at=record.finished_at,
        )


class JobList(BaseModel):
    items: list[JobPublic]
    next_cursor: str | None


class VideoJobPublic(BaseModel):
    """A video just uploaded or imported, its ingest job, and whether that job went to a broker."""

    video: VideoPublic
    job: JobPublic
    created: bool = Field(description="False when the same content was already stored (deduplicated by sha256).")
    enqueued: bool = Field(
        description="Whether this request sent the job to a broker: false with no broker configured (the job stays"
        " queued) and for an earlier job of the same content, returned as it is."
    )


class FileUrlPublic(BaseModel):
    """A link to one video's file that needs no header, for a browser's ``<video src>``."""

    url: str = Field(description="Path of GET /v1/videos/{id}/file with a signed ?token=; Range requests work on it.")
    expires_at: datetime


class Enrichment(StrEnum):
    """Analyses an ingest job runs besides captions and subtitles when asked (the worker reads them from the job)."""

    SPEECH = "speech"
    OCR = "ocr"
    SHOTS = "shots"


class ImportRequest(BaseModel):
    """Import a file already on the server, under the configured import root."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1, max_length=4096, examples=["cameras/door/2026-12-01.mp4"])
    options: dict[str, Any] | None = Field(default=None, description="Knob overrides (vidground.options.KNOBS).")
    webhook_url: str | None = Field(default=None, max_length=2048, pattern=r"^https?://")
    enrich: list[Enrichment] = Field(
        default_factory=list, max_length=3, description="Extra analyses for the ingest job: speech, ocr, shots."
    )


class LocateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    queries: list[str] = Field(min_length=1, max_length=64, examples=[["a person opens a door"]])
    options: dict[str, Any] | None = Field(default=None, description="Knob overrides (vidground.options.KNOBS).")
    webhook_url: str | None = Field(default=None, max_length=2048, pattern=r"^https?://")


class LocateResponse(BaseModel):
    job: JobPublic
    enqueued: bool


class CaptionPublic(BaseModel):
    start_s: float
    end_s: float
    start_tc: str
    end_tc: str
    text: str


class CaptionList(BaseModel):
    video_id: int
    time_format: str
    captions: list[CaptionPublic]


class EventSpanPublic(BaseModel):
    start_s: float
    end_s: float
    score: float | None
    rank: int | None

    @classmethod
    def from_record(cls, segment: SegmentRecord) -> EventSpanPublic:
        return cls(start_s=segment.start_s, end_s=segment.end_s, score=segment.score, rank=segment.rank)


class QueryEventsPublic(BaseModel):
    query: str
    outcome: str | None = Field(description="found, not_found or unreadable; null for spans without an outcome row")
    spans: list[EventSpanPublic]
    issues: list[str]

    @classmethod
    def build(cls, query: str, outcome: OutcomeRecord | None, spans: list[SegmentRecord]) -> QueryEventsPublic:
        return cls(
            query=query,
            outcome=None if outcome is None else str(outcome.outcome),
            spans=[EventSpanPublic.from_record(s) for s in sorted(spans, key=lambda s: (s.rank or 0, s.start_s))],
            issues=[] if outcome is None else list(outcome.issues),
        )


class EventList(BaseModel):
    video_id: int
    queries: list[QueryEventsPublic]


class SearchHitPublic(BaseModel):
    video_id: int
    content_hash: str
    start_s: float
    end_s: float
    text: str
    source: str
    signals: list[str]
    score: float

    @classmethod
    def from_record(cls, hit: SearchHit) -> SearchHitPublic:
        return cls(
            video_id=hit.video_id,
            content_hash=hit.content_hash,
            start_s=hit.start_s,
            end_s=hit.end_s,
            text=hit.text,
            source=str(hit.source),
            signals=list(hit.signals),
            score=hit.score,
        )


class SearchPagePublic(BaseModel):
    query: str
    hits: list[SearchHitPublic]
    next_cursor: str | None


class HealthPublic(BaseModel):
    status: str
    checks: dict[str, str] = Field(default_factory=dict)
