"""What ``locate`` and ``caption`` return: frozen values, and their one JSON shape (``to_json``).

``to_json`` returns plain dicts, lists, strings and numbers, ready for ``json.dumps``; the CLI, the API and
the workers all write this shape::

    {"video", "duration_s",
     "results": [{"query", "found",
                  "spans": [{"start_s", "end_s", "score", "start_tc", "end_tc"}],
                  "raw", "issues"}],
     "provenance": {...}}

and for captions ``{"video", "duration_s", "captions": [{"start_s", "end_s", "text", "start_tc", "end_tc"}],
"raw", "issues", "provenance"}``. ``found`` is False both when the model says the event does not occur
(``issues`` empty) and when its answer could not be read (``issues`` says why); ``raw`` always holds the
model's answers as written.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from vidground.output.timecodes import TimeStyle, format_timecode
from vidground.timeline import Span


def _timecode(seconds: float, *, fps: float, style: TimeStyle | str) -> str:
    # hmsf needs a frame rate; the video's own rate is the one a timecode refers to.
    return format_timecode(seconds, fps=fps, style=style)


@dataclass(frozen=True)
class SpanResult:
    """One place where a query happens, in video seconds, with its score in [0, 1] and timecodes."""

    start_s: float
    end_s: float
    score: float | None
    start_tc: str
    end_tc: str

    @classmethod
    def from_span(cls, span: Span, *, fps: float, style: TimeStyle | str) -> SpanResult:
        """Add timecodes in ``style`` (at the video's ``fps``) to a span in video seconds.

        Raises:
            TimecodeError: unknown style, or ``hmsf`` with an unusable fps.
        """
        return cls(
            start_s=span.start_s,
            end_s=span.end_s,
            score=span.score,
            start_tc=_timecode(span.start_s, fps=fps, style=style),
            end_tc=_timecode(span.end_s, fps=fps, style=style),
        )

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # the fields, in order, are the wire shape


@dataclass(frozen=True)
class CaptionSpan:
    """One described event of a dense caption, in video seconds."""

    start_s: float
    end_s: float
    text: str
    start_tc: str
    end_tc: str

    @classmethod
    def from_span(cls, span: Span, *, fps: float, style: TimeStyle | str) -> CaptionSpan:
        """Add timecodes to a caption span (``text`` None becomes an empty string).

        Raises:
            TimecodeError: unknown style, or ``hmsf`` with an unusable fps.
        """
        return cls(
            start_s=span.start_s,
            end_s=span.end_s,
            text=span.text or "",
            start_tc=_timecode(span.start_s, fps=fps, style=style),
            end_tc=_timecode(span.end_s, fps=fps, style=style),
        )

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # the fields, in order, are the wire shape


@dataclass(frozen=True)
class PassInfo:
    """One model call: which part of the video it saw and how.

    ``kind`` is ``clip`` (the whole analysed range at the target fps), ``coarse`` (the whole range, thinned to
    fit one call, to find candidate windows) or ``window`` (one window at the target fps).
    """

    kind: str
    start_s: float
    end_s: float
    sample_fps: float
    n_frames: int
    n_tokens: int

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "sample_fps": self.sample_fps,
            "n_frames": self.n_frames,
            "n_tokens": self.n_tokens,
        }


@dataclass(frozen=True)
class Provenance:
    """Every knob that changed the result, and what the model was actually given.

    ``sample_fps`` is the first call's sampling rate; ``n_frames``/``n_tokens`` add up all calls;
    ``frame_times_s`` are the video times of every frame the model saw (sorted, each once); ``windows`` lists
    the ``[start_s, end_s]`` of the window calls (empty when one call covered the video); ``passes`` details
    each call.
    """

    vidground_version: str
    model_id: str
    model_revision: str | None
    prompt_version: str
    fps: float | None
    nframes: int | None
    max_frames: int
    max_tokens: int
    backend: str
    resize: str
    time_style: str
    passes: tuple[PassInfo, ...]
    frame_times_s: tuple[float, ...]

    @property
    def sample_fps(self) -> float | None:
        return self.passes[0].sample_fps if self.passes else None

    @property
    def n_frames(self) -> int:
        return sum(p.n_frames for p in self.passes)

    @property
    def n_tokens(self) -> int:
        return sum(p.n_tokens for p in self.passes)

    @property
    def windows(self) -> tuple[tuple[float, float], ...]:
        return tuple((p.start_s, p.end_s) for p in self.passes if p.kind == "window")

    def to_json(self) -> dict[str, Any]:
        return {
            "vidground_version": self.vidground_version,
            "model_id": self.model_id,
            "model_revision": self.model_revision,
            "prompt_version": self.prompt_version,
            "fps": self.fps,
            "nframes": self.nframes,
            "max_frames": self.max_frames,
            "max_tokens": self.max_tokens,
            "backend": self.backend,
            "resize": self.resize,
            "time_style": self.time_style,
            "sample_fps": self.sample_fps,
            "n_frames": self.n_frames,
            "n_tokens": self.n_tokens,
            "frame_times_s": list(self.frame_times_s),
            "windows": [list(w) for w in self.windows],
            "passes": [p.to_json() for p in self.passes],
        }


@dataclass(frozen=True)
class QueryResult:
    """The answer to one query: where it happens (ranked best first), or that it was not found, and why."""

    query: str
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


@dataclass(frozen=True)
class VideoResult:
    """Everything ``locate`` found in one video, one ``QueryResult`` per query in the order given."""

    video: str
    duration_s: float
    results: tuple[QueryResult, ...]
    provenance: Provenance

    def to_json(self) -> dict[str, Any]:
        return {
            "video": self.video,
            "duration_s": self.duration_s,
            "results": [r.to_json() for r in self.results],
            "provenance": self.provenance.to_json(),
        }


@dataclass(frozen=True)
class CaptionResult:
    """A dense caption of one video: described events in time order, and the raw answers they came from."""

    video: str
    duration_s: float
    captions: tuple[CaptionSpan, ...]
    raw: tuple[str, ...]
    issues: tuple[str, ...]
    provenance: Provenance

    def to_json(self) -> dict[str, Any]:
        return {
            "video": self.video,
            "duration_s": self.duration_s,
            "captions": [c.to_json() for c in self.captions],
            "raw": list(self.raw),
            "issues": list(self.issues),
            "provenance": self.provenance.to_json(),
        }
