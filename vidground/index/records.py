"""What the index stores and returns, as plain frozen values: no SQLAlchemy here (``index/sql`` knows the tables).

A video is a file identified by its content hash (per tenant). Each analysis of it (captions, standing queries,
subtitles) is keyed by what would make it different — kind, options hash, model and revision, prompt version and,
for queries, the query set — so re-running the same analysis is skipped and a different one replaces the old rows.
Its results are segments (a span of seconds with the text that describes it, or the query it answers) and, for
grounding, one outcome per query: "not found" is a result too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

DEFAULT_TENANT = "default"


class Source(StrEnum):
    """Where a segment's text came from."""

    CAPTION = "caption"
    QUERY_ANSWER = "query_answer"
    SUBTITLE = "subtitle"
    SPEECH = "speech"  # an utterance transcribed from the audio
    OCR = "ocr"  # text read on screen

    @classmethod
    def _missing_(cls, value: object) -> Source | None:
        return cls.QUERY_ANSWER if value == "answer" else None  # the short name users type


class AnalysisKind(StrEnum):
    CAPTION = "caption"
    LOCATE = "locate"
    SUBTITLES = "subtitles"
    SPEECH = "speech"
    OCR = "ocr"
    SHOTS = "shots"


class AnalysisStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class VideoStatus(StrEnum):
    PENDING = "pending"  # known, not (yet) analysed
    INDEXED = "indexed"  # every requested analysis stored
    FAILED = "failed"  # the last analysis failed; ``error`` says why


class QueryOutcome(StrEnum):
    FOUND = "found"
    NOT_FOUND = "not_found"  # the model said the event does not occur
    UNREADABLE = "unreadable"  # the model's answer could not be read (kept raw)


@dataclass(frozen=True)
class NewVideo:
    """A file to register: its content hash (sha256 hex of the bytes), where it is, and its probe facts."""

    content_hash: str
    path: str
    size_bytes: int
    duration_s: float
    fps: float
    width: int
    height: int
    probe: Mapping[str, Any]
    tenant: str = DEFAULT_TENANT


@dataclass(frozen=True)
class VideoRecord:
    """A stored video."""

    id: int
    tenant: str
    content_hash: str
    path: str
    size_bytes: int
    duration_s: float
    fps: float
    width: int
    height: int
    status: VideoStatus
    error: str | None
    created_at: datetime
    n_segments: int = 0
    analyses: tuple[AnalysisKind, ...] = ()


@dataclass(frozen=True)
class SegmentRecord:
    """One span of a video: ``text`` (caption, subtitle, speech, on-screen text) or ``query`` (the question it
    answers), in seconds. ``detail`` holds what a source knows beyond the text: a speech segment's words with
    their times (``{"words": [{"word", "start_s", "end_s", "p"}]}``), an on-screen text's box and confidence."""

    source: Source
    start_s: float
    end_s: float
    text: str | None = None
    query: str | None = None
    score: float | None = None
    rank: int | None = None
    detail: Mapping[str, Any] | None = None

    @property
    def searchable_text(self) -> str:
        """What full-text and vector search read: the text, or the query the span answers."""
        return self.text if self.text else (self.query or "")


@dataclass(frozen=True)
class OutcomeRecord:
    """The outcome of one standing query in a grounding analysis, with the model's answers as written."""

    query: str
    outcome: QueryOutcome
    raw: tuple[str, ...] = ()
    issues: tuple[str, ...] = ()


@dataclass(frozen=True)
class ShotRecord:
    """One shot of a video: ``[start_s, end_s)`` in seconds and the source frame it starts at."""

    start_s: float
    end_s: float
    start_frame: int


@dataclass(frozen=True)
class AnalysisRecord:
    """One finished analysis of a video, ready to store in one transaction with its segments and outcomes."""

    kind: AnalysisKind
    analysis_key: str
    params_hash: str | None
    options: Mapping[str, Any] | None
    model_id: str | None
    model_revision: str | None
    provenance: Mapping[str, Any] | None
    timings_s: Mapping[str, float] = field(default_factory=dict)
    segments: tuple[SegmentRecord, ...] = ()
    outcomes: tuple[OutcomeRecord, ...] = ()
    shots: tuple[ShotRecord, ...] = ()


def analysis_key(
    kind: AnalysisKind,
    *,
    params_hash: str | None,
    model_id: str | None,
    model_revision: str | None = None,
    prompt_version: str | None = None,
    queries: Sequence[str] = (),
    extra: Mapping[str, Any] | None = None,
) -> str:
    """The "same analysis" key: sha256 of everything that would make its rows different.

    Example: captions of the same file with the same options and model give the same key, so a second ingest
    skips them; ``--fps 1`` changes ``params_hash`` and with it the key, so the new captions replace the old.
    """
    data = {
        "kind": str(kind),
        "params_hash": params_hash,
        "model_id": model_id,
        "model_revision": model_revision,
        "prompt_version": prompt_version,
        "queries": sorted(queries),
        "extra": dict(extra or {}),
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True)
class SearchHit:
    """A place in a video that matches a search: the span, the text that matched, which signals found it."""

    video_id: int
    video_path: str
    content_hash: str
    start_s: float
    end_s: float
    text: str
    source: Source
    signals: tuple[str, ...]  # "text" (full-text match), "vector" (semantic neighbour), or both
    score: float  # reciprocal-rank fusion score, higher is better
    fps: float = 0.0
