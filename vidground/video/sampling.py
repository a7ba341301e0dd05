"""Which frames to decode and at what size: Qwen's dynamic-FPS sampling under a strict token budget.

``plan_frames(probe, options)`` turns what the container says about a video into a
:class:`~vidground.timeline.FramePlan`, in four pure steps:

1. :func:`frame_range_s` - the source frames inside ``video_start``..``video_end`` seconds;
2. :func:`smart_nframes` - how many of them to sample (``fps`` or ``nframes``; even, 4..768 by default);
3. :func:`sample_indices` - which ones: ``round(linspace(first, last, n))``, both ends included;
4. :func:`frame_size` - the frame size, a multiple of 28 on each side, from the per-frame share of the token
   budget and :func:`smart_resize`.

The reference is qwen-vl-utils 0.0.14 (``smart_nframes``, ``calculate_video_frame_range``, the index selection
of its decord/torchcodec readers, ``smart_resize`` and ``fetch_video``'s per-frame pixel budget). For the same
parameters vidground gives the same frame count, indices, ``sample_fps`` and size, except for these deliberate
differences:

1. **The token budget is strict.** Each model call gets at most ``max_tokens`` (default 24,576) video tokens;
   ``total_pixels`` is the same budget in pixels (784 pixels per token). An explicit budget, in either
   spelling, replaces the default; given both, the smaller wins. The reference defaults to
   ``MODEL_SEQ_LEN * 784 * 0.9`` pixels (115,200 tokens), and its per-frame floor ``int(min_pixels * 1.05)``
   can push the total past its own budget. vidground keeps the reference's size whenever that fits the
   budget; otherwise it lowers ``min_pixels`` to the per-frame cap ``budget / (n / 2)`` tokens and resizes to
   fit under it. If even one 28x28 grid per two frames does not fit, it raises :class:`SamplingError`.
2. **Default video ``min_pixels`` is 16x28x28 = 12,544** (Qwen's cookbook), not the reference's 128x28x28.
   When ``max_pixels`` is given below it and ``min_pixels`` is not, the default is lowered to ``max_pixels``.
3. **smart_resize's shrink branch never returns a side below 28.** PyPI 0.0.14 lost that clamp and returns 0
   for aspect ratios above ``max_pixels / 784``. Where a side kept at 28 would then overshoot the budget, the
   long side is shortened (the only case where the aspect ratio is not kept).
4. **Errors are :class:`SamplingError`** with a one-line message naming the input, expected vs got: a 1-frame
   video or range, ``nframes`` above the frames in range, aspect ratio above 200, ``video_start`` at or after
   ``video_end``, ``fps`` <= 0, both ``fps`` and ``nframes``, negative values. The reference raises bare
   ``ValueError`` or ``AssertionError`` for some of these and silently clamps negative times to 0.

5. **Variable frame rate is sampled on real times.** Frame times come from the container
   (``probe.frame_times_s``), not from ``i / fps``. Where they follow the average rate (constant frame rate),
   the arithmetic that picks frames is the reference's, with the average fps, bit for bit. Where they do not
   (variable rate, or a container whose stated rate is a guess), the reference would cut ``video_start`` ..
   ``video_end`` in the wrong place; vidground cuts it on the frames' times (:func:`frame_range_s`) and counts
   and times the samples with the range's real rate (frames in range / its real duration), so ``sample_fps``
   and ``second_per_grid`` describe the seconds the model really sees.
"""

from __future__ import annotations

import bisect
import math

import torch

from vidground.errors import InternalError, SamplingError
from vidground.options import (
    DEFAULT_FPS,
    DEFAULT_MAX_FRAMES,
    DEFAULT_MIN_FRAMES,
    DEFAULT_MIN_PIXELS,
    PIXELS_PER_TOKEN,
    SamplingOptions,
)
from vidground.timeline import FramePlan, SampledFrame, VideoProbe

FACTOR = 28  # pixels per side of one LLM token's grid: 14-pixel patches merged 2x2
FRAME_FACTOR = 2  # frames per temporal patch; sampled counts are always even
MIN_FRAMES = DEFAULT_MIN_FRAMES
MAX_FRAMES = DEFAULT_MAX_FRAMES
MAX_RATIO = 200
VIDEO_MAX_PIXELS = 768 * 28 * 28
MIN_PIXELS_SLACK = 1.05  # the reference raises the per-frame cap to at least int(min_pixels * 1.05)
NOMINAL_TOLERANCE = 0.1  # frames: times this close to i / fps are a constant rate (timestamp rounding)


def _check_seconds(name: str, value: float | None) -> None:
    if value is not None and not (math.isfinite(value) and value >= 0):
        raise SamplingError(f"{name} must be a time in seconds >= 0, got {value}")


def _check_source(total_frames: int, video_fps: float) -> None:
    if total_frames < 1:
        raise SamplingError(f"the video must have at least 1 frame, got total_frames={total_frames}")
    if not (math.isfinite(video_fps) and video_fps > 0):
        raise SamplingError(f"the video's frame rate must be a positive number, got video_fps={video_fps}")


DEFAULT_OPTIONS = SamplingOptions()


def frame_range(
    total_frames: int, video_fps: float, *, video_start: float | None, video_end: float | None
) -> tuple[int, int]:
    """First and last source frame (inclusive) inside ``video_start``..``video_end``, as qwen-vl-utils.

    Times are clamped to the video's length ``total_frames / video_fps``; the first frame is the first at or
    after ``video_start``, the last the last at or before ``video_end``.

    Example: 300 frames at 30 fps, ``video_start=2.5``, ``video_end=5.0``: first = ceil(2.5 * 30) = 75, last =
    min(floor(5.0 * 30), 299) = 150, so (75, 150): 76 frames. No times: (0, 299).

    Args:
        total_frames: frames in the video.
        video_fps: average frame rate, frames per second.
        video_start, video_end: seconds from the stream start, or None for the video's start / end.

    Returns:
        (first_idx, last_idx), source frame numbers, first < last unless the whole video is one frame.

    Raises:
        SamplingError: no frames, fps <= 0, negative times, or a range that holds fewer than 2 frames.
    """
    _check_source(total_frames, video_fps)
    _check_seconds("video_start", video_start)
    _check_seconds("video_end", video_end)
    if video_start is None and video_end is None:
        return 0, total_frames - 1
    duration_s = total_frames / video_fps
    first = 0 if video_start is None else math.ceil(min(video_start, duration_s) * video_fps)
    last = total_frames - 1
    if video_end is not None:
        last = min(math.floor(min(video_end, duration_s) * video_fps), total_frames - 1)
    if first >= last:
        raise SamplingError(
            f"time range video_start={video_start} s .. video_end={video_end} s holds source frames "
            f"{first}..{last} of a {duration_s:.3f} s video ({total_frames} frames at {video_fps:g} fps); "
            "expected at least 2 frames"
        )
    return first, last


def follows_nominal_rate(probe: VideoProbe) -> bool:
    """True when every frame time is ``i / probe.fps`` within a tenth of a frame (or the probe has no times).

    Then the reference's arithmetic (seconds -> frame numbers through the average rate) picks the frames the
    times say, and vidground keeps it bit for bit. A variable-rate stream, or a container whose stated rate
    disagrees with its timestamps, fails this and is sampled on its frames' real times instead.
    Example: times 0, 1/30, 2/30 at 30 fps -> True; 15 fps for 4 s then 30 fps at an average 22.5 -> False.
    """
    times_s = probe.frame_times_s
    if not times_s or not (math.isfinite(probe.fps) and probe.fps > 0):
        return True
    tolerance_s = NOMINAL_TOLERANCE / probe.fps
    return all(abs(t - i / probe.fps) <= tolerance_s for i, t in enumerate(times_s))


def frame_range_s(
    probe: VideoProbe, *, video_start: float | None, video_end: float | None
) -> tuple[int, int]:
    """First and last source frame (inclusive) shown inside ``video_start``..``video_end`` seconds.

    Where the frame times follow the average rate (:func:`follows_nominal_rate`) this is :func:`frame_range`,
    the reference's arithmetic. Otherwise the range is cut on the frames' real times: the first frame at or
    after ``video_start``, the last at or before ``video_end``.

    Example: 15 fps for 4 s (frames 0..59), then 30 fps (frames 60..179 at 4.0, 4.033, ... s), average
    22.5 fps, 4.0..6.0 s: (60, 120). The average rate would give ceil(4 * 22.5) = 90 (5.0 s) ..
    floor(6 * 22.5) = 135 (6.5 s).

    Args:
        probe: the video's probe (``n_frames``, ``fps``, ``frame_times_s``).
        video_start, video_end: seconds from the stream start, or None for the video's start / end.

    Returns:
        (first_idx, last_idx), source frame numbers, first < last unless the whole video is one frame.

    Raises:
        SamplingError: no frames, fps <= 0, negative times, or a range that holds fewer than 2 frames.
    """
    if follows_nominal_rate(probe):
        return frame_range(probe.n_frames, probe.fps, video_start=video_start, video_end=video_end)
    _check_source(probe.n_frames, probe.fps)
    _check_seconds("video_start", video_start)
    _check_seconds("video_end", video_end)
    times_s = probe.frame_times_s
    first = 0 if video_start is None else bisect.bisect_left(times_s, video_start)
    last = probe.n_frames - 1 if video_end is None else bisect.bisect_right(times_s, video_end) - 1
    if first >= last:
        raise SamplingError(
            f"time range video_start={video_start} s .. video_end={video_end} s holds "
            f"{max(last - first + 1, 0)} frame(s) of a video whose frames run {times_s[0]:.3f}..{times_s[-1]:.3f} s "
            f"({probe.n_frames} frames); expected at least 2 frames"
        )
    return first, last


def range_duration_s(probe: VideoProbe, first: int, last: int) -> float:
    """Seconds from frame ``first``'s start to the end of frame ``last``, on the frames' real times.

    The end of the last frame is the next frame's time, or the end of the video. Example: frames at 0, 3, 6,
    ..., 57 s in a 60 s video: (10, 19) -> 60 - 30 = 30 s. Without frame times: ``(last - first + 1) / fps``.
    """
    times_s = probe.frame_times_s
    if not times_s:
        return (last - first + 1) / probe.fps
    end_s = times_s[last + 1] if last + 1 < len(times_s) else times_s[0] + probe.duration_s
    if end_s <= times_s[last]:
        end_s = times_s[last] + 1 / probe.fps
    return end_s - times_s[first]


def smart_nframes(options: SamplingOptions, *, total_frames: int, video_fps: float) -> int:
    """How many frames to sample from ``total_frames`` source frames: even, between 2 and ``total_frames``.

    With ``nframes``: that count rounded to even (Python's round: ties go to even). Otherwise ``total_frames /
    video_fps * fps``, clamped to ``[min_frames, max_frames]`` (rounded up / down to even) and to
    ``total_frames``, then floored to even.

    Examples, 10 s at 30 fps (300 frames):
        fps 2: 300 / 30 * 2 = 20 frames; fps 0.5: 5, raised to min_frames -> 4;
        nframes=15: round(7.5) * 2 = 16; nframes=13: round(6.5) * 2 = 12.
    A 3-frame video at fps 2: min(max(0.2, 4), 3) = 3 -> floored to even: 2.

    Args:
        options: uses ``fps`` or ``nframes``, ``min_frames`` and ``max_frames``.
        total_frames: source frames in the sampled range.
        video_fps: average source frame rate, frames per second.

    Raises:
        SamplingError: fewer than 2 frames in range, or the count falls outside ``[2, total_frames]``
            (``nframes`` too large, ``max_frames`` below 2).
    """
    _check_source(total_frames, video_fps)
    if total_frames < FRAME_FACTOR:
        raise SamplingError(
            f"cannot sample a {total_frames}-frame video or range: Qwen2.5-VL needs at least "
            f"{FRAME_FACTOR} frames"
        )
    if options.nframes is not None:
        n = round(options.nframes / FRAME_FACTOR) * FRAME_FACTOR
        if not FRAME_FACTOR <= n <= total_frames:
            raise SamplingError(
                f"nframes={options.nframes} (as an even count: {n}) must lie in "
                f"[{FRAME_FACTOR}, {total_frames}], the frames in range; ask for {total_frames} or fewer"
            )
        return n
    fps = DEFAULT_FPS if options.fps is None else options.fps
    min_frames = math.ceil(options.min_frames / FRAME_FACTOR) * FRAME_FACTOR
    max_frames = math.floor(options.max_frames / FRAME_FACTOR) * FRAME_FACTOR
    wanted = total_frames / video_fps * fps
    n = math.floor(min(max(wanted, min_frames), max_frames, total_frames) / FRAME_FACTOR) * FRAME_FACTOR
    if n < FRAME_FACTOR:
        raise SamplingError(
            f"max_frames={options.max_frames} leaves {n} frames to sample; "
            f"expected max_frames >= {FRAME_FACTOR}"
        )
    return n


def sample_indices(start: int, end: int, n: int) -> list[int]:
    """``n`` source frame numbers spread evenly over ``start..end``, both ends included.

    ``round(linspace(start, end, n))`` computed as qwen-vl-utils does (torch float32, ties to even), so the
    indices match the reference bit for bit.

    Example: (0, 299, 20): step 299 / 19 = 15.74, so 0, 15.74, 31.47, 47.21, ... -> 0, 16, 31, 47, ..., 299.

    Args:
        start, end: first and last source frame of the range (inclusive).
        n: frames to pick, >= 1.

    Returns:
        ``n`` non-decreasing frame numbers, the first ``start``, the last ``end`` (when ``n`` >= 2).

    Raises:
        SamplingError: ``n`` < 1, ``start`` < 0 or ``end`` < ``start``.
    """
    if n < 1 or start < 0 or end < start:
        raise SamplingError(
            f"sample_indices needs n >= 1 and 0 <= start <= end, got start={start}, end={end}, n={n}"
        )
    points = torch.linspace(start, end, n, dtype=torch.float32).round().long()
    return [int(i) for i in points.tolist()]


def smart_resize(
    height: int, width: int, *, factor: int = FACTOR, min_pixels: float, max_pixels: float
) -> tuple[int, int]:
    """Round a frame size to multiples of ``factor``, its area in ``[min_pixels, max_pixels]``, same shape.

    As qwen-vl-utils: round each side to the nearest multiple of ``factor`` (ties to even, at least
    ``factor``); if that is above ``max_pixels``, scale the original size down by ``sqrt(h * w / max_pixels)``
    and floor each side; if below ``min_pixels``, scale up by ``sqrt(min_pixels / (h * w))`` and ceil. Unlike
    PyPI 0.0.14 the floor is kept at ``factor`` or more.

    Example: 1080x1920 with max_pixels 602112: 1092x1932 is too large; beta = sqrt(2073600 / 602112) = 1.856,
    so floor(581.9 / 28) * 28 = 560 and floor(1034.6 / 28) * 28 = 1008 -> (560, 1008).

    Args:
        height, width: source frame size in pixels.
        factor: both output sides are multiples of it (28 for Qwen2.5-VL).
        min_pixels, max_pixels: bounds on the output area in pixels.

    Returns:
        (height, width) in pixels. The area can exceed ``max_pixels`` only where a side is held at ``factor``
        or rounded up to reach ``min_pixels``.

    Raises:
        SamplingError: a side < 1, aspect ratio above 200, or ``min_pixels > max_pixels``.
    """
    if height < 1 or width < 1:
        raise SamplingError(f"frame size must be at least 1x1 pixels, got {height}x{width} (height x width)")
    if max_pixels < min_pixels:
        raise SamplingError(
            f"max_pixels must be >= min_pixels, got max_pixels={max_pixels}, min_pixels={min_pixels}"
        )
    ratio = max(height, width) / min(height, width)
    if ratio > MAX_RATIO:
        raise SamplingError(
            f"frame {height}x{width} (height x width) has aspect ratio {ratio:g}; "
            f"expected at most {MAX_RATIO}"
        )
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def budget_pixels(options: SamplingOptions) -> int:
    """The per-call video budget in pixels (:meth:`SamplingOptions.budget_pixels`)."""
    return options.budget_pixels()


def frame_size(
    height: int, width: int, *, nframes: int, options: SamplingOptions = DEFAULT_OPTIONS
) -> tuple[int, int]:
    """The size every sampled frame is resized to, so that ``nframes`` frames fit the token budget.

    Per-frame cap in pixels (the reference's): ``min(768 * 784, budget / nframes * 2)``, lowered to
    ``max_pixels``. The reference raises the cap to at least ``int(min_pixels * 1.05)``; that size is kept
    when the total still fits the budget, otherwise ``min_pixels`` is lowered to the cap and the frame fitted
    under it.

    Example: 1080x1920, 768 frames, budget 24,576 tokens: cap = 19267584 / 768 * 2 = 50176 px (64 tokens);
    floor int(12544 * 1.05) = 13171 is below it, so smart_resize(1080, 1920, 12544, 50176) = (168, 280):
    6 * 10 = 60 tokens per 2 frames, 384 * 60 = 23,040 tokens in all.

    Args:
        height, width: displayed source frame size in pixels.
        nframes: sampled frame count (even).
        options: uses ``min_pixels``, ``max_pixels``, ``total_pixels`` and ``max_tokens``.

    Returns:
        (height, width) in pixels, multiples of 28, with ``nframes / 2 * (height / 28) * (width / 28)`` <= the
        budget.

    Raises:
        SamplingError: aspect ratio above 200, or ``nframes / 2`` tokens (one 28x28 grid per 2 frames) exceed
            the budget.
    """
    budget = budget_pixels(options)
    groups = nframes // FRAME_FACTOR
    # The reference's expression and order of operations, so the floats are equal.
    cap = min(VIDEO_MAX_PIXELS, budget / nframes * FRAME_FACTOR)
    min_pixels = options.min_pixels
    if min_pixels is None:
        min_pixels = min(DEFAULT_MIN_PIXELS, options.max_pixels or DEFAULT_MIN_PIXELS)
    reference_cap = max(cap, int(min_pixels * MIN_PIXELS_SLACK))
    if options.max_pixels is not None:
        cap = min(options.max_pixels, cap)
        reference_cap = min(options.max_pixels, reference_cap)
    h, w = smart_resize(height, width, min_pixels=min_pixels, max_pixels=reference_cap)
    if groups * h * w <= budget:
        return h, w
    if cap < PIXELS_PER_TOKEN:
        raise SamplingError(
            f"{nframes} frames need at least {groups} tokens (one 28x28 grid per 2 frames) but the budget is "
            f"{budget / PIXELS_PER_TOKEN:g} tokens; lower fps, nframes or max_frames, or raise max_tokens"
        )
    h, w = smart_resize(height, width, min_pixels=min(min_pixels, cap), max_pixels=cap)
    if h * w > cap:
        h, w = _fit_under(height, width, cap)
    return h, w


def _fit_under(height: int, width: int, area: float) -> tuple[int, int]:
    """smart_resize's shrink branch; the long side shortened while a side held at 28 overshoots ``area``."""
    beta = math.sqrt(height * width / area)
    h = max(FACTOR, math.floor(height / beta / FACTOR) * FACTOR)
    w = max(FACTOR, math.floor(width / beta / FACTOR) * FACTOR)
    while h * w > area:
        if h >= w:
            h -= FACTOR
        else:
            w -= FACTOR
    return h, w


def plan_frames(probe: VideoProbe, options: SamplingOptions = DEFAULT_OPTIONS) -> FramePlan:
    """Plan which frames of a video to decode, at what size, and the time facts the model needs.

    Frame times are ``probe.frame_times_s[i]`` when the probe has them (exact for variable frame rate), else
    ``i / probe.fps``. ``start_s``/``end_s`` are the times of the first and last source frame in range; both
    are sampled, and the model's clock counts from ``start_s``.

    Example: 10 s at 30 fps (300 frames, 640x360), defaults: 20 frames 0, 16, 31, ..., 299 at 364x644 pixels;
    sample_fps = 20 / 300 * 30 = 2.0, second_per_grid = 1.0, grid_thw = (10, 26, 46), num_tokens = 10 * 13 *
    23 = 2990.

    Args:
        probe: the video's probe (``n_frames``, ``fps``, displayed ``height``/``width``, ``frame_times_s``).
        options: the sampling knobs; defaults to 2 fps, 4..768 frames, 24,576 tokens.

    Raises:
        SamplingError: the message starts with ``probe.path``; see :func:`frame_range`, :func:`smart_nframes`
            and :func:`frame_size`.
        InternalError: ``frame_times_s`` whose length is not ``n_frames`` (:func:`probe` never makes one).
    """
    try:
        return _plan(probe, options)
    except SamplingError as exc:
        raise SamplingError(f"{probe.path}: {exc}") from exc


def _plan(probe: VideoProbe, options: SamplingOptions) -> FramePlan:
    times_s = probe.frame_times_s
    if times_s and len(times_s) != probe.n_frames:  # probe() always gives one per frame
        raise InternalError(
            f"{probe.path}: probe has {len(times_s)} frame times, expected one per frame (n_frames={probe.n_frames})"
        )
    first, last = frame_range_s(probe, video_start=options.video_start, video_end=options.video_end)
    n_in_range = last - first + 1
    # The rate of the frames in range: the average rate (the reference's arithmetic, bit for bit) where the
    # times follow it, else frames per real second of the range, so 60 s are never presented as 0.83 s.
    range_fps = probe.fps if follows_nominal_rate(probe) else n_in_range / range_duration_s(probe, first, last)
    n = smart_nframes(options, total_frames=n_in_range, video_fps=range_fps)
    height, width = frame_size(probe.height, probe.width, nframes=n, options=options)

    def time_s(idx: int) -> float:
        return float(times_s[idx]) if times_s else idx / probe.fps

    sample_fps = n / n_in_range * range_fps
    groups = n // FRAME_FACTOR
    return FramePlan(
        frames=tuple(SampledFrame(index=i, time_s=time_s(i)) for i in sample_indices(first, last, n)),
        height=height,
        width=width,
        source_fps=probe.fps,
        n_source_frames=n_in_range,
        sample_fps=sample_fps,
        second_per_grid=FRAME_FACTOR / sample_fps,
        grid_thw=(groups, height // 14, width // 14),
        num_tokens=groups * (height // FACTOR) * (width // FACTOR),
        start_s=time_s(first),
        end_s=time_s(last),
    )
