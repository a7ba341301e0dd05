"""Reading spans out of model answers: real-style Qwen answers, repairs, refusals and text round trips."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vidground.output.spans import ParsedSpans, ParseOutcome, SpanChars, parse_spans
from vidground.output.timecodes import format_timecode

COOKBOOK_JSON = """```json
[
    {"start_time": "00:00.00", "end_time": "00:23.90", "description": "A man stands in a kitchen."},
    {"start_time": "00:23.90", "end_time": "01:35.60", "description": "He seasons the steak with salt."},
    {"start_time": "01:35.60", "end_time": "02:10.25", "description": "The steak is seared in a pan."}
]
```"""

Triple = tuple[float, float, str | None]

ANSWERS: list[tuple[str, list[Triple]]] = [
    # The two cookbook formats, verbatim.
    ("The given query happens in 64.0 - 72.0 seconds.", [(64.0, 72.0, None)]),
    (
        COOKBOOK_JSON,
        [
            (0.0, 23.9, "A man stands in a kitchen."),
            (23.9, 95.6, "He seasons the steak with salt."),
            (95.6, 130.25, "The steak is seared in a pan."),
        ],
    ),
    # Free-text pairs.
    ("64.0 - 72.0 seconds", [(64.0, 72.0, None)]),
    ("The event happens from 12.5 to 17 seconds.", [(12.5, 17.0, None)]),
    ("It occurs between 3s and 7s.", [(3.0, 7.0, None)]),
    ("3.5s-7.25s", [(3.5, 7.25, None)]),
    ("3.5 s – 7.25 s", [(3.5, 7.25, None)]),
    ("The man waves at 00:12 to 00:17.", [(12.0, 17.0, None)]),
    ("From 00:23.90 to 01:35.60 the steak is seasoned.", [(23.9, 95.6, None)]),
    ("12:34.56s - 12:40.00s", [(754.56, 760.0, None)]),
    ("It happens between 00:01:02.500 and 00:01:05.250.", [(62.5, 65.25, None)]),
    ("01:00:00 - 01:00:30", [(3600.0, 3630.0, None)]),
    ("The query happens in 1.5 - 2 minutes.", [(90.0, 120.0, None)]),
    ("From 10 seconds until 14 seconds.", [(10.0, 14.0, None)]),
    ("3 ~ 7s", [(3.0, 7.0, None)]),
    ("Qwen2.5 says the answer is 3 - 7 seconds.", [(3.0, 7.0, None)]),
    ("The event happens in the video from 12:30 to 12:45", [(750.0, 765.0, None)]),
    # Several spans in one answer.
    (
        "The person jumps in 2.0 - 4.5 seconds and again in 10.0 - 12.0 seconds.",
        [(2.0, 4.5, None), (10.0, 12.0, None)],
    ),
    (
        "0.0 - 5.0 seconds: a man walks in.\n5.0 - 10.0 seconds: he sits down.",
        [(0.0, 5.0, "a man walks in"), (5.0, 10.0, "he sits down")],
    ),
    (
        "1. From 0:00 to 0:05, a man walks in.\n2. From 0:05 to 0:12, he sits down.",
        [(0.0, 5.0, "a man walks in"), (5.0, 12.0, "he sits down")],
    ),
    (
        "- 00:03 - 00:08: dog runs\n- 00:09 - 00:15: dog sleeps",
        [(3.0, 8.0, "dog runs"), (9.0, 15.0, "dog sleeps")],
    ),
    # Lone times joined into spans.
    ("The event starts at 00:12 and ends at 00:17.", [(12.0, 17.0, None)]),
    ("It begins at 4 seconds and finishes at 9.5 seconds.", [(4.0, 9.5, None)]),
    ("The event happens at 12 s and lasts for 3 seconds.", [(12.0, 15.0, None)]),
    # JSON variants.
    ("[[1.0, 2.0], [5, 6]]", [(1.0, 2.0, None), (5.0, 6.0, None)]),
    ("The spans are [[1.0, 2.0], [5, 6]].", [(1.0, 2.0, None), (5.0, 6.0, None)]),
    ('{"start": 3, "end": 5, "caption": "x"}', [(3.0, 5.0, "x")]),
    ('[{"timestamp": [3.2, 8.4], "event": "a cat jumps"}]', [(3.2, 8.4, "a cat jumps")]),
    ('```json\n{"start_time": "3.2s", "end_time": "8.4s", "event": "e"}\n```', [(3.2, 8.4, "e")]),
    (
        '```json\n{"events": [{"timestamp": [3, 5], "event": "a"},'
        ' {"timestamp": "00:07 - 00:09", "event": "b"}]}\n```',
        [(3.0, 5.0, "a"), (7.0, 9.0, "b")],
    ),
    (
        "```json\n[{'start_time': '00:01.00', 'end_time': '00:05.00', 'description': 'a',},]\n```",
        [(1.0, 5.0, "a")],
    ),
    ('```\n[{"Start_Time": 1, "End_Time": 2, "Sentence": "s"}]\n```', [(1.0, 2.0, "s")]),
    ("Here you go: [12.5, 17.0]", [(12.5, 17.0, None)]),
]


@pytest.mark.parametrize(("answer", "expected"), ANSWERS, ids=[a[:40] for a, _ in ANSWERS])
def test_reads_exact_spans(answer: str, expected: list[Triple]) -> None:
    result = parse_spans(answer)
    assert result.found, result.reason
    assert result.reason is None
    assert result.raw == answer
    got = [(s.start_s, s.end_s, s.text) for s in result.spans]
    assert len(got) == len(expected), got
    for (gs, ge, gt), (es, ee, et) in zip(got, expected, strict=True):
        assert gs == pytest.approx(es, abs=1e-9)
        assert ge == pytest.approx(ee, abs=1e-9)
        assert gt == et


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("", "empty answer"),
        ("   \n", "empty answer"),
        ("I cannot tell.", "no time values in answer"),
        ("There are 2 people in the video, filmed in 1990.", "no time spans in answer"),
        ("between 2 and 3 people", "no time spans in answer"),
        ("from 1990 to 2000", "no time spans in answer"),
        ("The event does not occur in the video.", "model says the event does not occur"),
        ("The described content is not present in this video.", "model says the event does not occur"),
        ("There is no such event.", "model says the event does not occur"),
        ("The man doesn't happen to jump.", "model says the event does not occur"),
        ("The dog never appears.", "model says the event does not occur"),
        ("The event doesn’t occur.", "model says the event does not occur"),
        ("This doesn't happen in the 30 second clip.", "model says the event does not occur"),
    ],
)
def test_nothing_found_gives_a_reason(answer: str, reason: str) -> None:
    result = parse_spans(answer)
    assert not result.found
    assert result.spans == ()
    assert result.reason is not None and result.reason.startswith(reason)


def _only(result: ParsedSpans) -> tuple[float, float]:
    assert len(result.spans) == 1, result
    return result.spans[0].start_s, result.spans[0].end_s


def test_reversed_pair_is_swapped_with_an_issue() -> None:
    result = parse_spans("The event happens in 7.0 - 3.0 seconds.")
    assert _only(result) == (3.0, 7.0)
    assert result.issues == ("swapped reversed pair 7.0-3.0",)


def test_zero_length_pair_is_kept_with_an_issue() -> None:
    result = parse_spans("It happens in 5.0 - 5.0 seconds.")
    assert _only(result) == (5.0, 5.0)
    assert result.issues == ("kept zero-length span 5.0-5.0",)


def test_lone_time_becomes_a_point_with_an_issue() -> None:
    result = parse_spans("It happens at 12 seconds.")
    assert _only(result) == (12.0, 12.0)
    assert any("zero-length" in issue for issue in result.issues)


def test_lone_time_next_to_pairs_is_ignored() -> None:
    result = parse_spans("The man appears from 5.2 to 8.0 seconds, about 3 seconds long.")
    assert _only(result) == (5.2, 8.0)
    assert result.issues == ("ignored lone time '3 seconds'",)


def test_negative_times_are_rejected() -> None:
    result = parse_spans("from -2 to 5 seconds")
    assert not result.found
    assert "rejected negative time" in (result.reason or "")
    mixed = parse_spans("from -2 to 5 seconds, and from 6 to 8 seconds")
    assert _only(mixed) == (6.0, 8.0)
    assert any("negative" in issue for issue in mixed.issues)
    from_json = parse_spans('[{"start": -1, "end": 4}, {"start": 5, "end": 6}]')
    assert _only(from_json) == (5.0, 6.0)
    assert any("negative" in issue for issue in from_json.issues)


def test_non_finite_json_values_are_rejected() -> None:
    result = parse_spans('[{"start": NaN, "end": 4}]')
    assert not result.found
    assert any("non-finite" in issue for issue in result.issues)


def test_unitless_pair_is_read_as_seconds_with_an_issue() -> None:
    result = parse_spans("The query happens in 64.0-72.0.")
    assert _only(result) == (64.0, 72.0)
    assert result.issues == ("read unit-less pair '64.0-72.0' as seconds",)


def test_hmsf_needs_fps() -> None:
    answer = "The event happens in 00:01:02:12 - 00:01:05:00."
    with_fps = parse_spans(answer, fps=25)
    assert _only(with_fps) == pytest.approx((62.48, 65.0))
    drop_frame = parse_spans("00:01:00;02 - 00:01:00;12", fps=29.97)
    assert _only(drop_frame) == pytest.approx((1800 * 1001 / 30000, 1810 * 1001 / 30000))
    without = parse_spans(answer)
    assert not without.found
    assert any("needs the video fps" in issue for issue in without.issues)


def test_negation_next_to_spans_keeps_the_spans() -> None:
    result = parse_spans("The given query happens in 64.0 - 72.0 seconds; it never happens again.")
    assert _only(result) == (64.0, 72.0)
    assert "answer also contains a negation; kept its spans" in result.issues


def test_truncated_json_keeps_its_complete_objects() -> None:
    cut = (
        '```json\n[{"start_time": "00:01.00", "end_time": "00:05.00", "description": "a"},'
        ' {"start_time": "00:0'
    )
    result = parse_spans(cut)
    assert [(s.start_s, s.end_s, s.text) for s in result.spans] == [(1.0, 5.0, "a")]
    assert any("malformed JSON" in issue for issue in result.issues)


def test_malformed_json_falls_back_to_the_text() -> None:
    broken = (
        '```json\n[{"start_time": "00:01.00", "end_time": "00:05.00" "description": "a"},\n'
        ' {"start_time": "00:07.00" "end_time": "00:09.00"}]\n```'
    )
    result = parse_spans(broken)
    assert [(s.start_s, s.end_s) for s in result.spans] == [(1.0, 5.0), (7.0, 9.0)]
    assert "malformed JSON: read spans from its text instead" in result.issues


def test_json_item_missing_end_is_noted() -> None:
    result = parse_spans('[{"start": 1, "end": 2}, {"start": 4, "description": "no end"}]')
    assert _only(result) == (1.0, 2.0)
    assert any("only one of start and end" in issue for issue in result.issues)


def test_parse_spans_is_frozen_and_keeps_raw() -> None:
    result = parse_spans("1 - 2 seconds")
    with pytest.raises(AttributeError):
        result.found = False  # type: ignore[misc]
    assert result.raw == "1 - 2 seconds"


# Property tests: spans written as text the way models write them read back as the same spans.

_hundredths = st.integers(min_value=0, max_value=2 * 3600 * 100)


@st.composite
def _span_lists(draw: st.DrawFn) -> list[tuple[int, int]]:
    n = draw(st.integers(min_value=1, max_value=5))
    out = []
    for _ in range(n):
        a, b = draw(_hundredths), draw(_hundredths)
        out.append((min(a, b), max(a, b) + 1))
    return out


def _mmss(hundredths: int) -> str:
    minutes, rest = divmod(hundredths, 6000)
    return f"{minutes:02d}:{rest // 100:02d}.{rest % 100:02d}"


def _seconds(hundredths: int) -> str:
    return f"{hundredths // 100}.{hundredths % 100:02d}"


TEMPLATES = {
    "cookbook": lambda a, b: f"The given query happens in {_seconds(a)} - {_seconds(b)} seconds.",
    "from_to": lambda a, b: f"from {_seconds(a)} to {_seconds(b)} seconds",
    "between": lambda a, b: f"between {_seconds(a)}s and {_seconds(b)}s",
    "glued": lambda a, b: f"{_seconds(a)}s-{_seconds(b)}s",
    "mmss": lambda a, b: f"at {_mmss(a)} to {_mmss(b)}",
    "qwen_hmsf": lambda a, b: f"{_mmss(a)}s - {_mmss(b)}s",
    "clock": lambda a, b: (
        f"{format_timecode(a / 100, style='clock')} - {format_timecode(b / 100, style='clock')}"
    ),
    "seconds_style": lambda a, b: f"{format_timecode(a / 100)} - {format_timecode(b / 100)}",
}


@settings(max_examples=60, deadline=None)
@given(_span_lists(), st.sampled_from(sorted(TEMPLATES)), st.sampled_from([" and ", ", then ", "\n"]))
def test_formatted_spans_read_back(spans: list[tuple[int, int]], template: str, joiner: str) -> None:
    answer = joiner.join(TEMPLATES[template](a, b) for a, b in spans)
    result = parse_spans(answer)
    assert result.found, (answer, result)
    got = [(round(s.start_s * 100), round(s.end_s * 100)) for s in result.spans]
    assert got == spans, answer
    assert all(abs(s.start_s * 100 - round(s.start_s * 100)) < 1e-6 for s in result.spans)


@settings(max_examples=40, deadline=None)
@given(_span_lists(), st.lists(st.text(alphabet="abcdefghij klmnop", min_size=1, max_size=20), min_size=5))
def test_cookbook_json_reads_back(spans: list[tuple[int, int]], texts: list[str]) -> None:
    items = [
        {"start_time": _mmss(a), "end_time": _mmss(b), "description": text}
        for (a, b), text in zip(spans, texts, strict=False)
    ]
    answer = "```json\n" + json.dumps(items, indent=4) + "\n```"
    result = parse_spans(answer)
    got = [(round(s.start_s * 100), round(s.end_s * 100), s.text) for s in result.spans]
    expected = [(a, b, (text.strip() or None)) for (a, b), text in zip(spans, texts, strict=False)]
    assert got == expected
    assert result.issues == ()


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("0123456789 .:;-,[]{}()\"'stoandfrmbewenc\n`json")), max_size=80)
)
def test_never_raises_and_spans_are_ordered_pairs(answer: str) -> None:
    result = parse_spans(answer, fps=25)
    assert result.found == bool(result.spans)
    assert (result.reason is None) == result.found
    for span in result.spans:
        assert 0 <= span.start_s <= span.end_s


def test_deeply_nested_brackets_do_not_raise() -> None:
    result = parse_spans("[" * 1100 + "3 - 5 seconds")
    assert [(s.start_s, s.end_s) for s in result.spans] == [(3.0, 5.0)]


# Outcomes: what the answer said, read once by the parser.


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        ("The given query happens in 64.0 - 72.0 seconds.", ParseOutcome.FOUND),
        (COOKBOOK_JSON, ParseOutcome.FOUND),
        ("The event starts at 00:12 and ends at 00:17.", ParseOutcome.FOUND),
        ("The given query does not occur in the video.", ParseOutcome.SAYS_ABSENT),
        ("This doesn't happen in the 30 second clip.", ParseOutcome.SAYS_ABSENT),
        ("```json\n[]\n```", ParseOutcome.EMPTY_LIST),
        ("```\n[ ]\n```", ParseOutcome.EMPTY_LIST),
        ("[]", ParseOutcome.EMPTY_LIST),
        ("  []\n", ParseOutcome.EMPTY_LIST),
        ("```json\n[]\n```\nThe given query does not occur in the video.", ParseOutcome.SAYS_ABSENT),
        ("", ParseOutcome.UNREADABLE),
        ("I am not sure what you mean.", ParseOutcome.UNREADABLE),
        ("There are 2 people in the video, filmed in 1990.", ParseOutcome.UNREADABLE),
        ("[1, 2, 3]", ParseOutcome.UNREADABLE),
        ("```json\n{}\n```", ParseOutcome.UNREADABLE),
        ("```json\n[[]]\n```", ParseOutcome.UNREADABLE),
        ("```json\n[\n```", ParseOutcome.UNREADABLE),
        ('```json\n[{"start_time": "00:01.00", "end_time": "00:05.00"}, {"start_time": "00:0', ParseOutcome.FOUND),
    ],
)
def test_outcome_says_what_the_answer_said(answer: str, outcome: ParseOutcome) -> None:
    result = parse_spans(answer)
    assert result.outcome is outcome
    assert result.found == (outcome is ParseOutcome.FOUND)
    assert (result.reason is None) == result.found
    assert len(result.positions) == len(result.spans)


def test_empty_list_next_to_a_span_in_free_text_is_found() -> None:
    result = parse_spans("[] The given query happens in 3.0 - 5.0 seconds.")
    assert result.outcome is ParseOutcome.FOUND
    assert _only(result) == (3.0, 5.0)


# Positions: where each span's two times stand in the answer.


def _texts(answer: str, fps: float | None = None) -> list[tuple[str | None, str | None]]:
    """The characters each span's ``start_chars`` and ``end_chars`` point at."""
    result = parse_spans(answer, fps=fps)
    assert len(result.positions) == len(result.spans)
    return [
        (
            None if p.start_chars is None else answer[p.start_chars[0] : p.start_chars[1]],
            None if p.end_chars is None else answer[p.end_chars[0] : p.end_chars[1]],
        )
        for p in result.positions
    ]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("The given query happens in 64.0 - 72.0 seconds.", [("64.0", "72.0")]),
        ("The event happens from 12.5 to 17 seconds.", [("12.5", "17")]),
        ("3.5s-7.25s", [("3.5", "7.25")]),
        ("It occurs between 3s and 7s.", [("3", "7")]),
        ("Here you go: [12.5, 17.0]", [("12.5", "17.0")]),
        ("The query happens in 1.5 - 2 minutes.", [("1.5", "2")]),
        ("2 people walk in 2.0 - 4.5 seconds and again in 10.0 - 12.0 seconds.", [("2.0", "4.5"), ("10.0", "12.0")]),
        # clock forms
        ("The man waves at 00:12 to 00:17.", [("00:12", "00:17")]),
        ("12:34.56s - 12:40.00s", [("12:34.56", "12:40.00")]),
        ("It happens between 00:01:02.500 and 00:01:05.250.", [("00:01:02.500", "00:01:05.250")]),
        (
            "1. From 0:00 to 0:05, a man walks in.\n2. From 0:05 to 0:12, he sits down.",
            [("0:00", "0:05"), ("0:05", "0:12")],
        ),
        # lone times: start..end, start + duration, a point
        ("The event starts at 00:12 and ends at 00:17.", [("00:12", "00:17")]),
        ("The event happens at 12 s and lasts for 3 seconds.", [("12", "3")]),
        ("It happens at 12 seconds.", [("12", "12")]),
        # a reversed pair is swapped with its positions
        ("The event happens in 7.0 - 3.0 seconds.", [("3.0", "7.0")]),
        # JSON: the value's literal, the time inside a string
        (COOKBOOK_JSON, [("00:00.00", "00:23.90"), ("00:23.90", "01:35.60"), ("01:35.60", "02:10.25")]),
        ('{"start": 3, "end": 5, "caption": "3 to 5"}', [("3", "5")]),
        ('[{"start_time": "3.2s", "end_time": " 8.4 s"}]', [("3.2", "8.4")]),
        ("[[1.0, 2.0], [5, 6]]", [("1.0", "2.0"), ("5", "6")]),
        ("The spans are [[1.0, 2.0], [5, 6]].", [("1.0", "2.0"), ("5", "6")]),
        ('[{"timestamp": [3.2, 8.4], "event": "3.2 cats"}]', [("3.2", "8.4")]),
        (
            '```json\n{"events": [{"timestamp": [3, 5], "event": "a"},'
            ' {"timestamp": "00:07 - 00:09", "event": "b"}]}\n```',
            [("3", "5"), ("00:07", "00:09")],
        ),
        (
            "```json\n[{'start_time': '00:01.00', 'end_time': '00:05.00', 'description': 'a',},]\n```",
            [("00:01.00", "00:05.00")],
        ),
        ('```\n[{"Start_Time": 1, "End_Time": 2e0, "Sentence": "s"}]\n```', [("1", "2e0")]),
        # salvaged from cut-off JSON
        (
            '```json\n[{"start_time": "00:01.00", "end_time": "00:05.00", "description": "a"},'
            ' {"start_time": "00:0',
            [("00:01.00", "00:05.00")],
        ),
    ],
    ids=lambda v: v[:40] if isinstance(v, str) else None,
)
def test_positions_point_at_the_time_literals(answer: str, expected: list[tuple[str, str]]) -> None:
    assert _texts(answer) == expected


def test_hmsf_positions() -> None:
    assert _texts("The event happens in 00:01:02:12 - 00:01:05:00.", fps=25) == [("00:01:02:12", "00:01:05:00")]


def test_positions_are_unknown_where_the_literals_do_not_line_up() -> None:
    # A duplicate key: the decoded object holds the last value, the text both; a string with an escape.
    assert _texts('[{"start": 1, "start": 2, "end": 3}]') == [(None, None)]
    assert _texts('[{"timestamp": "00:07 - 00:09\\u0020", "event": "b"}]') == [(None, None)]
    assert _texts('[{"start": "00:07\\u0020", "end": 9}]') == [(None, "9")]


def test_json_values_embedded_in_free_text_keep_their_own_positions() -> None:
    answer = 'Answer: {"start": 1.5, "end": 2.5} and later {"start": 1.5, "end": 4}'
    assert parse_spans(answer).positions == (
        SpanChars(start_chars=(18, 21), end_chars=(30, 33)),
        SpanChars(start_chars=(55, 58), end_chars=(67, 68)),
    )
