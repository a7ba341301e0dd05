"""Time windows for videos too long for one model call at the target frame rate (spec section 11.5).

One call sees at most ``max_frames`` frames and ``max_tokens`` video tokens. At the target fps that covers
``max_window_s`` seconds of video; anything longer is looked at in windows of at most that length, each
sampled at the full target fps, and the answers are put back on the video's timeline
(``vidground.output.merge``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from vidground.errors import SamplingError
from vidground.timeline import Span

PIXELS_PER_TOKEN = 28 * 28  # one LLM token per 28x28 block after the 2x2 patch merge
FRAMES_PER_TEMPORAL_PATCH = 2  # two frames share one temporal patch
DEFAULT_MIN_FRAME_PIXELS = (
    16 * 28 * 28
)  # the smallest frame grounding still works with (Qwen's cookbook floor)


@dataclass(frozen=True)
class Window:
    """A stretch of video time in seconds, ``start_s`` < ``end_s``."""

    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def contains(self, time_s: float) -> bool:
        return self.start_s <= time_s <= self.end_s


def max_window_frames(
    *, max_frames: int, max_tokens: int, min_frame_pixels: int = DEFAULT_MIN_FRAME_PIXELS
) -> int:
    """The most frames one call can take: ``max_frames``, or fewer if the token budget runs out first.

    A frame of ``min_frame_pixels`` pixels costs ``min_frame_pixels / 784 / 2`` tokens (a 28x28 block is one
    token, two frames share it). Example: budget 24,576 tokens at 16x28x28-pixel frames (8 tokens a frame)
    allows 3,072 frames, so ``max_frames=768`` decides: 768. The result is rounded down to an even count.

    Raises:
        SamplingError: the caps allow fewer than two frames.
    """
    tokens_per_frame = min_frame_pixels / PIXELS_PER_TOKEN / FRAMES_PER_TEMPORAL_PATCH
    by_tokens = math.floor(max_tokens / tokens_per_frame)
    frames = min(max_frames, by_tokens) // 2 * 2
    if frames < 2:
        raise SamplingError(
            f"max_frames={max_frames}, max_tokens={max_tokens} at {min_frame_pixels} pixels a frame: "
            f"expected room for at least 2 frames, got {frames}"
        )
    return frames


def max_window_s(
    *, fps: float, max_frames: int, max_tokens: int, min_frame_pixels: int = DEFAULT_MIN_FRAME_PIXELS
) -> float:
    """The longest stretch of video, in seconds, one call covers at ``fps`` frames per second.

    Example: fps 2, ``max_frames=768``, budget 24,576 tokens → 768 frames / 2 fps = 384.0 s.

    Raises:
        SamplingError: ``fps`` is not positive, or the caps allow fewer than two frames.
    """
    if not fps > 0:
        raise SamplingError(f"fps: expected a positive frame rate, got {fps}")
    frames = max_window_frames(
        max_frames=max_frames, max_tokens=max_tokens, min_frame_pixels=min_frame_pixels
    )
    return frames / fps


def plan_windows(start_s: float, end_s: float, *, window_s: float, overlap_s: float) -> tuple[Window, ...]:
    """Cover ``[start_s, end_s]`` with the fewest windows of ``window_s`` seconds that overlap by
    ``overlap_s``.

    The windows are spread evenly, so neighbours overlap by at least ``overlap_s`` and the first and last
    touch the ends exactly. Example: 0..1000 s, ``window_s=384``, ``overlap_s=32``: ``ceil((1000-32)/(384-32))
    = 3`` windows, step ``(1000-384)/2 = 308`` s → [0, 384], [308, 692], [616, 1000] (overlaps of 76 s).

    Raises:
        SamplingError: the range is empty, or ``overlap_s`` is not in ``[0, window_s)``.
    """
    length = end_s - start_s
    if not length > 0:
        raise SamplingError(f"window range: expected start < end, got {start_s} .. {end_s}")
    if not 0 <= overlap_s < window_s:
        raise SamplingError(f"overlap_s: expected 0 <= overlap < window ({window_s} s), got {overlap_s}")
    if length <= window_s:
        return (Window(start_s, end_s),)
    count = math.ceil((length - overlap_s) / (window_s - overlap_s))
    step = (length - window_s) / (count - 1)
    windows = [Window(start_s + k * step, start_s + k * step + window_s) for k in range(count)]
    windows[-1] = Window(windows[-1].start_s, end_s)  # no float drift past the end
    return tuple(windows)


def candidate_windows(
    candidates: Sequence[Span],
    *,
    start_s: float,
    end_s: float,
    window_s: float,
    overlap_s: float,
    pad_s: float,
) -> tuple[Window, ...]:
    """Windows to re-ground around coarse candidates: each padded by ``pad_s``, overlapping ones joined.

    Each candidate becomes ``[start - pad_s, end + pad_s]`` clipped to ``[start_s, end_s]``; ranges that
    overlap are joined; a joined range longer than ``window_s`` is split with :func:`plan_windows`. Example:
    candidates 100-110 s and 120-130 s with ``pad_s=10`` → 90-120 and 110-140 overlap → one window [90, 140].
    A candidate wholly outside ``[start_s, end_s]`` (a model answer past the clip's end) is ignored, so every
    window keeps at least ``min(pad_s, end_s - start_s)`` seconds: with ``end_s=30`` and ``pad_s=10``, a
    candidate at 39.9-40 s would otherwise leave a 0.1 s window holding too few frames to sample.

    Args:
        candidates: spans in video seconds (order does not matter).
        start_s, end_s: the part of the video being analysed.
        window_s: the longest window one call covers (:func:`max_window_s`).
        overlap_s: the overlap used when a joined range must be split.
        pad_s: context added on each side of a candidate, in seconds.

    Returns:
        Windows sorted by start; empty when there are no candidates.

    Raises:
        SamplingError: ``start_s`` >= ``end_s`` or a bad ``overlap_s`` (see :func:`plan_windows`).
    """
    if not end_s > start_s:
        raise SamplingError(f"window range: expected start < end, got {start_s} .. {end_s}")
    ranges = sorted(
        (max(start_s, c.start_s - pad_s), min(end_s, c.end_s + pad_s))
        for c in candidates
        if c.end_s >= start_s and c.start_s <= end_s
    )
    joined: list[tuple[float, float]] = []
    for lo, hi in ranges:
        if joined and lo <= joined[-1][1]:
            joined[-1] = (joined[-1][0], max(joined[-1][1], hi))
        else:
            joined.append((lo, hi))
    windows: list[Window] = []
    for lo, hi in joined:
        if hi <= lo:
            continue
        windows.extend(plan_windows(lo, hi, window_s=window_s, overlap_s=overlap_s))
    return tuple(windows)


def end_on_cuts(windows: Sequence[Window], cuts_s: Sequence[float], *, slack_s: float) -> tuple[Window, ...]:
    """The same windows, each but the last ending on a shot cut where one lies in its last ``slack_s`` seconds.

    A window that ends on a cut hands the model whole shots, and its captions do not stop mid-shot. The end only
    moves earlier, and never before the next window's start, so the windows still cover the range. Example: windows
    [0, 384], [308, 692], [616, 1000], cuts at 350 and 690, slack 38.4 s: the cut at 350 lies in the first window's
    last 38.4 s, so it becomes [0, 350]; the second becomes [308, 690]; the last is unchanged.
    """
    cuts = sorted(cuts_s)
    out = []
    for i, window in enumerate(windows):
        if i + 1 < len(windows):
            floor_s = max(window.end_s - slack_s, windows[i + 1].start_s, window.start_s)
            inside = [c for c in cuts if floor_s < c <= window.end_s]
            if inside:
                window = Window(window.start_s, inside[-1])
        out.append(window)
    return tuple(out)
