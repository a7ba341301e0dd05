"""Render results as table, json, jsonl, srt, vtt or csv text. Pure: a typed result in, a string out.

This is where timecodes are made: results hold seconds, and ``time_style`` (seconds, clock or hmsf at the video's
own frame rate) decides how the table, JSON rows and CSV show them. SRT and VTT cues always use their formats'
own clock.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from vidground.output.timecodes import TimeStyle, format_timecode
from vidground.results import AnyResult, CaptionResult, QueryResult, SpanResult, VideoResult


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    JSONL = "jsonl"
    SRT = "srt"
    VTT = "vtt"
    CSV = "csv"


CSV_FIELDS = ("video", "query", "rank", "found", "start_s", "end_s", "score", "start_tc", "end_tc", "text")
FORMATS_WITHOUT_ISSUES = (OutputFormat.JSONL, OutputFormat.SRT, OutputFormat.VTT, OutputFormat.CSV)


@dataclass(frozen=True)
class _Row:
    """One flat output row: a ranked span of a query, a caption, or a query not found (no times)."""

    video: str
    query: str | None
    rank: int | None
    found: bool
    start_s: float | None
    end_s: float | None
    score: float | None
    text: str | None

    def fields(self, fps: float, style: TimeStyle) -> dict[str, Any]:
        return {
            "video": self.video,
            "query": self.query,
            "rank": self.rank,
            "found": self.found,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "score": self.score,
            "start_tc": None if self.start_s is None else format_timecode(self.start_s, fps=fps, style=style),
            "end_tc": None if self.end_s is None else format_timecode(self.end_s, fps=fps, style=style),
            "text": self.text,
        }


def _rows(result: AnyResult) -> Iterator[_Row]:
    """One row per span (locate: per query, ranked; caption: per caption); a row for a query not found."""
    if isinstance(result, CaptionResult):
        for rank, cap in enumerate(result.captions, start=1):
            yield _Row(result.video, None, rank, True, cap.start_s, cap.end_s, None, cap.text)
        return
    for answer in result.results:
        if not answer.spans:
            yield _Row(result.video, answer.query, None, False, None, None, None, None)
        for rank, span in enumerate(answer.spans, start=1):
            row = _Row(result.video, answer.query, rank, answer.found, span.start_s, span.end_s, span.score, None)
            yield dataclasses.replace(row, text=answer.query)


def _one_line(text: str) -> str:
    """Cue and table text on one line: a blank line ends an SRT/VTT cue early, and ``-->`` is a VTT timing line."""
    return " ".join(text.split()).replace("-->", "->")


def result_issues(result: AnyResult) -> list[str]:
    """Every issue of a result (what was odd in the model's answers), a locate issue prefixed by its query."""
    if isinstance(result, CaptionResult):
        return list(result.issues)
    return [f"{q.query!r}: {issue}" for q in result.results for issue in q.issues]


def _cues(result: AnyResult) -> list[tuple[float, float, str]]:
    cues = []
    for row in _rows(result):
        if row.start_s is None or row.end_s is None:
            continue
        text = _one_line(row.text or "")
        if row.query is not None and row.score is not None:
            text = f"{text} ({row.score:.2f})"
        cues.append((row.start_s, row.end_s, text))
    return sorted(cues)


def _srt_time(seconds: float) -> str:
    return format_timecode(seconds, style="clock").replace(".", ",")


def srt_text(cues: Sequence[tuple[float, float, str]]) -> str:
    """SubRip: numbered ``(start_s, end_s, text)`` cues, in the order given, each text on one line."""
    blocks = [
        f"{n}\n{_srt_time(start)} --> {_srt_time(end)}\n{_one_line(text)}\n"
        for n, (start, end, text) in enumerate(cues, start=1)
    ]
    return "\n".join(blocks)


def vtt_text(cues: Sequence[tuple[float, float, str]]) -> str:
    """WebVTT: ``(start_s, end_s, text)`` cues, in the order given, each text on one line."""
    blocks = [
        f"{format_timecode(start, style='clock')} --> {format_timecode(end, style='clock')}\n{_one_line(text)}\n"
        for start, end, text in cues
    ]
    return "WEBVTT\n\n" + "\n".join(blocks)


def render_srt(result: AnyResult) -> str:
    return srt_text(_cues(result))


def render_vtt(result: AnyResult) -> str:
    return vtt_text(_cues(result))


def render_csv(result: AnyResult, style: TimeStyle = TimeStyle.SECONDS) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in _rows(result):
        writer.writerow(row.fields(result.fps, style))
    return buffer.getvalue()


def render_jsonl(result: AnyResult, style: TimeStyle = TimeStyle.SECONDS) -> str:
    return "".join(json.dumps(row.fields(result.fps, style)) + "\n" for row in _rows(result))


def render_json(result: AnyResult, style: TimeStyle = TimeStyle.SECONDS) -> str:
    """The result's own JSON (``to_json``, which ``from_json`` reads back), each span with its timecodes added."""
    data = result.to_json()

    def with_timecodes(span: dict[str, Any]) -> dict[str, Any]:
        tc = {
            "start_tc": format_timecode(span["start_s"], fps=result.fps, style=style),
            "end_tc": format_timecode(span["end_s"], fps=result.fps, style=style),
        }
        return {**span, **tc}

    if isinstance(result, CaptionResult):
        data["captions"] = [with_timecodes(c) for c in data["captions"]]
    else:
        for answer in data["results"]:
            answer["spans"] = [with_timecodes(s) for s in answer["spans"]]
    return json.dumps({**data, "time_format": str(style)}, indent=2) + "\n"


def _excerpt(text: str, limit: int = 160) -> str:
    flat = _one_line(text)
    return repr(flat if len(flat) <= limit else flat[: limit - 1] + "…")


def _table_query(answer: QueryResult, tc: Any) -> list[str]:
    lines = [f"  {answer.query!r}"]
    if not answer.spans:
        reason = "; ".join(answer.issues) or "the model says it does not occur"
        lines.append(f"    not found ({reason})")
        if not answer.parsed:  # show what could not be read, so a person can judge it
            lines.extend(f"    model said: {_excerpt(raw)}" for raw in answer.raw)
        return lines
    for rank, span in enumerate(answer.spans, start=1):
        score = "" if span.score is None else f"  score {span.score:.2f}"
        lines.append(f"    {rank}. {tc(span.start_s):>14} - {tc(span.end_s):<14}{score}{_snapped(span, tc)}".rstrip())
    lines.extend(f"    note: {issue}" for issue in answer.issues)  # not found shows them as the reason above
    return lines


def _snapped(span: SpanResult, tc: Any) -> str:
    """``(snapped from A - B)`` when ``--snap`` moved an end of this span, else nothing."""
    before = (span.unsnapped_start_s, span.unsnapped_end_s)
    if None in before or before == (span.start_s, span.end_s):
        return ""
    return f"  (snapped from {tc(before[0])} - {tc(before[1])})"


def render_table(result: AnyResult, style: TimeStyle = TimeStyle.SECONDS) -> str:
    """A plain-text table a person reads: one line per span, the best first for each query."""

    def tc(seconds: float) -> str:
        return format_timecode(seconds, fps=result.fps, style=style)

    lines = [f"{result.video}  ({result.duration_s:.2f} s)"]
    if isinstance(result, CaptionResult):
        lines.extend(f"  {tc(c.start_s):>14} - {tc(c.end_s):<14} {_one_line(c.text)}" for c in result.captions)
        if not result.captions:
            lines.append("  no captions")
        lines.extend(f"  note: {issue}" for issue in result.issues)
        return "\n".join(lines) + "\n"
    for answer in result.results:
        lines.extend(_table_query(answer, tc))
    return "\n".join(lines) + "\n"


def render(
    result: VideoResult | CaptionResult, fmt: OutputFormat | str, *, time_style: TimeStyle | str = TimeStyle.SECONDS
) -> str:
    """Render one video's result in the requested format, timecodes in ``time_style``.

    Raises:
        TimecodeError: ``hmsf`` with an unusable fps.
        ValueError: an unknown format or time style.
    """
    style = TimeStyle(time_style)
    match OutputFormat(fmt):
        case OutputFormat.JSON:
            return render_json(result, style)
        case OutputFormat.JSONL:
            return render_jsonl(result, style)
        case OutputFormat.SRT:
            return render_srt(result)
        case OutputFormat.VTT:
            return render_vtt(result)
        case OutputFormat.CSV:
            return render_csv(result, style)
        case OutputFormat.TABLE:
            return render_table(result, style)
