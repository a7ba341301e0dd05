"""Rendering of typed results as the CLI prints them; timecodes are made here, not stored in results."""

from __future__ import annotations

import csv
import dataclasses
import io
import json

from tests.fakes import make_provenance
from vidground.options import Task
from vidground.render import render, result_issues
from vidground.results import CaptionResult, CaptionSpan, QueryResult, SpanResult, VideoResult

DOOR = QueryResult(
    query="person opens door",
    found=True,
    parsed=True,
    spans=(SpanResult(64.0, 72.5, 0.81), SpanResult(3.25, 7.0, 0.42)),
    raw=("The given query happens in 64.0 - 72.5 seconds.",),
    issues=(),
)
DOG = QueryResult(query="a dog barks", found=False, parsed=True, spans=(), raw=("It does not occur.",), issues=())
LOCATE = VideoResult(video="door.mp4", duration_s=90.0, fps=25.0, results=(DOOR, DOG), provenance=make_provenance())
CAPTIONS = CaptionResult(
    video="cook.mp4",
    duration_s=10.0,
    fps=30000 / 1001,
    captions=(CaptionSpan(0.0, 4.5, "A pan heats."), CaptionSpan(4.5, 10.0, "Steak goes in.")),
    raw=("[...]",),
    issues=(),
    provenance=make_provenance(Task.CAPTION),
)


def test_json_is_the_result_object_with_timecodes_added() -> None:
    data = json.loads(render(LOCATE, "json", time_style="clock"))
    assert VideoResult.from_json(data) == LOCATE  # the extra display fields do not get in the way
    assert data["results"][0]["spans"][0]["start_tc"] == "00:01:04.000"
    assert data["time_format"] == "clock"


def test_hmsf_uses_the_videos_own_frame_rate() -> None:
    data = json.loads(render(CAPTIONS, "json", time_style="hmsf"))
    # 4.5 s at 29.97 fps is frame 134.9: frame 134 = 4 s + 14 frames, in drop-frame notation
    assert data["captions"][1]["start_tc"] == "00:00:04;14"
    assert CaptionResult.from_json(data) == CAPTIONS


def test_jsonl_has_one_row_per_span_and_one_for_a_query_not_found() -> None:
    rows = [json.loads(line) for line in render(LOCATE, "jsonl").splitlines()]
    assert [(r["query"], r["rank"], r["found"]) for r in rows] == [
        ("person opens door", 1, True),
        ("person opens door", 2, True),
        ("a dog barks", None, False),
    ]
    assert rows[0]["start_s"] == 64.0 and rows[0]["end_s"] == 72.5
    assert rows[0]["start_tc"] == "64.0s"


def test_csv_round_trips_through_the_csv_module() -> None:
    rows = list(csv.DictReader(io.StringIO(render(LOCATE, "csv"))))
    assert rows[1]["start_s"] == "3.25" and rows[1]["rank"] == "2"
    assert rows[2]["found"] == "False" and rows[2]["start_s"] == ""


def test_srt_cues_are_in_time_order_with_comma_milliseconds() -> None:
    text = render(LOCATE, "srt")
    blocks = text.strip().split("\n\n")
    assert blocks[0].splitlines()[1] == "00:00:03,250 --> 00:00:07,000"
    assert blocks[1].splitlines()[1] == "00:01:04,000 --> 00:01:12,500"
    assert blocks[1].splitlines()[2] == "person opens door (0.81)"


def test_vtt_has_header_and_dot_milliseconds() -> None:
    text = render(CAPTIONS, "vtt")
    assert text.startswith("WEBVTT\n\n")
    assert "00:00:04.500 --> 00:00:10.000\nSteak goes in." in text


def test_table_names_queries_spans_and_not_found() -> None:
    text = render(LOCATE, "table")
    assert "1.          64.0s - 72.5s" in text
    assert "not found" in text.split("'a dog barks'")[1]
    assert "1.   00:01:04.000 - 00:01:12.500" in render(LOCATE, "table", time_style="clock")


def test_caption_text_with_blank_lines_stays_one_cue() -> None:
    messy = dataclasses.replace(CAPTIONS, captions=(CaptionSpan(0.0, 4.5, "A pan\n\nheats --> smokes."),))
    srt = render(messy, "srt")
    assert srt.strip().split("\n\n") == ["1\n00:00:00,000 --> 00:00:04,500\nA pan heats -> smokes."]
    vtt = render(messy, "vtt")
    assert vtt.count("-->") == 1 and "A pan heats -> smokes." in vtt
    assert "A pan heats -> smokes." in render(messy, "table")


def test_issues_are_listed_by_result_issues_and_the_table() -> None:
    captions = dataclasses.replace(CAPTIONS, captions=(), issues=("unreadable answer: no time values in answer",))
    assert result_issues(captions) == ["unreadable answer: no time values in answer"]
    table = render(captions, "table")
    assert "no captions" in table and "note: unreadable answer: no time values in answer" in table
    clamped = dataclasses.replace(LOCATE, results=(dataclasses.replace(DOOR, issues=("span past the end clamped",)),))
    assert result_issues(clamped) == ["'person opens door': span past the end clamped"]
    assert "note: span past the end clamped" in render(clamped, "table")
    unscored = dataclasses.replace(
        LOCATE, results=(dataclasses.replace(DOOR, spans=(SpanResult(64.0, 72.5, None),)),)
    )
    assert not any(line.endswith(" ") for line in render(unscored, "table").splitlines())


def test_table_shows_what_the_model_said_when_it_could_not_be_read() -> None:
    unreadable = QueryResult(
        query="a cat",
        found=False,
        parsed=False,
        spans=(),
        raw=("I think\nmaybe around the middle " + "x" * 300,),
        issues=("unreadable answer: no time values in answer",),
    )
    text = render(dataclasses.replace(LOCATE, results=(unreadable, DOG)), "table")
    said = [line for line in text.splitlines() if "model said:" in line]
    assert len(said) == 1  # only for the answer that could not be read
    assert "'I think maybe around the middle xxx" in said[0] and said[0].endswith("…'")
