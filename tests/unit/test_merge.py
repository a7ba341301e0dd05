"""Model time -> video time, scores from token probabilities, ranking, and merging spans across windows."""

from __future__ import annotations

import math

import pytest

from tests.fakes import scripted_generation, tokenize
from vidground.output.merge import (
    WindowSpans,
    map_spans,
    merge_window_spans,
    model_to_video_s,
    rank_spans,
    span_scores,
    stitch_captions,
    temporal_iou,
    temporal_nms,
)
from vidground.output.spans import SpanChars, parse_spans
from vidground.timeline import FramePlan, SampledFrame, Span
from vidground.video.windows import Window


def make_plan(times_s: list[float], sample_fps: float) -> FramePlan:
    n = len(times_s)
    return FramePlan(
        frames=tuple(SampledFrame(index=i * 10, time_s=t) for i, t in enumerate(times_s)),
        height=112,
        width=112,
        source_fps=30.0,
        n_source_frames=n * 10,
        sample_fps=sample_fps,
        second_per_grid=2 / sample_fps,
        grid_thw=(n // 2, 8, 8),
        num_tokens=n // 2 * 16,
        start_s=times_s[0],
        end_s=times_s[-1],
    )


VFR_TIMES = [10.0, 10.5, 11.2, 11.5]


@pytest.mark.parametrize(
    ("model_s", "video_s"),
    [(0.0, 10.0), (1.0, 11.2), (0.75, 10.85), (0.5, 10.5), (1.5, 11.5), (2.0, 12.0), (-0.5, 9.5)],
)
def test_model_to_video_worked_example_vfr(model_s, video_s):
    assert model_to_video_s(model_s, VFR_TIMES, sample_fps=2.0) == pytest.approx(video_s)


def test_model_to_video_is_monotonic_on_vfr_times():
    times = [0.0, 0.04, 0.3, 0.31, 0.9, 1.0, 1.8, 2.0]
    values = [model_to_video_s(m / 10, times, sample_fps=4.0) for m in range(-5, 30)]
    assert values == sorted(values)


def test_model_to_video_single_frame_uses_the_sample_clock():
    # model 1.0 s is two steps of 1 / 2 s after the only frame
    assert model_to_video_s(1.0, [5.0], sample_fps=2.0) == pytest.approx(6.0)


def test_map_spans_goes_through_the_frame_times_with_the_window_offset():
    plan = make_plan([400.0, 400.5, 401.0, 401.5], sample_fps=2.0)
    spans, issues = map_spans([Span(0.5, 1.0, score=0.8, text="x")], plan, duration_s=1000.0)
    assert spans == (Span(400.5, 401.0, score=0.8, text="x"),)
    assert issues == []


def test_map_spans_clamps_to_the_video_and_says_so():
    plan = make_plan([0.0, 0.5, 1.0, 1.5], sample_fps=2.0)  # the clip covers model 0..2 s
    spans, issues = map_spans([Span(1.0, 9.0)], plan, duration_s=1.8)
    assert spans == (Span(1.0, 1.8),)
    assert len(issues) == 1 and "after the sampled clip" in issues[0]


def test_map_spans_drops_a_span_entirely_past_the_end_with_an_issue():
    plan = make_plan([0.0, 0.5, 1.0, 1.5], sample_fps=2.0)
    spans, issues = map_spans([Span(30.0, 40.0), Span(0.5, 1.0)], plan, duration_s=2.0)
    assert spans == (Span(0.5, 1.0),)
    assert any("dropped" in line for line in issues)


def test_map_spans_reports_end_before_start_and_zero_length():
    plan = make_plan([0.0, 0.5, 1.0, 1.5], sample_fps=2.0)
    spans, issues = map_spans([Span(1.0, 0.5), Span(1.0, 1.0)], plan, duration_s=2.0)
    assert spans == (Span(1.0, 1.0),)
    assert any("end before start" in line for line in issues)
    assert any("zero length" in line for line in issues)


def _scores(text: str, logprobs: list[float]) -> list[float | None]:
    """Scores of the spans ``parse_spans`` reads in ``text``, tokenized as Qwen does (one digit per token)."""
    return span_scores(parse_spans(text).positions, tokens=tokenize(text), token_logprobs=logprobs)


def test_span_scores_docstring_example():
    text = "The given query happens in 64.0 - 72.0 seconds."
    tokens = tokenize(text)
    assert "".join(tokens) == text
    logprobs = [math.log(0.5 if t == "4" else 0.9 if t.isdigit() else 0.99) for t in tokens]
    # 64.0 - 72.0: digits 6,4,0,7,2,0 and two points: (0.9*5 + 0.5 + 0.99*2) / 8
    (score,) = _scores(text, logprobs)
    assert score == pytest.approx((0.9 * 5 + 0.5 + 0.99 * 2) / 8)


def test_span_scores_tell_two_spans_apart():
    text = "It happens in 10.0 - 12.0 seconds and 50.0 - 55.0 seconds."
    tokens = tokenize(text)
    second_half = text.index("50.0")
    logprobs, offset = [], 0
    for t in tokens:
        logprobs.append(math.log(0.95 if offset >= second_half else 0.4))
        offset += len(t)
    low, high = _scores(text, logprobs)
    assert low == pytest.approx(0.4) and high == pytest.approx(0.95)


def test_span_scores_read_clock_times():
    gen = scripted_generation(
        '[{"start_time": "01:02.50", "end_time": "01:05.00"}]', prob=0.5, digit_prob=0.8
    )
    (score,) = span_scores(
        parse_spans(gen.text).positions, tokens=gen.tokens, token_logprobs=gen.token_logprobs
    )
    # digits at 0.8, colons and points at 0.5: 6 + 6 digits, 2 colons, 2 points (not the quotes around them)
    assert score == pytest.approx((12 * 0.8 + 4 * 0.5) / 16)


def test_span_scores_use_the_parsed_positions_not_an_earlier_equal_number():
    # "5 people" comes before the span 5.0 - 7.0: a search of the text for the value 5 finds that "5" first.
    text = "5 people dance; the given query happens in 5.0 - 7.0 seconds."
    people = text.index("5 people")
    logprobs, offset = [], 0
    for t in tokenize(text):
        logprobs.append(math.log(0.1 if offset == people else 0.9))
        offset += len(t)
    (position,) = parse_spans(text).positions
    assert position.start_chars == (43, 46) and text[43:46] == "5.0"
    (score,) = _scores(text, logprobs)
    assert score == pytest.approx(0.9)  # the "5" of "5 people" at 0.1 would pull the mean to 0.8


def test_span_scores_of_lone_time_and_duration_read_both_numbers():
    text = "The event happens at 12 s and lasts for 3 seconds, with 99 birds."
    logprobs = [math.log(0.6 if t in "123" and t else 0.2 if t == "9" else 0.95) for t in tokenize(text)]
    (score,) = _scores(text, logprobs)
    assert score == pytest.approx(0.6)  # the digits 1, 2 and 3; not the 9s, not the words


def test_span_scores_without_tokens_are_none():
    assert span_scores([SpanChars((0, 1), (4, 5))], tokens=(), token_logprobs=()) == [None]
    assert span_scores([SpanChars((0, 1), (4, 5))], tokens=("1", " - ", "2"), token_logprobs=(0.0,)) == [None]


def test_span_scores_with_unknown_positions_fall_back_to_digit_tokens():
    gen = scripted_generation("from 1 to 2 s", prob=0.9, digit_prob=0.6)
    unknown = SpanChars(start_chars=None, end_chars=None)
    past_the_text = SpanChars(start_chars=(100, 104), end_chars=(110, 114))
    scores = span_scores([unknown, past_the_text], tokens=gen.tokens, token_logprobs=gen.token_logprobs)
    assert scores == [pytest.approx(0.6), pytest.approx(0.6)]
    no_digits = scripted_generation("no numbers", prob=0.7)
    assert span_scores([unknown], tokens=no_digits.tokens, token_logprobs=no_digits.token_logprobs) == [
        pytest.approx(0.7)
    ]


def test_span_scores_with_one_known_position_use_it():
    gen = scripted_generation("from 1 to 2 s", prob=0.9, digit_prob=0.6)
    (score,) = span_scores([SpanChars((2, 4), None)], tokens=gen.tokens, token_logprobs=gen.token_logprobs)
    assert score == pytest.approx(0.9)  # "om" of "from": only that range, not the digits


def test_temporal_iou():
    assert temporal_iou(Span(0, 10), Span(5, 15)) == pytest.approx(5 / 15)
    assert temporal_iou(Span(0, 1), Span(2, 3)) == 0.0
    assert temporal_iou(Span(3, 3), Span(3, 3)) == 1.0


def test_rank_spans_best_first_unscored_last():
    ranked = rank_spans([Span(0, 1, score=0.2), Span(5, 6, score=None), Span(2, 3, score=0.9)])
    assert [s.start_s for s in ranked] == [2, 0, 5]


def test_temporal_nms_docstring_example():
    kept = temporal_nms([Span(11, 21, score=0.7), Span(40, 45, score=0.6), Span(10, 20, score=0.9)], iou=0.5)
    assert kept == (Span(10, 20, score=0.9), Span(40, 45, score=0.6))


def test_merge_fuses_an_event_cut_by_a_window_border():
    pieces = [
        WindowSpans(Window(0.0, 384.0), (Span(370.0, 384.0, score=0.6),)),
        WindowSpans(Window(308.0, 692.0), (Span(370.0, 400.0, score=0.9),)),
    ]
    merged = merge_window_spans(pieces, range_start_s=0.0, range_end_s=692.0)
    assert merged == (Span(370.0, 400.0, score=0.9),)


def test_merge_fuses_touching_pieces_of_adjacent_windows():
    pieces = [
        WindowSpans(Window(0.0, 100.0), (Span(90.0, 99.6, score=0.8),)),
        WindowSpans(Window(100.0, 200.0), (Span(100.3, 120.0, score=0.7),)),
    ]
    merged = merge_window_spans(pieces, range_start_s=0.0, range_end_s=200.0)
    assert merged == (Span(90.0, 120.0, score=0.8),)


def test_merge_keeps_separate_occurrences_and_ranks_them():
    pieces = [
        WindowSpans(Window(0.0, 100.0), (Span(10.0, 20.0, score=0.5), Span(22.0, 30.0, score=0.7))),
        WindowSpans(Window(80.0, 180.0), (Span(120.0, 130.0, score=0.9),)),
    ]
    merged = merge_window_spans(pieces, range_start_s=0.0, range_end_s=180.0)
    assert merged == (Span(120.0, 130.0, score=0.9), Span(22.0, 30.0, score=0.7), Span(10.0, 20.0, score=0.5))


def test_merge_drops_an_event_seen_whole_by_two_overlapping_windows():
    pieces = [
        WindowSpans(Window(0.0, 100.0), (Span(85.0, 92.0, score=0.6),)),
        WindowSpans(Window(80.0, 180.0), (Span(85.5, 92.0, score=0.8),)),
    ]
    merged = merge_window_spans(pieces, range_start_s=0.0, range_end_s=180.0)
    assert merged == (Span(85.5, 92.0, score=0.8),)


def test_merge_does_not_treat_the_range_ends_as_cuts():
    pieces = [
        WindowSpans(Window(0.0, 100.0), (Span(0.0, 5.0, score=0.6),)),
        WindowSpans(Window(80.0, 180.0), (Span(3.0, 8.0, score=0.8),)),  # odd, but not a cut piece
    ]
    merged = merge_window_spans(pieces, range_start_s=0.0, range_end_s=180.0)
    assert len(merged) == 2


def test_stitch_captions_docstring_example():
    pieces = [
        WindowSpans(Window(0.0, 100.0), (Span(10, 40, text="a"), Span(85, 100, text="b"))),
        WindowSpans(Window(80.0, 180.0), (Span(84, 120, text="b"), Span(130, 150, text="c"))),
    ]
    assert stitch_captions(pieces) == (
        Span(10, 40, text="a"),
        Span(85, 120, text="b"),
        Span(130, 150, text="c"),
    )


def test_stitch_captions_follows_an_event_through_three_windows():
    pieces = [
        WindowSpans(Window(0.0, 10.0), (Span(2, 10, text="long"),)),
        WindowSpans(Window(8.0, 18.0), (Span(8, 18, text="long"),)),
        WindowSpans(Window(16.0, 26.0), (Span(16, 21, text="long"), Span(23, 25, text="end"))),
    ]
    assert stitch_captions(pieces) == (Span(2, 21, text="long"), Span(23, 25, text="end"))


def test_stitch_captions_removes_near_duplicates_at_a_seam():
    pieces = [
        WindowSpans(Window(0.0, 100.0), (Span(88.5, 95, text="x"),)),
        WindowSpans(Window(80.0, 180.0), (Span(90.5, 95, text="x again"),)),  # starts after the seam at 90
    ]
    assert stitch_captions(pieces) == (Span(88.5, 95, text="x"),)


def test_stitch_captions_single_window_sorts_by_start():
    pieces = [WindowSpans(Window(0.0, 50.0), (Span(20, 30, text="b"), Span(1, 5, text="a")))]
    assert [c.text for c in stitch_captions(pieces)] == ["a", "b"]
