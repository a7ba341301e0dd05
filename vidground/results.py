"""What ``locate`` and ``caption`` return: frozen values of seconds, scores, texts and provenance.

Results are data: they hold no display strings (timecodes are made where output is rendered: ``render.py``, the
API's schemas) and each type reads back what it writes, ``T.from_json(x.to_json()) == x``. The JSON shape::

    {"video", "duration_s", "fps",
     "results": [{"query", "found", "parsed", "spans": [{"start_s", "end_s", "score"}], "raw", "issues"}],
     "provenance": {...}}

and for captions ``{"video", "duration_s", "fps", "captions": [{"start_s", "end_s", "text"}], "raw", "issues",
"provenance"}``. ``found`` is False both when the model says the event does not occur (``issues`` empty) and when
its answer could not be read (``parsed`` False, ``issues`` says why); ``raw`` always holds the model's answers as
written. ``fps`` is the video's frame rate, which ``hmsf`` timecodes need.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from vidground.options import AnalysisOptions, Task


class Stage(StrEnum):
    """Steps of an analysis, as progress callbacks and timings name them."""

    PROBE = "probe"
    DECODE = "decode"
    ENCODE = "encode"
    GENERATE = "generate"
    SHOTS = "shots"  # shot detection (snapping, ingest)
    SPEECH = "speech"  # transcription (ingest)
    OCR = "ocr"  # on-screen text (ingest)
    VIDEOS = "videos"  # vidground eval --videos: one step per video


class PassKind(StrEnum):
    """What one model call saw: the whole range at the target fps (``clip``), the whole range thinned to find
    candidates (``coarse``), or one window at the target fps (``window``)."""

    CLIP = "clip"
    COARSE = "coarse"
    WINDOW = "window"


def _opt_float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


@dataclass(frozen=True)
class SpanResult:
    """One place where a query happens, in video seconds, with its score in [0, 1] (None: no token scores).

    A span snapped onto shot cuts (``--snap shots``) keeps the times the model gave in ``unsnapped_start_s`` and
    ``unsnapped_end_s``; they are None (and absent from the JSON) when snapping was off.
    """

    start_s: float
    end_s: float
    score: float | None
    unsnapped_start_s: float | None = None
    unsnapped_end_s: float | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"start_s": self.start_s, "end_s": self.end_s, "score": self.score}
        if self.unsnapped_start_s is not None or self.unsnapped_end_s is not None:
            data["unsnapped_start_s"] = self.unsnapped_start_s
            data["unsnapped_end_s"] = self.unsnapped_end_s
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SpanResult:
        return cls(
            float(data["start_s"]),
            float(data["end_s"]),
            _opt_float(data.get("score")),
            unsnapped_start_s=_opt_float(data.get("unsnapped_start_s")),
            unsnapped_end_s=_opt_float(data.get("unsnapped_end_s")),
        )


@dataclass(frozen=True)
class CaptionSpan:
    """One described event of a dense caption, in video seconds."""

    start_s: float
    end_s: float
    text: str

    def to_json(self) -> dict[str, Any]:
        return {"start_s": self.start_s, "end_s": self.end_s, "text": self.text}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CaptionSpan:
        return cls(float(data["start_s"]), float(data["end_s"]), str(data.get("text") or ""))


@dataclass(frozen=True)
class PassInfo:
    """One model call: which part of the video it saw (seconds) and how (rate, frames, tokens)."""

    kind: PassKind
    start_s: float
    end_s: float
    sample_fps: float
    n_frames: int
    n_tokens: int

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": str(self.kind),
            "start_s": self.start_s,
            "end_s": self.end_s,
            "sample_fps": self.sample_fps,
            "n_frames": self.n_frames,
            "n_tokens": self.n_tokens,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PassInfo:
        return cls(
            kind=PassKind(data["kind"]),
            start_s=float(data["start_s"]),
            end_s=float(data["end_s"]),
            sample_fps=float(data["sample_fps"]),
            n_frames=int(data["n_frames"]),
            n_tokens=int(data["n_tokens"]),
        )


@dataclass(frozen=True)
class Provenance:
    """Every knob that changed the result, what the model was given, and how long each stage took.

    ``options`` holds every sampling, decoding and generation knob (its ``params_hash()`` is the index's "same
    analysis" key); ``start_s``/``end_s`` is the range actually analysed; ``passes`` details each model call;
    ``frame_times_s`` are the video times of every frame the model saw (sorted, each once); ``timings_s`` are
    wall seconds per stage, summed over passes. ``snap`` says how spans were moved onto shot cuts (the detector
    and its knobs, the tolerance, the cuts in seconds, how many ends moved), None when they were not.
    """

    task: Task
    vidground_version: str
    model_id: str
    model_revision: str | None
    device: str
    dtype: str | None
    attn_implementation: str | None
    prompt_version: str
    options: AnalysisOptions
    start_s: float
    end_s: float
    passes: tuple[PassInfo, ...]
    frame_times_s: tuple[float, ...]
    timings_s: Mapping[Stage, float] = field(default_factory=dict)
    snap: Mapping[str, Any] | None = None

    @property
    def batch_size(self) -> int:
        return self.options.generation.batch_size

    @property
    def sample_fps(self) -> float | None:
        """The first call's sampling rate."""
        return self.passes[0].sample_fps if self.passes else None

    @property
    def n_frames(self) -> int:
        return sum(p.n_frames for p in self.passes)

    @property
    def n_tokens(self) -> int:
        return sum(p.n_tokens for p in self.passes)

    @property
    def windows(self) -> tuple[tuple[float, float], ...]:
        """``(start_s, end_s)`` of the window calls (empty when one call covered the range)."""
        return tuple((p.start_s, p.end_s) for p in self.passes if p.kind is PassKind.WINDOW)

    def to_json(self) -> dict[str, Any]:
        """The fields, plus derived ``params_hash``, ``batch_size``, ``sample_fps``, ``n_frames``, ``n_tokens``
        and ``windows`` for readers that do not rebuild the value (``from_json`` ignores them)."""
        return {
            "task": str(self.task),
            "vidground_version": self.vidground_version,
            "model_id": self.model_id,
            "model_revision": self.model_revision,
            "device": self.device,
            "dtype": self.dtype,
            "attn_implementation": self.attn_implementation,
            "prompt_version": self.prompt_version,
            "options": self.options.to_json(),
            "params_hash": self.options.params_hash(),
            "batch_size": self.batch_size,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "sample_fps": self.sample_fps,
            "n_frames": self.n_frames,
            "n_tokens": self.n_tokens,
            "windows": [list(w) for w in self.windows],
            "passes": [p.to_json() for p in self.passes],
            "frame_times_s": list(self.frame_times_s),
            "timings_s": {str(stage): seconds for stage, seconds in self.timings_s.items()},
            **({} if self.snap is None else {"snap": dict(self.snap)}),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Provenance:
        return cls(
            task=Task(data["task"]),
            vidground_version=str(data["vidground_version"]),
            model_id=str(data["model_id"]),
            model_revision=data.get("model_revision"),
            device=str(data["device"]),
            dtype=data.get("dtype"),
            attn_implementation=data.get("attn_implementation"),
            prompt_version=str(data["prompt_version"]),
            options=AnalysisOptions.from_json(data["options"]),
            start_s=float(data["start_s"]),
            end_s=float(data["end_s"]),
            passes=tuple(PassInfo.from_json(p) for p in data.get("passes") or ()),
            frame_times_s=tuple(float(t) for t in data.get("frame_times_s") or ()),
            timings_s={Stage(k): float(v) for k, v in (data.get("timings_s") or {}).items()},
            snap=data.get("snap"),
        )


@dataclass(frozen=True)
class QueryResult:
    """The answer to one query: where it happens (ranked best first), or that it was not found, and why."""

    query: str  # as the user wrote it
    found: bool
    parsed: bool  # every answer was understood (spans, or an explicit "does not occur"); False: kept raw in issues
    spans: tuple[SpanResult, ...]
    raw: tuple[str, ...]  # the model's answers as written, in the order they were asked
    issues: tuple[str, ...]  # what was odd in them and what vidground did about it

    def to_json(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "found": self.found,
            "parsed": self.parsed,
            "spans": [s.to_json() for s in self.spans],
            "raw": list(self.raw),
            "issues": list(self.issues),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> QueryResult:
        return cls(
            query=str(data["query"]),
            found=bool(data["found"]),
            parsed=bool(data.get("parsed", True)),
            spans=tuple(SpanResult.from_json(s) for s in data.get("spans") or ()),
            raw=tuple(str(r) for r in data.get("raw") or ()),
            issues=tuple(str(i) for i in data.get("issues") or ()),
        )


@dataclass(frozen=True)
class VideoResult:
    """Everything ``locate`` found in one video, one ``QueryResult`` per query in the order given."""

    video: str
    duration_s: float
    fps: float
    results: tuple[QueryResult, ...]
    provenance: Provenance

    def to_json(self) -> dict[str, Any]:
        return {
            "video": self.video,
            "duration_s": self.duration_s,
            "fps": self.fps,
            "results": [r.to_json() for r in self.results],
            "provenance": self.provenance.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> VideoResult:
        return cls(
            video=str(data["video"]),
            duration_s=float(data["duration_s"]),
            fps=float(data["fps"]),
            results=tuple(QueryResult.from_json(r) for r in data["results"]),
            provenance=Provenance.from_json(data["provenance"]),
        )


@dataclass(frozen=True)
class CaptionResult:
    """A dense caption of one video: described events in time order, and the raw answers they came from."""

    video: str
    duration_s: float
    fps: float
    captions: tuple[CaptionSpan, ...]
    raw: tuple[str, ...]
    issues: tuple[str, ...]
    provenance: Provenance

    def to_json(self) -> dict[str, Any]:
        return {
            "video": self.video,
            "duration_s": self.duration_s,
            "fps": self.fps,
            "captions": [c.to_json() for c in self.captions],
            "raw": list(self.raw),
            "issues": list(self.issues),
            "provenance": self.provenance.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CaptionResult:
        return cls(
            video=str(data["video"]),
            duration_s=float(data["duration_s"]),
            fps=float(data["fps"]),
            captions=tuple(CaptionSpan.from_json(c) for c in data["captions"]),
            raw=tuple(str(r) for r in data.get("raw") or ()),
            issues=tuple(str(i) for i in data.get("issues") or ()),
            provenance=Provenance.from_json(data["provenance"]),
        )


AnyResult = VideoResult | CaptionResult


def result_from_json(data: Mapping[str, Any]) -> AnyResult:
    """Read either result type back by its task (``provenance.task``)."""
    if Task(data["provenance"]["task"]) is Task.CAPTION:
        return CaptionResult.from_json(data)
    return VideoResult.from_json(data)
