"""One frame of a video as a small JPEG, for the web page's library and search hits, cached on disk.

PyAV and numpy only (no torch, no Pillow: the API image has neither): seek to the keyframe before the asked
second, decode forward to the first frame shown at or after it, turn it upright (its display matrix), scale it to
the asked width (height keeps the ratio), encode it with FFmpeg's JPEG encoder.

The cache lives in ``<data dir>/thumbnails``, named by the file's content hash, the time in tenths of a second and
the width (``<sha256>-642-320.jpg`` is 64.2 s at 320 px): the same content of two tenants shares one entry, which
shows nothing either could not already see. A hit refreshes the file's mtime; after each write the least recently
used files go until the folder is within its byte budget.
"""

from __future__ import annotations

import logging
import os
import uuid
from fractions import Fraction
from pathlib import Path
from typing import Any

from vidground.errors import VideoDecodeError

logger = logging.getLogger(__name__)

JPEG_QSCALE = 2  # FFmpeg's JPEG quantiser, 1 (best) .. 31: 2 keeps a 320 px frame at a few kB


def cache_name(content_hash: str, time_s: float, width: int) -> str:
    """The cache file of one thumbnail: time kept to a tenth of a second (64.23 s -> ``642``)."""
    return f"{content_hash}-{round(time_s * 10)}-{width}.jpg"


def thumbnail(video: Path, *, time_s: float, width: int, content_hash: str, cache_dir: Path, max_bytes: int) -> bytes:
    """The JPEG of the frame shown at ``time_s`` (seconds from the first frame), ``width`` pixels wide.

    Raises:
        VideoDecodeError: the file cannot be opened or has no decodable video frame.
    """
    cached = cache_dir / cache_name(content_hash, time_s, width)
    if cached.is_file():
        os.utime(cached)
        return cached.read_bytes()
    data = _extract(video, time_s=time_s, width=width)
    if max_bytes > 0:
        cache_dir.mkdir(parents=True, exist_ok=True)
        temp = cache_dir / f".{uuid.uuid4().hex}.part"
        temp.write_bytes(data)
        os.replace(temp, cached)  # whole or absent: a reader never sees half a file
        trim_cache(cache_dir, max_bytes)
    return data


def trim_cache(cache_dir: Path, max_bytes: int) -> list[Path]:
    """Delete the least recently used thumbnails until the folder holds at most ``max_bytes``; the deleted paths."""
    entries = []
    for path in cache_dir.glob("*.jpg"):
        try:
            stat = path.stat()
        except FileNotFoundError:  # another request trimmed it a moment ago
            continue
        entries.append((stat.st_mtime, stat.st_size, path))
    total = sum(size for _, size, _ in entries)
    removed = []
    for _, size, path in sorted(entries):
        if total <= max_bytes:
            break
        path.unlink(missing_ok=True)
        total -= size
        removed.append(path)
    return removed


def _extract(video: Path, *, time_s: float, width: int) -> bytes:
    import av
    import numpy as np

    from vidground.video.probe import display_rotation_cw

    try:
        with av.open(str(video)) as container:
            if not container.streams.video:
                raise VideoDecodeError(str(video.name), "no video stream")
            frame = _frame_at(container, container.streams.video[0], time_s)
            if frame is None:
                raise VideoDecodeError(str(video.name), f"no frame could be decoded at or before {time_s:.2f} s")
            rotation_deg = display_rotation_cw(frame)
            if rotation_deg:
                rgb = frame.to_ndarray(format="rgb24")  # (H, W, 3)
                upright = np.ascontiguousarray(np.rot90(rgb, k=-rotation_deg // 90))  # rot90 turns anticlockwise
                frame = av.VideoFrame.from_ndarray(upright, format="rgb24")
            width -= width % 2  # 4:2:0 JPEG wants even sizes
            height = max(2, round(frame.height * width / frame.width / 2) * 2)
            encoder = av.CodecContext.create("mjpeg", "w")
            encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuvj420p"
            encoder.time_base = Fraction(1, 1)
            encoder.options = {"qmin": str(JPEG_QSCALE), "qmax": str(JPEG_QSCALE)}
            small = frame.reformat(width=width, height=height, format="yuvj420p")
            return b"".join(bytes(packet) for packet in [*encoder.encode(small), *encoder.encode(None)])
    except av.FFmpegError as exc:
        raise VideoDecodeError(str(video.name), f"cannot decode a frame ({exc})") from None


def _frame_at(container: Any, stream: Any, time_s: float) -> Any:
    """The first frame shown at or after ``time_s`` past the stream's first frame; the last one when the time is past
    the end."""
    time_base = stream.time_base
    start_s = float(stream.start_time * time_base) if stream.start_time is not None and time_base else 0.0
    target_s = start_s + max(0.0, time_s)
    if time_base:
        container.seek(int(target_s / time_base), stream=stream, backward=True, any_frame=False)
    last = None
    for frame in container.decode(stream):
        last = frame
        if frame.time is not None and frame.time >= target_s - 1e-3:
            return frame
    return last
