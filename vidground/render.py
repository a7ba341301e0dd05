"""Render results (their JSON form) as table, json, jsonl, srt, vtt or csv text. Pure: dict in, str out."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from enum import StrEnum
from typing import Any

from vidground.output.timecodes import format_timecode


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    JSONL = "jsonl"
    SRT = "srt"
    VTT = "vtt"
    CSV = "csv"


CSV_FIELDS = ("video", "query", "rank", "found", "start_s", "end_s", "score", "start_tc", "end_tc", "text")


def _rows(result: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """One flat row per span (locate: per query, ranked; caption: per caption); a row for a query not found."""
    video = result["video"]
    if "captions" in result:
        for rank, cap in enumerate(result["captions"], start=1):
            yield {
                "video": video,
                "query": None,
                "rank": rank,
                "found": True,
                **_span_fields(cap),
                "text": cap.get("text"),
            }
        return
    for query_result in result["results"]:
        spans = query_result["spans"]
        if not spans:
            yield {
                "video": video,
                "query": query_result["query"],
                "rank": None,
                "found": False,
                "start_s": None,
                "end_s": None,
                "score": None,
                "start_tc": None,
                "end_tc": None,
                "text": None,
            }
        for rank, span in enumerate(spans, start=1):
            yield {
                "video": video,
                "query": query_result["query"],
                "rank": rank,
                "found": query_result["found"],
                **_span_fields(span),
                "text": query_result["query"],
            }


def _span_fields(span: Mapping[str, Any]) -> dict[str, Any]:
    return {k: span.get(k) for k in ("start_s", "end_s", "score", "start_tc", "end_tc")}


def _one_line(text: str) -> str:
    """Cue and table text on one line: a blank line ends an SRT/VTT cue early, and ``-->`` is a VTT timing line."""
    return " ".join(text.split()).replace("-->", "->")


def result_issues(result: Mapping[str, Any]) -> list[str]:
    """Every issue of a result (what was odd in the model's answers), a locate issue prefixed by its query."""
    if "captions" in result:
        return [str(issue) for issue in result.get("issues") or []]
    return [f"{q['query']!r}: {issue}" for q in result["results"] for issue in q.get("issues") or []]


def _cues(result: Mapping[str, Any]) -> list[tuple[float, float, str]]:
    cues = []
    for row in _rows(result):
        if row["start_s"] is None:
            continue
        text = _one_line(row["text"] or "")
        if row["query"] is not None and row["score"] is not None:
            text = f"{text} ({row['score']:.2f})"
        cues.append((float(row["start_s"]), float(row["end_s"]), text))
    return sorted(cues)


def _srt_time(seconds: float) -> str:
    return format_timecode(seconds, style="clock").replace(".", ",")


def render_srt(result: Mapping[str, Any]) -> str:
    blocks = [
        f"{n}\n{_srt_time(start)} --> {_srt_time(end)}\n{text}\n"
        for n, (start, end, text) in enumerate(_cues(result), start=1)
    ]
    return "\n".join(blocks)


def render_vtt(result: Mapping[str, Any]) -> str:
    blocks = [
        f"{format_timecode(start, style='clock')} --> {format_timecode(end, style='clock')}\n{text}\n"
        for start, end, text in _cues(result)
    ]
    return "WEBVTT\n\n" + "\n".join(blocks)


def render_csv(result: Mapping[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in _rows(result):
        writer.writerow(row)
    return buffer.getvalue()


def render_jsonl(result: Mapping[str, Any]) -> str:
    return "".join(json.dumps(row) + "\n" for row in _rows(result))


def _excerpt(text: str, limit: int = 160) -> str:
    flat = _one_line(text)
    return repr(flat if len(flat) <= limit else flat[: limit - 1] + "…")


def render_table(result: Mapping[str, Any]) -> str:
    """A plain-text table a person reads: one line per span, the best first for each query."""
    lines = [f"{result['video']}  ({result['duration_s']:.2f} s)"]
    if "captions" in result:
        for cap in result["captions"]:
            lines.append(f"  {cap['start_tc']:>14} - {cap['end_tc']:<14} {_one_line(cap.get('text') or '')}")
        if not result["captions"]:
            lines.append("  no captions")
        lines.extend(f"  note: {issue}" for issue in result.get("issues") or [])
        return "\n".join(lines) + "\n"
    for query_result in result["results"]:
        lines.append(f"  {query_result['query']!r}")
        if not query_result["spans"]:
            reason = "; ".join(query_result.get("issues") or []) or "the model says it does not occur"
            lines.append(f"    not found ({reason})")
            if query_result.get("parsed") is False:  # show what could not be read, so a person can judge it
                lines.extend(f"    model said: {_excerpt(raw)}" for raw in query_result.get("raw") or [])
        for rank, span in enumerate(query_result["spans"], start=1):
            score = "" if span.get("score") is None else f"  score {span['score']:.2f}"
            lines.append(f"    {rank}. {span['start_tc']:>14} - {span['end_tc']:<14}{score}".rstrip())
        if query_result["spans"]:  # a query not found shows its issues as the reason above
            lines.extend(f"    note: {issue}" for issue in query_result.get("issues") or [])
    return "\n".join(lines) + "\n"


def render(result: Mapping[str, Any], fmt: OutputFormat | str) -> str:
    """Render one video's result in the requested format."""
    match OutputFormat(fmt):
        case OutputFormat.JSON:
            return json.dumps(result, indent=2) + "\n"
        case OutputFormat.JSONL:
            return render_jsonl(result)
        case OutputFormat.SRT:
            return render_srt(result)
        case OutputFormat.VTT:
            return render_vtt(result)
        case OutputFormat.CSV:
            return render_csv(result)
        case OutputFormat.TABLE:
            return render_table(result)
