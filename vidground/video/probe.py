"""Probe a video file: size, rotation, frame count and every frame's presentation time, from the container.

Frame times come from a demux-only pass over the video packets (no decoding): each packet's PTS, sorted into
presentation order. Only the first frame is decoded, to read the display-matrix rotation and to check that the
stream decodes at all. Decoders that index frames by sorted packet PTS (decord, and vidground's own PyAV path)
count frames the same way, so ``frame_times_s[i]`` is the time of the frame they call ``i``.
"""

from __future__ import annotations

import itertools
import logging
import os
import statistics
from fractions import Fraction
from pathlib import Path
from typing import Any

from vidground.errors import VideoDecodeError
from vidground.timeline import VideoProbe

logger = logging.getLogger(__name__)

MAX_SIDE_PX = 16384
# ffmpeg opens text files as "video" through its text-art demuxer; they are not videos for vidground.
_TEXT_FORMATS = frozenset({"tty"})
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
        start, in presentation order) and ``keyframe_indices``.

    Raises:
        VideoDecodeError: missing, not a regular file (a pipe, ``-``), empty, unreadable, truncated, not a
            video, audio-only, absurd size, no frames, or a first frame that does not decode.
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
    if not container.streams.video:
        what = "audio-only file" if container.streams.audio else "no media streams"
        raise VideoDecodeError(file, f"no video stream ({what}); expected a file with a video track")
    stream = container.streams.video[0]
    codec = stream.codec_context.name
    if codec in _TEXT_CODECS:
        raise VideoDecodeError(
            file, f"codec {codec!r} is text art, not a video; expected e.g. H.264/HEVC/VP9/AV1"
        )
    stored_w, stored_h = int(stream.codec_context.width), int(stream.codec_context.height)
    if not (0 < stored_w <= MAX_SIDE_PX and 0 < stored_h <= MAX_SIDE_PX):
        raise VideoDecodeError(
            file,
            f"video size {stored_w}x{stored_h} is outside 1..{MAX_SIDE_PX} pixels per side; re-encode it",
        )
    has_audio = bool(container.streams.audio)
    time_base: Fraction = stream.time_base

    pts_list: list[int] = []
    key_pts: set[int] = set()
    duration_at: dict[int, int] = {}  # pts -> packet duration: the last *shown* frame's counts, not the last demuxed
    n_discarded = 0
    try:
        for packet in container.demux(stream):
            n_discarded += bool(packet.is_discard and packet.size)
            # A discarded packet is edit-list pre-roll (e.g. a cut made with ``ffmpeg -ss X -c copy``): the
            # decoder needs it as a reference but never shows it, so it is not a frame of the video.
            if packet.pts is None or packet.size == 0 or packet.is_discard:
                continue
            pts_list.append(packet.pts)
            if packet.duration:
                duration_at[packet.pts] = packet.duration
            if packet.is_keyframe:
                key_pts.add(packet.pts)
    except av.error.FFmpegError as exc:
        raise VideoDecodeError(
            file,
            f"demuxing stopped after {len(pts_list)} frames ({_ffmpeg_reason(exc)}); the file is corrupt",
        ) from exc
    if not pts_list:
        raise VideoDecodeError(file, "the video stream has no frames; expected at least one")
    last_duration = duration_at.get(max(pts_list), 0)
    listed = int(stream.frames or 0)
    # An edit list (a phone's trim) may leave listed samples that are never demuxed; that is only truncation
    # when the frames present also end early, more than two frame durations before the stream's duration.
    end_pts = max(pts_list) + (last_duration or 0)
    ends_early = stream.duration is None or (
        end_pts - stream_origin_pts(stream) < int(stream.duration) - 2 * max(last_duration, 1)
    )
    if listed > len(pts_list) + n_discarded and ends_early:
        raise VideoDecodeError(
            file,
            f"truncated: the container lists {listed} frames but only {len(pts_list) + n_discarded} are present",
        )

    rotation_deg, first_shown_pts = _first_frame(file)
    if first_shown_pts is not None and first_shown_pts > min(pts_list):
        # A stream cut mid-GOP (a TS recording joined late) starts with pictures whose references are
        # missing; no decoder can show them, so they are not frames either.
        pts_list = [p for p in pts_list if p >= first_shown_pts]
    pts_list.sort()
    origin = stream_origin_pts(stream)
    frame_times_s = tuple(pts_to_seconds(p, origin, time_base) for p in pts_list)
    keyframe_indices = tuple(i for i, p in enumerate(pts_list) if p in key_pts)
    steps = [b - a for a, b in itertools.pairwise(pts_list)]
    n_frames = len(pts_list)

    if last_duration <= 0:
        last_duration = int(statistics.median(steps)) if steps else 0
    duration_s = float((pts_list[-1] - pts_list[0] + last_duration) * time_base)
    average = stream.average_rate
    if average is not None and average > 0:
        fps = float(average)
    elif duration_s > 0:
        fps = n_frames / duration_s
    else:
        fps = 0.0
    width, height = (stored_h, stored_w) if rotation_deg in (90, 270) else (stored_w, stored_h)
    result = VideoProbe(
        path=str(file),
        duration_s=duration_s,
        fps=fps,
        n_frames=n_frames,
        width=width,
        height=height,
        codec=codec,
        vfr=is_vfr(steps),
        has_audio=has_audio,
        rotation_deg=rotation_deg,
        frame_times_s=frame_times_s,
        keyframe_indices=keyframe_indices,
    )
    logger.debug("probed path=%s n_frames=%d fps=%.3f size=%dx%d", file, n_frames, fps, width, height)
    return result


def pts_to_seconds(pts: int, origin_pts: int, time_base: Fraction) -> float:
    """Seconds from the stream start, computed exactly in fractions and rounded once to float.

    Example: pts 1536, origin 0, time base 1/15360 → 0.1 s. Probe and both decoders use this one function, so
    the same frame gets the same float everywhere.
    """
    return float((pts - origin_pts) * time_base)


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
