"""Window planning for long videos: how long one call can look, covering a range with overlapping windows."""

from __future__ import annotations

import itertools

import pytest

from vidground.errors import SamplingError
from vidground.timeline import Span
from vidground.video.windows import (
    Window,
    candidate_windows,
    max_window_frames,
    max_window_s,
    plan_windows,
)


def test_max_window_frames_default_caps_is_max_frames():
    # 24,576 tokens at 8 tokens a frame would allow 3,072 frames; 768 decides.
    assert max_window_frames(max_frames=768, max_tokens=24576) == 768


def test_max_window_frames_token_budget_can_decide():
    # 16x28x28-pixel frames cost 8 tokens each: 1,000 tokens -> 125 frames -> 124 (even).
    assert max_window_frames(max_frames=768, max_tokens=1000) == 124


def test_max_window_s_default_is_384_seconds_at_2_fps():
    assert max_window_s(fps=2.0, max_frames=768, max_tokens=24576) == 384.0


def test_max_window_s_larger_frames_shorten_the_window():
    # 64x28x28 pixels = 32 tokens a frame: 24,576 / 32 = 768 frames; at 4 fps that is 192 s.
    assert max_window_s(fps=4.0, max_frames=4096, max_tokens=24576, min_frame_pixels=64 * 28 * 28) == 192.0


@pytest.mark.parametrize(
    "kwargs",
    [dict(fps=0.0, max_frames=768, max_tokens=24576), dict(fps=2.0, max_frames=1, max_tokens=24576)],
)
def test_max_window_s_refuses_impossible_caps(kwargs):
    with pytest.raises(SamplingError):
        max_window_s(**kwargs)


def test_plan_windows_worked_example():
    assert plan_windows(0.0, 1000.0, window_s=384.0, overlap_s=32.0) == (
        Window(0.0, 384.0),
        Window(308.0, 692.0),
        Window(616.0, 1000.0),
    )


def test_plan_windows_short_range_is_one_window():
    assert plan_windows(5.0, 100.0, window_s=384.0, overlap_s=32.0) == (Window(5.0, 100.0),)


@pytest.mark.parametrize(("start", "end", "window", "overlap"), [(0, 3600, 384, 38.4), (12.5, 777.7, 60, 5)])
def test_plan_windows_cover_the_range_with_the_overlap(start, end, window, overlap):
    windows = plan_windows(start, end, window_s=window, overlap_s=overlap)
    assert windows[0].start_s == start
    assert windows[-1].end_s == end
    for w in windows:
        assert w.duration_s <= window + 1e-9
    for a, b in itertools.pairwise(windows):
        assert a.end_s - b.start_s >= overlap - 1e-9
    assert len(windows) == len(plan_windows(start, end, window_s=window, overlap_s=overlap))


@pytest.mark.parametrize(
    ("start", "end", "overlap"), [(10.0, 10.0, 1.0), (0.0, 100.0, 50.0), (0.0, 100.0, -1.0)]
)
def test_plan_windows_refuses_bad_input(start, end, overlap):
    with pytest.raises(SamplingError):
        plan_windows(start, end, window_s=50.0, overlap_s=overlap)


def test_candidate_windows_joins_overlapping_candidates():
    windows = candidate_windows(
        [Span(120.0, 130.0), Span(100.0, 110.0)],
        start_s=0.0,
        end_s=1000.0,
        window_s=384.0,
        overlap_s=10.0,
        pad_s=10.0,
    )
    assert windows == (Window(90.0, 140.0),)


def test_candidate_windows_keeps_far_candidates_apart_and_clips_to_range():
    windows = candidate_windows(
        [Span(2.0, 5.0), Span(500.0, 510.0)],
        start_s=0.0,
        end_s=515.0,
        window_s=384.0,
        overlap_s=10.0,
        pad_s=10.0,
    )
    assert windows == (Window(0.0, 15.0), Window(490.0, 515.0))


def test_candidate_windows_splits_a_long_candidate_to_fit_one_call():
    windows = candidate_windows(
        [Span(100.0, 900.0)], start_s=0.0, end_s=1000.0, window_s=384.0, overlap_s=32.0, pad_s=10.0
    )
    assert windows[0].start_s == 90.0 and windows[-1].end_s == 910.0
    assert all(w.duration_s <= 384.0 for w in windows)
    assert len(windows) == 3


def test_candidate_windows_without_candidates_is_empty():
    assert candidate_windows([], start_s=0.0, end_s=10.0, window_s=5.0, overlap_s=1.0, pad_s=1.0) == ()


def test_candidate_windows_ignore_candidates_outside_the_range():
    # A model answer just past the analysed range's end used to leave a 0.1 s window: too short to sample.
    windows = candidate_windows(
        [Span(39.9, 41.0), Span(-5.0, -1.0)],
        start_s=0.0,
        end_s=30.0,
        window_s=384.0,
        overlap_s=10.0,
        pad_s=10.0,
    )
    assert windows == ()


def test_candidate_windows_at_the_range_end_keep_their_padding():
    windows = candidate_windows(
        [Span(30.0, 30.0)], start_s=0.0, end_s=30.0, window_s=384.0, overlap_s=10.0, pad_s=10.0
    )
    assert windows == (Window(20.0, 30.0),)
