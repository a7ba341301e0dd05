"""An indexed video's moments for editors: OpenTimelineIO, CMX 3600 EDL, SubRip, WebVTT or CSV. Pure: values in,
text out.

Every moment is a :class:`Marker` (seconds, a kind, a label). Formats:

- ``otio``: a timeline with one clip (the video file, at the video's own frame rate) carrying one marker per moment,
  coloured by kind (answers red, captions green, shots blue, speech yellow, on-screen text cyan, subtitles magenta).
- ``edl``: CMX 3600 through OpenTimelineIO's ``cmx_3600`` adapter (the ``otio-cmx3600-adapter`` package): one event
  per moment whose source in/out are the moment's frames, so an editor pulls them as selects; timecodes at the
  video's rate, drop-frame (``HH:MM:SS;FF``) at 29.97 and 59.94.
- ``srt``, ``vtt``: one cue per moment. ``csv``: one row per moment with seconds and SMPTE timecodes.

Times become frames at the video's rate by rounding to the nearest frame (a moment at 2.52 s at 25 fps starts on
frame 63 = 2.52 s; at 29.97 fps 2.52 s is frame 75.52, written as frame 76 = 2.5359 s): the exported times are
within half a frame of the index's.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from vidground.errors import ConfigError
from vidground.index.records import SegmentRecord, ShotRecord, Source
from vidground.output.timecodes import TimeStyle, format_timecode


class ExportWhat(StrEnum):
    """Which moments to export."""

    ANSWERS = "answers"
    CAPTIONS = "captions"
    SHOTS = "shots"
    SPEECH = "speech"
    OCR = "ocr"
    SUBTITLES = "subtitles"
    ALL = "all"


class ExportFormat(StrEnum):
    OTIO = "otio"
    EDL = "edl"
    SRT = "srt"
    VTT = "vtt"
    CSV = "csv"


MEDIA_TYPES = {
    ExportFormat.OTIO: "application/vnd.opentimelineio+json",
    ExportFormat.EDL: "text/plain",
    ExportFormat.SRT: "application/x-subrip",
    ExportFormat.VTT: "text/vtt",
    ExportFormat.CSV: "text/csv",
}

_KIND_OF_SOURCE = {
    Source.QUERY_ANSWER: ExportWhat.ANSWERS,
    Source.CAPTION: ExportWhat.CAPTIONS,
    Source.SPEECH: ExportWhat.SPEECH,
    Source.OCR: ExportWhat.OCR,
    Source.SUBTITLE: ExportWhat.SUBTITLES,
}
_COLOURS = {
    ExportWhat.ANSWERS: "RED",
    ExportWhat.CAPTIONS: "GREEN",
    ExportWhat.SHOTS: "BLUE",
    ExportWhat.SPEECH: "YELLOW",
    ExportWhat.OCR: "CYAN",
    ExportWhat.SUBTITLES: "MAGENTA",
}
CSV_FIELDS = ("kind", "start_s", "end_s", "start_tc", "end_tc", "label")


@dataclass(frozen=True)
class Marker:
    """One moment to export: seconds of the video, what kind of moment, and its label."""

    start_s: float
    end_s: float
    kind: ExportWhat
    label: str


@dataclass(frozen=True)
class VideoFacts:
    """What a timeline needs to know about the video: where it is, how long, at what rate."""

    path: str
    duration_s: float
    fps: float


def markers(
    segments: Sequence[SegmentRecord], shots: Sequence[ShotRecord], what: ExportWhat = ExportWhat.ALL
) -> list[Marker]:
    """The moments of one video to export, in time order: its stored segments of the wanted kinds, and its shots
    (``Shot 3``). An answer is labelled with its query and rank (``a door opens #1``)."""
    found: list[Marker] = []
    for segment in segments:
        kind = _KIND_OF_SOURCE[segment.source]
        if what in (kind, ExportWhat.ALL):
            found.append(Marker(segment.start_s, segment.end_s, kind, _label(segment)))
    if what in (ExportWhat.SHOTS, ExportWhat.ALL):
        found.extend(Marker(s.start_s, s.end_s, ExportWhat.SHOTS, f"Shot {n}") for n, s in enumerate(shots, start=1))
    return sorted(found, key=lambda m: (m.start_s, m.end_s, m.kind, m.label))


def _label(segment: SegmentRecord) -> str:
    if segment.source is Source.QUERY_ANSWER:
        rank = f" #{segment.rank}" if segment.rank is not None else ""
        return f"{segment.query or ''}{rank}"
    return " ".join((segment.text or "").split())


def export(moments: Sequence[Marker], video: VideoFacts, fmt: ExportFormat) -> str:
    """The moments in the chosen format (see the module docstring).

    Raises:
        ConfigError: the video's frame rate is not positive (OTIO and EDL need one).
    """
    if fmt is ExportFormat.SRT or fmt is ExportFormat.VTT:
        from vidground.render import srt_text, vtt_text

        cues = [(m.start_s, m.end_s, f"[{m.kind}] {m.label}") for m in moments]
        return srt_text(cues) if fmt is ExportFormat.SRT else vtt_text(cues)
    if fmt is ExportFormat.CSV:
        return _csv(moments, video.fps)
    if not video.fps > 0:
        raise ConfigError(f"{video.path}: frame rate {video.fps} is not positive; OTIO and EDL need one")
    import opentimelineio as otio

    timeline = _timeline(moments, video) if fmt is ExportFormat.OTIO else _selects(moments, video)
    if fmt is ExportFormat.OTIO:
        return str(otio.adapters.write_to_string(timeline, "otio_json"))
    return str(otio.adapters.write_to_string(timeline, "cmx_3600", rate=video.fps))


def _csv(moments: Sequence[Marker], fps: float) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    style = TimeStyle.HMSF if fps > 0 else TimeStyle.CLOCK
    for m in moments:
        tc = (format_timecode(t, fps=fps or None, style=style) for t in (m.start_s, m.end_s))
        writer.writerow([str(m.kind), m.start_s, m.end_s, *tc, m.label])
    return buffer.getvalue()


def _range(start_s: float, end_s: float, fps: float) -> Any:
    """``[start_s, end_s]`` as an OTIO time range of whole frames at ``fps`` (at least one frame long)."""
    from opentimelineio import opentime

    start = round(start_s * fps)
    frames = max(1, round(end_s * fps) - start)
    return opentime.TimeRange(opentime.RationalTime(start, fps), opentime.RationalTime(frames, fps))


def _reference(video: VideoFacts) -> Any:
    import opentimelineio as otio

    return otio.schema.ExternalReference(
        target_url=Path(video.path).absolute().as_uri() if os.path.isabs(video.path) else video.path,
        available_range=_range(0.0, video.duration_s, video.fps),
    )


def _timeline(moments: Sequence[Marker], video: VideoFacts) -> Any:
    """One track, one clip (the whole video at its own rate), one marker per moment."""
    import opentimelineio as otio

    name = Path(video.path).name
    whole = _range(0.0, video.duration_s, video.fps)
    clip = otio.schema.Clip(name=name, media_reference=_reference(video), source_range=whole)
    for m in moments:
        clip.markers.append(
            otio.schema.Marker(
                name=m.label, marked_range=_range(m.start_s, m.end_s, video.fps), color=_COLOURS[m.kind],
                metadata={"vidground": {"kind": str(m.kind), "start_s": m.start_s, "end_s": m.end_s}},
            )
        )  # fmt: skip
    timeline = otio.schema.Timeline(name=name)
    track = otio.schema.Track(name="V1")
    track.append(clip)
    timeline.tracks.append(track)
    return timeline


def _selects(moments: Sequence[Marker], video: VideoFacts) -> Any:
    """One track of one event per moment, its source range the moment's frames (an EDL of selects)."""
    import opentimelineio as otio

    timeline = otio.schema.Timeline(name=Path(video.path).name)
    track = otio.schema.Track(name="V1")
    for m in moments:
        track.append(
            otio.schema.Clip(
                name=f"{m.kind}: {m.label}"[:120], media_reference=_reference(video),
                source_range=_range(m.start_s, m.end_s, video.fps),
            )
        )  # fmt: skip
    timeline.tracks.append(track)
    return timeline


__all__ = ["MEDIA_TYPES", "ExportFormat", "ExportWhat", "Marker", "VideoFacts", "export", "markers"]
