"""Probe a video file: size, rotation, frame count and every frame's presentation time, from the container.

Frame times come from a demux-only pass over the video packets (no decoding): each packet's PTS, sorted into
presentation order. Only the first frame is decoded, to read the display-matrix rotation and to check that the
stream decodes at all. Decoders that index frames by sorted packet PTS (decord, and vidground's own PyAV path)
count frames the same way, so ``frame_times_s[i]`` is the time of the frame they call ``i``.
"""

from __future__ import annotations

import itertools
import logging
import operator
import os
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, NamedTuple

from vidground.errors import VideoDecodeError
from vidground.timeline import VideoProbe

logger = logging.getLogger(__name__)

MAX_SIDE_PX = 16384
# ffmpeg opens text files as "video" through its text-art demuxer; they are not videos for vidground.
_TEXT_FORMATS = frozenset({"tty"})


def _is_still_image(format_name: str) -> bool:
    """FFmpeg's single-image demuxers: ``image2`` (by extension) and ``jpeg_pipe``, ``png_pipe`` ... (by content).
    Animated GIF (``gif``) and MJPEG streams (``mjpeg``) are other demuxers, and are videos."""
    return any(name == "image2" or name.endswith("_pipe") for name in format_name.split(","))


_TEXT_CODECS = frozenset({"ansi", "bintext", "xbin", "idf"})


def probe(path: str | os.PathLike[str]) -> VideoProbe:
    """Read the facts of a file's first video stream.

    Args:
        path: a local video file.

    Returns:
        A :class:`VideoProbe`: displayed ``width``/``height`` (after rotation), ``rotation_deg`` (clockwise
        degrees the stored picture is turned for display: 0, 90, 180 or 270), exact ``n_frames``, ``fps`` (the
        stream's average frame rate, as decoders report it), ``duration_s`` (first PTS to the end of the last
        frame), ``vfr`` (judged from the PTS steps), ``has_audio``, ``frame_times_s`` (seconds from the stream
        start, in presentation order), ``keyframe_indices`` and ``damaged``: for a file with a cut-off end or a
        damaged stretch, what cannot be read and the readable range (the other facts then describe only the
        readable frames), else None.

    Raises:
        VideoDecodeError: missing, not a regular file (a pipe, ``-``), empty, unreadable (e.g. an MP4 cut before
            its index), not a video, audio-only, absurd size, no intact frame, or a first frame that does not
            decode.
    """
    import av

    file = Path(path)
    if file.is_dir():
        raise VideoDecodeError(file, "is a folder; expected a video file")
    if str(path) == "-" and not file.exists():
        raise VideoDecodeError(file, "standard input is not a regular file; pipes are not supported, give a video file")
    if file.exists() and not file.is_file():  # a FIFO, /dev/stdin, a device: no size, no seeking
        raise VideoDecodeError(
            file, "not a regular file (a pipe, device or socket); pipes are not supported, give a video file"
        )
    if not file.is_file():
        raise VideoDecodeError(file, "file not found; check the path")
    if file.stat().st_size == 0:
        raise VideoDecodeError(file, "file is empty (0 bytes); expected a video file")
    try:
        with av.open(str(file)) as container:
            return _probe_open(file, container)
    except av.error.FFmpegError as exc:
        raise VideoDecodeError(
            file, f"cannot be read as video ({_ffmpeg_reason(exc)}): corrupt, truncated or not a video file"
        ) from exc


def _probe_open(file: Path, container: Any) -> VideoProbe:
    import av

    if container.format.name in _TEXT_FORMATS:
        raise VideoDecodeError(file, "this is a text file, not a video; expected e.g. MP4/MKV/WebM")
    if _is_still_image(container.format.name):
        raise VideoDecodeError(file, f"this is a still image ({container.format.name}), not a video; expected "
                                     "e.g. MP4/MKV/WebM")  # fmt: skip
    if not container.streams.video:
        what = "audio-only file" if container.streams.audio else "no media streams"
        raise VideoDecodeError(file, f"no video stream ({what}); expected a file with a video track")
    stream = container.streams.video[0]
    codec = stream.codec_context.name
    if codec in _TEXT_CODECS:
        raise VideoDecodeError(file, f"codec {codec!r} is text art, not a video; expected e.g. H.264/HEVC/VP9/AV1")
    stored_w, stored_h = int(stream.codec_context.width), int(stream.codec_context.height)
    if not (0 < stored_w <= MAX_SIDE_PX and 0 < stored_h <= MAX_SIDE_PX):
        raise VideoDecodeError(
            file,
            f"video size {stored_w}x{stored_h} is outside 1..{MAX_SIDE_PX} pixels per side; re-encode it",
        )
    has_audio = bool(container.streams.audio)
    time_base: Fraction = stream.time_base
    # Read before demuxing: FFmpeg may re-guess a stream's start time while demuxing (Matroska without DTS),
    # and the decoders read it right after opening the file.
    origin = stream_origin_pts(stream)

    packets: list[_Packet] = []  # decode order
    n_discarded = 0
    demux_error: str | None = None
    keep = packets.append
    try:
        for packet in container.demux(stream):
            size = packet.size
            # A discarded packet is edit-list pre-roll (e.g. a cut made with ``ffmpeg -ss X -c copy``): the
            # decoder needs it as a reference but never shows it, so it is not a frame of the video.
            if packet.is_discard:
                n_discarded += size > 0
                continue
            pts = packet.pts
            if pts is None or size == 0:
                continue
            # Positional and a tuple underneath: this loop runs once per packet (108,000 for an hour at 30 fps).
            keep(_Packet(pts, packet.duration or 0, packet.is_keyframe, packet.is_corrupt))
    except av.error.FFmpegError as exc:
        if not packets:
            raise VideoDecodeError(
                file, f"demuxing stopped before the first frame ({_ffmpeg_reason(exc)}); the file is corrupt"
            ) from exc
        demux_error = _ffmpeg_reason(exc)
    if not packets:
        raise VideoDecodeError(file, "the video stream has no frames; expected at least one")
    listed = int(stream.frames or 0)
    last_pts = max(map(_PTS, packets))
    last_duration = _duration_at(packets, last_pts)
    # An edit list (a phone's trim) may leave listed samples that are never demuxed; that is only truncation
    # when the frames present also end early, more than two frame durations before the stream's duration.
    ends_early = stream.duration is None or (
        last_pts + last_duration - origin < int(stream.duration) - 2 * max(last_duration, 1)
    )
    missing_tail = listed > len(packets) + n_discarded and ends_early

    kept, damage = _usable(packets)
    if damage.tail_from_pts is not None or missing_tail or demux_error:
        reason = (
            f"demuxing stopped: {demux_error}"
            if demux_error
            else f"{listed} frames listed, {len(packets) + n_discarded} present"
            if missing_tail
            else "a frame's data is cut off"
        )
        damage = _Damage(damage.holes, damage.tail_from_pts, tail_reason=reason)
    rotation_deg, first_shown_pts = _first_frame(file)
    # Presentation order; frames that share a time (duplicate timestamps) stay in decode order.
    frames = sorted(kept, key=_PTS)
    if first_shown_pts is not None and first_shown_pts > frames[0].pts:
        # A stream cut mid-GOP (a TS recording joined late) starts with pictures whose references are
        # missing; no decoder can show them, so they are not frames either.
        frames = [p for p in frames if p.pts >= first_shown_pts]
    if damage.tail_reason is not None:
        frames = frames[: len(_readable_prefix([p.pts for p in frames], damage.tail_from_pts))]
    if not frames:
        raise VideoDecodeError(file, "no frame of the video stream is intact; the file is corrupt")
    pts_list = [p.pts for p in frames]
    frame_times_s = all_pts_to_seconds(pts_list, origin, time_base)
    keyframe_indices = tuple(itertools.compress(range(len(frames)), [p.key for p in frames]))
    steps = list(map(operator.sub, pts_list[1:], pts_list[:-1]))
    n_frames = len(pts_list)

    last_duration = _duration_at(packets, pts_list[-1])
    if last_duration <= 0:
        last_duration = int(statistics.median(steps)) if steps else 0
    duration_s = float((pts_list[-1] - pts_list[0] + last_duration) * time_base)
    fps = _frame_rate(stream.average_rate, n_frames=n_frames, duration_s=duration_s)
    damaged = _describe(damage, frame_times_s, duration_s, origin=origin, time_base=time_base, listed=listed)
    if damaged is not None:
        logger.info("damaged video path=%s: %s", file, damaged)
    # Steps across a damaged stretch are the damage, not a change of frame rate.
    steady = (
        [b - a for a, b in itertools.pairwise(pts_list) if not any(a < hi and b > lo for lo, hi in damage.holes)]
        if damage.holes
        else steps
    )
    width, height = (stored_h, stored_w) if rotation_deg in (90, 270) else (stored_w, stored_h)
    result = VideoProbe(
        path=str(file),
        duration_s=duration_s,
        fps=fps,
        n_frames=n_frames,
        width=width,
        height=height,
        codec=codec,
        vfr=is_vfr(steady),
        has_audio=has_audio,
        rotation_deg=rotation_deg,
        frame_times_s=frame_times_s,
        keyframe_indices=keyframe_indices,
        damaged=damaged,
    )
    logger.debug("probed path=%s n_frames=%d fps=%.3f size=%dx%d", file, n_frames, fps, width, height)
    return result


RATE_TOLERANCE = 0.01  # the container's frame rate is believed within 1 % of frames / duration
TAIL_GAP = 1.5  # a last step this many median steps long is a frame missing at the cut, not a slower rate
TAIL_REORDER = 16  # frames near a cut that can come before a missing one in decode order (H.264's limit)


class _Packet(NamedTuple):
    """What the probe keeps of one demuxed video packet (time-base ticks)."""

    pts: int
    duration: int
    key: bool
    corrupt: bool


_PTS = operator.itemgetter(0)  # _Packet.pts, as a key function


def _duration_at(packets: list[_Packet], pts: int) -> int:
    """The duration of the last packet at ``pts`` that gives one, else 0: the last *shown* frame's counts."""
    return next((p.duration for p in reversed(packets) if p.pts == pts and p.duration), 0)


@dataclass(frozen=True)
class _Damage:
    """Damaged stretches of a stream in PTS ticks: holes (lowest, highest unusable PTS) and a cut-off end."""

    holes: tuple[tuple[int, int], ...] = ()
    tail_from_pts: int | None = None  # the lowest PTS of the unusable packets at the end, when known
    tail_reason: str | None = None  # set when the end of the stream is missing or damaged


def _usable(packets: list[_Packet]) -> tuple[list[_Packet], _Damage]:
    """The packets a decoder can turn into pictures, and the damaged stretches between them.

    A packet whose data is cut off or flagged corrupt (``AV_PKT_FLAG_CORRUPT``: a short read at the end of a
    truncated file, a transport-stream continuity error) is unusable, and so is every packet after it in
    decode order up to the next keyframe, because they may predict from it. Example, decode order with
    keyframes K: ``K0 1 2 [3 corrupt] 4 K5 6`` keeps 0, 1, 2, 5, 6 and reports the hole (3, 4); if no keyframe
    follows, the stream is damaged from there to its end.
    """
    kept: list[_Packet] = []
    holes: list[tuple[int, int]] = []
    bad: list[int] = []  # PTS of the unusable packets of the stretch being skipped
    for packet in packets:
        if bad and packet.key and not packet.corrupt:
            holes.append((min(bad), max(bad)))
            bad = []
        if packet.corrupt or bad:
            bad.append(packet.pts)
            continue
        kept.append(packet)
    tail = min(bad) if bad else None
    return kept, _Damage(tuple(holes), tail)


def _readable_prefix(pts_sorted: list[int], tail_from_pts: int | None) -> list[int]:
    """The frames before a damaged end, without those shown after a frame that is missing at the cut.

    A reference picture decoded before the cut can be shown after B-pictures that came after it and are lost
    (decode order ``... 4 8 | 5 6 7`` cut at 5 leaves ``4, 8``); the readable video ends at 4. Frames at or
    after the first damaged PTS go, then a last step of more than 1.5 median steps among the last 16 frames
    ends the readable part before it. Example: PTS 0, 1, 2, 3, 4, 8 → 0..4.
    """
    frames = [p for p in pts_sorted if tail_from_pts is None or p < tail_from_pts]
    steps = [b - a for a, b in itertools.pairwise(frames)]
    if len(steps) < 2:
        return frames
    median = statistics.median(steps)
    first_checked = max(0, len(steps) - TAIL_REORDER)
    for k in range(first_checked, len(steps)):
        if steps[k] > TAIL_GAP * median:
            return frames[: k + 1]
    return frames


def _frame_rate(average: Fraction | None, *, n_frames: int, duration_s: float) -> float:
    """The stream's average frame rate: the container's, unless its timestamps say otherwise.

    Decoders report the container's average rate and qwen-vl-utils samples with it, so it is kept where it
    agrees with ``n_frames / duration_s`` within 1 %. A container may only guess: a Matroska header that says
    24 fps over 20 frames spread across 60 s would make the video 0.833 s long; there the timestamps win
    (0.333 fps).
    """
    measured = n_frames / duration_s if duration_s > 0 else 0.0
    if average is not None and average > 0:
        if measured <= 0 or abs(float(average) - measured) <= RATE_TOLERANCE * measured:
            return float(average)
    return measured


def _describe(
    damage: _Damage, times_s: tuple[float, ...], duration_s: float, *, origin: int, time_base: Fraction, listed: int
) -> str | None:
    """One line on what cannot be read and what can, or None for an intact stream."""
    parts: list[str] = []
    if damage.holes:
        spans = ", ".join(
            f"{pts_to_seconds(lo, origin, time_base):.3f}-{pts_to_seconds(hi, origin, time_base):.3f} s"
            for lo, hi in damage.holes
        )
        parts.append(f"damaged frames around {spans} cannot be read")
    if damage.tail_reason is not None:
        of_listed = f" of {listed} listed" if listed > len(times_s) else ""
        parts.append(
            f"the end is missing or damaged ({damage.tail_reason}); only {times_s[0]:.3f}-"
            f"{times_s[0] + duration_s:.3f} s can be read ({len(times_s)} frames{of_listed})"
        )
    return "; ".join(parts) if parts else None


def pts_to_seconds(pts: int, origin_pts: int, time_base: Fraction) -> float:
    """Seconds from the stream start, computed exactly and rounded once to float.

    Example: pts 1536, origin 0, time base 1/15360 → 0.1 s. Probe and both decoders use this one function, so
    the same frame gets the same float everywhere. Python's int / int is correctly rounded, so this is
    ``float(Fraction(pts - origin_pts) * time_base)`` without building a Fraction per frame (a third of the
    1-hour benchmark file's probe time).
    """
    return (pts - origin_pts) * time_base.numerator / time_base.denominator


def all_pts_to_seconds(pts: Iterable[int], origin_pts: int, time_base: Fraction) -> tuple[float, ...]:
    """:func:`pts_to_seconds` of each PTS, the same floats, without a function call per frame (a probe converts
    every frame's PTS: 108,000 for an hour at 30 fps)."""
    ticks, per = time_base.numerator, time_base.denominator
    return tuple([(p - origin_pts) * ticks / per for p in pts])


def stream_origin_pts(stream: Any) -> int:
    """The PTS that counts as time 0 of a stream: its start time, or 0 when the container gives none."""
    return int(stream.start_time) if stream.start_time is not None else 0


def is_vfr(steps: list[int]) -> bool:
    """True when the PTS steps (in time-base ticks) differ by more than timestamp rounding explains.

    A constant rate stored in a coarse time base (30 fps in milliseconds: steps of 33 and 34) is still
    constant, so steps may differ by up to 2 ticks or 1 % of the median step, whichever is larger.
    Example: steps [512, 512, 512] → False; [33, 34, 33] → False; [20, 50, 33] → True.
    """
    if len(steps) < 2:
        return False
    median = statistics.median(steps)
    tolerance = max(2.0, 0.01 * median)
    return max(steps) - min(steps) > tolerance


def _first_frame(file: Path) -> tuple[int, int | None]:
    """The first frame a decoder really shows: its clockwise display rotation (0, 90, 180 or 270) and its PTS."""
    import av

    try:
        with av.open(str(file)) as container:
            stream = container.streams.video[0]
            for frame in container.decode(stream):
                return display_rotation_cw(frame), frame.pts
    except av.error.FFmpegError as exc:
        raise VideoDecodeError(
            file, f"the first frame does not decode ({_ffmpeg_reason(exc)}); file is corrupt"
        ) from exc
    raise VideoDecodeError(file, "no frame could be decoded from the video stream; the file is corrupt")


def display_rotation_cw(frame: Any) -> int:
    """Clockwise degrees a decoded PyAV frame must be turned for display (0, 90, 180 or 270).

    PyAV reports the display matrix as a counter-clockwise angle; a phone's portrait video (legacy tag
    ``rotate=90``) reads -90 there, which is 90 here.
    """
    ccw = round(float(frame.rotation or 0))
    return (-round(ccw / 90) * 90) % 360


def _ffmpeg_reason(exc: Exception) -> str:
    strerror = getattr(exc, "strerror", None)
    return str(strerror) if strerror else type(exc).__name__
