"""Timecodes: seconds of video time written as text, and read back.

Three styles (``TimeStyle``):

- ``seconds``: ``"12.5s"`` — millisecond precision, trailing zeros trimmed to one decimal (``64.0s``,
  ``1.234s``).
- ``clock``: ``"HH:MM:SS.mmm"`` — millisecond precision, hours grow past two digits when needed.
- ``hmsf``: SMPTE ``"HH:MM:SS:FF"``, frames at the video's frame rate; drop-frame ``"HH:MM:SS;FF"`` at 29.97
  and 59.94 fps.

Frame-rate rules for ``hmsf``:

- Rates within 0.01 of 24000/1001, 30000/1001 or 60000/1001 are the NTSC rates and are snapped to the exact
  fraction. 29.97 and 59.94 are written drop-frame (nominal 30 / 60 labels per second; labels 0-1 / 0-3
  skipped at the start of each minute except every tenth minute). 23.976 is non-drop at nominal 24.
- Any other rate uses nominal = fps rounded half up (12.5 fps -> 13 labels per second, 25 -> 25). When fps is
  not an integer the label drifts from wall-clock time, exactly as 23.976 non-drop does; frame numbers stay
  exact.
- A timecode names a frame: it stands for that frame's start time ``frame / fps``. Formatting a time picks the
  frame containing it, so ``parse_timecode(format_timecode(t))`` is the start of t's frame and
  ``format_timecode(parse_timecode(tc)) == tc`` for every valid label.

``parse_timecode`` reads all three styles and the looser forms models write: ``"12.5"``, ``"12.5 seconds"``,
``"1:02.5"`` (m:ss), ``"00:23.90"`` (the cookbook's mm:ss.ff, where ``.ff`` is hundredths of a second, i.e. an
ordinary decimal fraction) and ``"12:34.56s"`` (Qwen's training form, minutes:seconds.hundredths).
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass
from enum import StrEnum

from vidground.errors import TimecodeError

__all__ = ["TimeStyle", "format_timecode", "parse_timecode"]


class TimeStyle(StrEnum):
    """How ``format_timecode`` writes a time."""

    SECONDS = "seconds"  # "12.5s"
    CLOCK = "clock"  # "HH:MM:SS.mmm"
    HMSF = "hmsf"  # "HH:MM:SS:FF", drop-frame "HH:MM:SS;FF" at 29.97 / 59.94


_NTSC_TOLERANCE = 0.01
# A product t * fps this close to an integer is that frame's start (absorbs float error from frame / fps).
_FRAME_EPSILON = 1e-6


@dataclass(frozen=True)
class _Rate:
    """A frame rate as timecodes count it."""

    fps: float  # real frames per second; frame n starts at n / fps
    nominal: int  # frame labels per timecode second
    drop: int  # labels skipped at each minute not divisible by ten (0 = non-drop)


def _rate(fps: float | None) -> _Rate:
    if fps is None:
        raise TimecodeError("hmsf timecodes need the video's fps, got fps=None")
    if isinstance(fps, bool) or not math.isfinite(fps) or fps <= 0:
        raise TimecodeError(f"fps must be a finite number > 0, got {fps!r}")
    for base, drop in ((24, 0), (30, 2), (60, 4)):
        ntsc = base * 1000 / 1001
        if abs(fps - ntsc) < _NTSC_TOLERANCE:
            return _Rate(fps=ntsc, nominal=base, drop=drop)
    return _Rate(fps=float(fps), nominal=max(1, math.floor(fps + 0.5)), drop=0)


def _check_seconds(seconds: float) -> float:
    if isinstance(seconds, bool) or not isinstance(seconds, numbers.Real):
        raise TimecodeError(f"time must be a number of seconds, got {seconds!r}")
    if not math.isfinite(seconds):
        raise TimecodeError(f"time must be finite, got {seconds!r}")
    if seconds < 0:
        raise TimecodeError(f"time must be >= 0 seconds, got {seconds!r}")
    return float(seconds)


def _frame_containing(seconds: float, rate: _Rate) -> int:
    """Number of the frame whose interval [n / fps, (n + 1) / fps) holds ``seconds``.

    Example at 25 fps: 0.039 s -> frame 0, 0.04 s -> frame 1; 1 / 25 * 25 = 0.99999... still gives frame 1.
    """
    x = seconds * rate.fps
    nearest = round(x)
    if abs(x - nearest) <= _FRAME_EPSILON:
        return int(nearest)
    return math.floor(x)


def _frame_to_label(frame: int, rate: _Rate) -> tuple[int, int, int, int]:
    """(hours, minutes, seconds, frames) label of a frame number.

    Drop-frame example at 29.97 (nominal 30, drop 2): a ten-minute block holds 10 * 1800 - 9 * 2 = 17982
    frames and every minute after its first holds 1798. Frame 1800 lies 2 frames into the block's second
    minute, so 2 skipped labels are added: label count 1802 = 00:01:00;02. Frame 17982 starts the next block,
    00:10:00;00.
    """
    count = frame
    if rate.drop:
        per_minute = 60 * rate.nominal - rate.drop
        per_ten = 10 * 60 * rate.nominal - 9 * rate.drop
        blocks, within = divmod(frame, per_ten)
        extra_minutes = max(0, (within - rate.drop) // per_minute)
        count = frame + 9 * rate.drop * blocks + rate.drop * extra_minutes
    total_seconds, ff = divmod(count, rate.nominal)
    total_minutes, ss = divmod(total_seconds, 60)
    hh, mm = divmod(total_minutes, 60)
    return hh, mm, ss, ff


def _label_to_frame(hh: int, mm: int, ss: int, ff: int, rate: _Rate, drop_frame: bool) -> int:
    """Frame number of a label; the inverse of ``_frame_to_label``.

    Drop-frame example at 29.97: 00:01:00;02 counts 1802 labels, minus 2 skipped in minute 1 -> frame 1800.
    """
    count = ((hh * 60 + mm) * 60 + ss) * rate.nominal + ff
    if not drop_frame:
        return count
    total_minutes = hh * 60 + mm
    return count - rate.drop * (total_minutes - total_minutes // 10)


def _ms_parts(seconds: float) -> tuple[int, int]:
    ms = round(seconds * 1000)
    return divmod(ms, 1000)


def format_timecode(seconds: float, *, fps: float | None = None, style: TimeStyle | str = "seconds") -> str:
    """Write a time of video as text.

    Args:
        seconds: time in seconds (>= 0, finite).
        fps: the video's frame rate in frames per second; required for ``hmsf``, ignored otherwise.
        style: a ``TimeStyle`` or its value (``"seconds"``, ``"clock"``, ``"hmsf"``).

    Returns:
        ``"12.5s"``, ``"00:00:12.500"`` or ``"00:00:12:12"`` (25 fps; ``"00:00:12;14"`` style at 29.97).

    Raises:
        TimecodeError: negative, NaN or infinite ``seconds``; unknown style; ``hmsf`` without a valid fps.
    """
    value = _check_seconds(seconds)
    try:
        chosen = TimeStyle(style)
    except ValueError:
        known = ", ".join(s.value for s in TimeStyle)
        raise TimecodeError(f"timecode style must be one of {known}, got {style!r}") from None
    if chosen is TimeStyle.SECONDS:
        whole, ms = _ms_parts(value)
        fraction = f"{ms:03d}".rstrip("0") or "0"
        return f"{whole}.{fraction}s"
    if chosen is TimeStyle.CLOCK:
        whole, ms = _ms_parts(value)
        minutes, ss = divmod(whole, 60)
        hh, mm = divmod(minutes, 60)
        return f"{hh:02d}:{mm:02d}:{ss:02d}.{ms:03d}"
    rate = _rate(fps)
    hh, mm, ss, ff = _frame_to_label(_frame_containing(value, rate), rate)
    width = max(2, len(str(rate.nominal - 1)))
    sep = ";" if rate.drop else ":"
    return f"{hh:02d}:{mm:02d}:{ss:02d}{sep}{ff:0{width}d}"


_UNIT = r"(?:s|secs?|seconds?)"
_PLAIN_RE = re.compile(rf"(\d+(?:\.\d*)?|\.\d+)\s*{_UNIT}?", re.IGNORECASE)
_COLON_RE = re.compile(rf"(\d+):(\d{{1,2}})(?::(\d{{1,2}}))?(\.\d+)?\s*{_UNIT}?", re.IGNORECASE)
_HMSF_RE = re.compile(r"(\d+):(\d{1,2}):(\d{1,2})([:;])(\d{1,3})")


def parse_timecode(text: str, *, fps: float | None = None) -> float:
    """Read a timecode written in any style back to seconds.

    Accepted forms: ``"12.5s"``, ``"12.5"``, ``"12.5 seconds"``; ``"1:02.5"``, ``"00:23.90"``, ``"12:34.56s"``
    (minutes:seconds with a decimal fraction, so ``.90`` is 0.9 s); ``"01:02:03.250"``
    (hours:minutes:seconds); ``"01:02:03:12"`` and drop-frame ``"01:02:03;12"`` (hmsf, needs ``fps``). The
    leading field may exceed 59 (``"75:00"`` is 75 minutes); the others may not. A ``:`` frame separator at
    29.97 fps is read as a non-drop count (frame = label count); a ``;`` separator needs a drop-frame rate.

    Args:
        text: the timecode; surrounding whitespace is ignored.
        fps: the video's frame rate; required only for hmsf.

    Returns:
        Seconds (float); for hmsf the start time of the named frame, ``frame / fps``.

    Raises:
        TimecodeError: malformed or negative text, fields out of range, hmsf without fps, a drop-frame label
            that does not exist (e.g. ``00:01:00;00`` at 29.97) or ``;`` at a non-drop rate.
    """
    if not isinstance(text, str):
        raise TimecodeError(f"timecode must be a string, got {text!r}")
    s = text.strip()
    if m := _PLAIN_RE.fullmatch(s):
        return float(m.group(1))
    if m := _COLON_RE.fullmatch(s):
        first, second, third, fraction = m.groups()
        extra = float(fraction) if fraction else 0.0
        if third is None:  # minutes:seconds
            if int(second) >= 60:
                raise TimecodeError(f"seconds field must be < 60 in timecode {text!r}, got {second}")
            return int(first) * 60 + int(second) + extra
        if int(second) >= 60 or int(third) >= 60:
            raise TimecodeError(f"minutes and seconds fields must be < 60 in timecode {text!r}")
        return (int(first) * 60 + int(second)) * 60 + int(third) + extra
    if m := _HMSF_RE.fullmatch(s):
        if fps is None:
            raise TimecodeError(f"hmsf timecode {text!r} needs the video's fps, got fps=None")
        rate = _rate(fps)
        hh, mm, ss, ff = (int(m.group(i)) for i in (1, 2, 3, 5))
        drop_frame = m.group(4) == ";"
        if mm >= 60 or ss >= 60:
            raise TimecodeError(f"minutes and seconds fields must be < 60 in timecode {text!r}")
        if ff >= rate.nominal:
            raise TimecodeError(f"frame field must be < {rate.nominal} at {fps} fps in {text!r}, got {ff}")
        if drop_frame and not rate.drop:
            raise TimecodeError(f"drop-frame timecode {text!r} needs 29.97 or 59.94 fps, got {fps}")
        if drop_frame and ss == 0 and mm % 10 != 0 and ff < rate.drop:
            raise TimecodeError(f"drop-frame timecode {text!r} names a skipped label (0-{rate.drop - 1})")
        return _label_to_frame(hh, mm, ss, ff, rate, drop_frame) / rate.fps
    if s.startswith("-"):
        raise TimecodeError(f"timecode must not be negative, got {text!r}")
    raise TimecodeError(
        f"timecode {text!r} is not one of 12.5s, MM:SS.ff, HH:MM:SS.mmm, HH:MM:SS:FF or HH:MM:SS;FF"
    )
