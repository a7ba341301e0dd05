"""Keep FFmpeg's own log lines (``[h264 @ 0x...] Invalid NAL unit size``) out of the terminal unless debugging.

Both decoders carry their own FFmpeg. PyAV's is silent by default and, when asked, routes its lines through
Python logging (loggers ``libav.*``). decord's prints straight to stderr at FFmpeg's default level (info);
its level is set through the ``av_log_set_level`` of the ``libavutil`` bundled with decord, loaded by path so
decord itself is not imported. decord's own C++ messages (``[12:00:00] video_reader.cc:...``) are not
FFmpeg's and are not affected; vidground turns the errors among them into one-line messages instead.
"""

from __future__ import annotations

import ctypes
import importlib.util
import logging
import sys
from pathlib import Path

logger = logging.getLogger(__name__)

AV_LOG_QUIET = -8
AV_LOG_INFO = 32  # FFmpeg's default


def configure_ffmpeg_logging(*, debug: bool) -> None:
    """Silence both decoders' FFmpeg logs, or with ``debug`` let them through (PyAV's via Python logging).

    Call once at start-up (the CLI does, from ``VIDGROUND_LOG_LEVEL``); it changes process-wide state of
    the FFmpeg libraries. Never raises: a decoder that is not installed has nothing to configure.
    """
    if debug or "av" in sys.modules:  # PyAV is silent unless told otherwise: no need to import it for that
        try:
            import av.logging
        except ImportError:
            pass
        else:
            av.logging.set_level(av.logging.VERBOSE if debug else None)
    for libavutil in _decord_libavutil():
        try:
            ctypes.CDLL(str(libavutil)).av_log_set_level(AV_LOG_INFO if debug else AV_LOG_QUIET)
        except (OSError, AttributeError) as exc:  # a decord build without a bundled FFmpeg: leave it be
            logger.debug("cannot set decord's FFmpeg log level via %s: %s", libavutil, exc)


def _decord_libavutil() -> list[Path]:
    """The ``libavutil`` shipped inside decord's wheel (``decord.libs/``), found without importing decord."""
    spec = importlib.util.find_spec("decord")
    if spec is None or spec.origin is None:
        return []
    libs = Path(spec.origin).parent.parent / "decord.libs"
    return sorted(libs.glob("libavutil*.so*"))
