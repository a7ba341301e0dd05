"""Timecode formatting and parsing: styles, drop-frame labels, exact round trips, refusals."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vidground.errors import TimecodeError
from vidground.output.timecodes import TimeStyle, format_timecode, parse_timecode

NTSC_24 = 24000 / 1001
NTSC_30 = 30000 / 1001
NTSC_60 = 60000 / 1001


@pytest.mark.parametrize(
    ("seconds", "style", "expected"),
    [
        (12.5, "seconds", "12.5s"),
        (64, "seconds", "64.0s"),
        (0, "seconds", "0.0s"),
        (1.2344, TimeStyle.SECONDS, "1.234s"),
        (1.2346, "seconds", "1.235s"),
        (59.9996, "seconds", "60.0s"),
        (12.5, "clock", "00:00:12.500"),
        (3723.25, TimeStyle.CLOCK, "01:02:03.250"),
        (59.9996, "clock", "00:01:00.000"),
        (100 * 3600 + 1, "clock", "100:00:01.000"),
    ],
)
def test_format_seconds_and_clock(seconds: float, style: str, expected: str) -> None:
    assert format_timecode(seconds, style=style) == expected


def test_format_defaults_to_seconds_style() -> None:
    assert format_timecode(7.25) == "7.25s"


@pytest.mark.parametrize(
    ("frame", "fps", "expected"),
    [
        (0, 25, "00:00:00:00"),
        (24, 25, "00:00:00:24"),
        (25, 25, "00:00:01:00"),
        (90_000, 25, "01:00:00:00"),
        (24, NTSC_24, "00:00:01:00"),  # 23.976 counts 24 labels a second, non-drop
        (86_400, NTSC_24, "01:00:00:00"),
        (59, 60, "00:00:00:59"),
        (1799, NTSC_30, "00:00:59;29"),
        (1800, NTSC_30, "00:01:00;02"),  # labels ;00 and ;01 of minute 1 are skipped
        (3598, NTSC_30, "00:02:00;02"),
        (17_982, NTSC_30, "00:10:00;00"),  # every tenth minute keeps all labels
        (107_892, NTSC_30, "01:00:00;00"),
        (215_784, NTSC_30, "02:00:00;00"),
        (3599, NTSC_60, "00:00:59;59"),
        (3600, NTSC_60, "00:01:00;04"),  # labels ;00-;03 skipped at 59.94
        (35_964, NTSC_60, "00:10:00;00"),
        (215_784, NTSC_60, "01:00:00;00"),
        (13, 12.5, "00:00:01:00"),  # odd rate: nominal round-half-up(12.5) = 13 labels a second
        (119, 120, "00:00:00:119"),  # three-digit frame field above 100 fps
    ],
)
def test_format_hmsf_known_labels(frame: int, fps: float, expected: str) -> None:
    assert format_timecode(frame / fps, fps=fps, style="hmsf") == expected
    assert parse_timecode(expected, fps=fps) == pytest.approx(frame / fps, abs=1e-9)


@pytest.mark.parametrize("fps", [29.97, 29.97003, NTSC_30])
def test_ntsc_rate_detected_within_tolerance(fps: float) -> None:
    assert format_timecode(1800 / NTSC_30, fps=fps, style="hmsf") == "00:01:00;02"


def test_hmsf_picks_the_frame_containing_the_time() -> None:
    assert format_timecode(0.079, fps=25, style="hmsf") == "00:00:00:01"  # frame 1 covers [0.04, 0.08)
    assert format_timecode(0.08, fps=25, style="hmsf") == "00:00:00:02"
    assert parse_timecode(format_timecode(0.079, fps=25, style="hmsf"), fps=25) == pytest.approx(0.04)


RATES = [(NTSC_24, 0), (24, 0), (25, 0), (NTSC_30, 2), (30, 0), (NTSC_60, 4), (60, 0)]


def _frames_to_check(fps: float, drop: int) -> list[int]:
    """Every frame near each minute boundary over two hours, plus a prime stride across the whole range."""
    total = math.ceil(2 * 3600 * fps)
    frames = set(range(0, total, 97))
    for minute in range(121):
        # Frame numbers around where each minute's labels start, in drop-frame counting and in real time.
        per_minute = 60 * round(fps) - drop
        per_ten = 10 * per_minute + drop
        label_start = (minute // 10) * per_ten + (minute % 10) * per_minute + (drop if minute % 10 else 0)
        for centre in (label_start, round(minute * 60 * fps)):
            frames.update(range(max(0, centre - 6), min(total, centre + 6)))
    return sorted(frames)


@pytest.mark.parametrize(("fps", "drop"), RATES, ids=[f"{r:.3f}" for r, _ in RATES])
def test_hmsf_round_trip_is_frame_exact_over_two_hours(fps: float, drop: int) -> None:
    previous = ""
    for frame in _frames_to_check(fps, drop):
        tc = format_timecode(frame / fps, fps=fps, style="hmsf")
        assert (";" in tc) == bool(drop)
        assert tc > previous, f"labels must increase: frame {frame} gave {tc} after {previous}"
        previous = tc
        seconds = parse_timecode(tc, fps=fps)
        assert abs(seconds * fps - frame) < 1e-6, f"{tc} read back as frame {seconds * fps}, expected {frame}"
        assert format_timecode(seconds, fps=fps, style="hmsf") == tc


@pytest.mark.parametrize("fps", [NTSC_30, NTSC_60])
def test_drop_frame_labels_cover_consecutive_frames(fps: float) -> None:
    # Ten minutes of consecutive frames: each label's successor is exactly the next frame.
    labels = [format_timecode(n / fps, fps=fps, style="hmsf") for n in range(0, round(600 * fps) + 2)]
    assert len(set(labels)) == len(labels)
    assert labels == sorted(labels)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12.5s", 12.5),
        ("12.5", 12.5),
        (" 12.5 seconds ", 12.5),
        ("7 sec", 7.0),
        (".5s", 0.5),
        ("1:02.5", 62.5),
        ("00:23.90", 23.9),  # cookbook mm:ss.ff: .90 is hundredths
        ("01:35.60", 95.6),
        ("12:34.56s", 754.56),  # Qwen's training form
        ("75:00", 4500.0),
        ("01:02:03.250", 3723.25),
        ("01:02:03", 3723.0),
        ("00:00:12.500", 12.5),
    ],
)
def test_parse_timecode_forms(text: str, expected: float) -> None:
    assert parse_timecode(text) == pytest.approx(expected, abs=1e-9)


def test_parse_hmsf_colon_at_drop_rate_is_a_non_drop_count() -> None:
    assert parse_timecode("00:01:00:00", fps=29.97) == pytest.approx(1800 / NTSC_30)


@pytest.mark.parametrize(
    ("text", "fps", "message"),
    [
        ("", None, "is not one of"),
        ("abc", None, "is not one of"),
        ("-1.5s", None, "negative"),
        ("-00:01", None, "negative"),
        ("nan", None, "is not one of"),
        ("inf", None, "is not one of"),
        ("1:75", None, "seconds field must be < 60"),
        ("01:60:00", None, "must be < 60"),
        ("12.5.3", None, "is not one of"),
        ("00:00:01:12", None, "needs the video's fps"),
        ("00:00:01:25", 25, "frame field must be < 25"),
        ("00:00:01;12", 25, "needs 29.97 or 59.94"),
        ("00:01:00;00", 29.97, "skipped label"),
        ("00:01:00;01", 29.97, "skipped label"),
        ("00:02:00;03", 59.94, "skipped label"),
    ],
)
def test_parse_timecode_refusals(text: str, fps: float | None, message: str) -> None:
    with pytest.raises(TimecodeError, match=message):
        parse_timecode(text, fps=fps)


def test_parse_drop_frame_tenth_minute_keeps_labels() -> None:
    assert parse_timecode("00:10:00;00", fps=29.97) == pytest.approx(17_982 / NTSC_30)


@pytest.mark.parametrize("bad", [-0.001, float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("style", list(TimeStyle))
def test_format_refuses_negative_and_non_finite(bad: float, style: TimeStyle) -> None:
    with pytest.raises(TimecodeError, match="time must be"):
        format_timecode(bad, fps=25, style=style)


def test_format_refusals_name_the_problem() -> None:
    with pytest.raises(TimecodeError, match="need the video's fps"):
        format_timecode(1.0, style="hmsf")
    with pytest.raises(TimecodeError, match="fps must be a finite number > 0"):
        format_timecode(1.0, fps=0, style="hmsf")
    with pytest.raises(TimecodeError, match="style must be one of"):
        format_timecode(1.0, style="frames")


@given(st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False))
def test_seconds_and_clock_round_trip_to_milliseconds(seconds: float) -> None:
    for style in (TimeStyle.SECONDS, TimeStyle.CLOCK):
        text = format_timecode(seconds, style=style)
        back = parse_timecode(text)
        assert abs(back - seconds) <= 0.0005 + 1e-9
        assert format_timecode(back, style=style) == text


@given(
    st.sampled_from([NTSC_24, 24.0, 25.0, NTSC_30, 30.0, NTSC_60, 60.0, 12.5]),
    st.floats(min_value=0, max_value=7200, allow_nan=False, allow_infinity=False),
)
def test_hmsf_parse_of_format_is_the_frame_start(fps: float, seconds: float) -> None:
    tc = format_timecode(seconds, fps=fps, style="hmsf")
    start = parse_timecode(tc, fps=fps)
    assert start <= seconds + 1e-9
    assert seconds < start + 1 / fps + 1e-9
    assert format_timecode(start, fps=fps, style="hmsf") == tc
