"""Shot boundaries (PySceneDetect's adaptive detector on its PyAV backend) and snapping spans onto them.

A *cut* is the time (seconds) of the first frame of a new shot; a video with cuts ``[1.2, 3.04]`` has three shots:
``[0, 1.2)``, ``[1.2, 3.04)``, ``[3.04, end]``. :func:`detect_shots` finds them (I/O: it decodes every frame);
:func:`snap_span` and :func:`nearest_cut` are pure.

Snapping, worked example with cuts ``[1.2, 3.04, 5.48]`` and a tolerance of 1 s: each end moves to the nearest cut
within the tolerance, so ``1.0 - 2.9`` becomes ``1.2 - 3.04`` and ``6.1 - 8.0`` becomes ``5.48 - 8.0`` (8.0 has no
cut within 1 s). A span never collapses: in ``4.9 - 6.2`` both ends are nearest 5.48, so only the end that moves
less goes there (the start, 0.58 s against 0.72 s) and the span becomes ``5.48 - 6.2``.
"""

from __future__ import annotations

import bisect
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from vidground.errors import VideoDecodeError
from vidground.index.records import ShotRecord
from vidground.timeline import VideoProbe

logger = logging.getLogger(__name__)

DETECTOR = "scenedetect.AdaptiveDetector"
DEFAULT_SHOT_THRESHOLD = 3.0  # AdaptiveDetector's adaptive_threshold: a frame's change over its neighbours' mean
DEFAULT_MIN_SHOT_FRAMES = 15  # AdaptiveDetector's min_scene_len (0.5 s at 30 fps)


@dataclass(frozen=True)
class ShotOptions:
    """The knobs of shot detection (recorded with the stored shots; part of their analysis key)."""

    threshold: float = DEFAULT_SHOT_THRESHOLD
    min_shot_frames: int = DEFAULT_MIN_SHOT_FRAMES

    def to_json(self) -> dict[str, Any]:
        return {"detector": DETECTOR, "threshold": self.threshold, "min_shot_frames": self.min_shot_frames}


@dataclass(frozen=True)
class ShotList:
    """The shots of a video in time order, and how long finding them took."""

    shots: tuple[ShotRecord, ...]  # in time order; the index stores them as they are
    n_frames: int  # frames the detector looked at
    seconds: float

    @property
    def cuts_s(self) -> tuple[float, ...]:
        """The start of every shot but the first: where one shot ends and the next begins."""
        return tuple(s.start_s for s in self.shots[1:])


def detect_shots(
    path: str | os.PathLike[str],
    *,
    video: VideoProbe,
    options: ShotOptions | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> ShotList:
    """Find a video's shots with PySceneDetect's adaptive detector, decoding with its PyAV backend.

    Times come from the probe's frame times (``video.frame_times_s[frame]``), so they are the container's
    presentation times, exact for variable frame rate too; the detector's own frame counting is used only as an
    index into them.

    Raises:
        VideoDecodeError: the detector cannot read the file.
    """
    from scenedetect import AdaptiveDetector, SceneManager, open_video

    # PySceneDetect sets its logger to INFO when imported, so "Detecting scenes..." reached the terminal past the
    # CLI's WARNING level; it follows the application's level instead.
    logging.getLogger("pyscenedetect").setLevel(logging.NOTSET)
    options = options or ShotOptions()
    started = time.perf_counter()
    try:
        stream = open_video(os.fspath(path), backend="pyav")
        manager = SceneManager()
        manager.add_detector(
            AdaptiveDetector(adaptive_threshold=options.threshold, min_scene_len=options.min_shot_frames)
        )
        if on_progress is not None:  # PySceneDetect calls back on cuts only, not per frame: start and end
            on_progress(0, video.n_frames)
        n_frames = manager.detect_scenes(stream, show_progress=False)
        scenes = manager.get_scene_list(start_in_scene=True)
    except Exception as exc:  # PySceneDetect and PyAV raise their own types; any of them means "unreadable"
        raise VideoDecodeError(path, f"shot detection could not read it ({type(exc).__name__}: {exc})") from exc
    starts = [int(start.frame_num) for start, _ in scenes] or [0]
    shots = []
    for i, frame in enumerate(starts):
        start_s = 0.0 if i == 0 else _time_s(video, frame)
        end_s = video.duration_s if i + 1 == len(starts) else _time_s(video, starts[i + 1])
        shots.append(ShotRecord(start_s, end_s, frame if i else 0))
    if on_progress is not None:
        on_progress(video.n_frames, video.n_frames)
    seconds = time.perf_counter() - started
    logger.info("shots path=%s n_shots=%s n_frames=%s seconds=%.2f", path, len(shots), n_frames, seconds)
    return ShotList(tuple(shots), n_frames=int(n_frames), seconds=seconds)


def _time_s(video: VideoProbe, frame: int) -> float:
    if 0 <= frame < len(video.frame_times_s):
        return video.frame_times_s[frame]
    return frame / video.fps


def nearest_cut(time_s: float, cuts_s: Sequence[float], *, tolerance_s: float) -> float | None:
    """The cut nearest ``time_s`` if it is at most ``tolerance_s`` away (``cuts_s`` sorted), else None."""
    at = bisect.bisect_left(cuts_s, time_s)
    near = [cuts_s[i] for i in (at - 1, at) if 0 <= i < len(cuts_s)]
    best = min(near, key=lambda c: abs(c - time_s), default=None)
    return best if best is not None and abs(best - time_s) <= tolerance_s + 1e-9 else None


def snap_span(start_s: float, end_s: float, cuts_s: Sequence[float], *, tolerance_s: float) -> tuple[float, float]:
    """Move each end of ``[start_s, end_s]`` onto the nearest cut within ``tolerance_s`` (see the module example).

    An end whose move would leave the span empty or reversed stays where it was.
    """
    start = nearest_cut(start_s, cuts_s, tolerance_s=tolerance_s)
    end = nearest_cut(end_s, cuts_s, tolerance_s=tolerance_s)
    new_start = start_s if start is None else start
    new_end = end_s if end is None else end
    if new_start < new_end:
        return new_start, new_end
    # Both ends reached the same cut (or crossed): move only the end that moves less, if that leaves a span.
    options = [(abs(new_start - start_s), (new_start, end_s)), (abs(new_end - end_s), (start_s, new_end))]
    valid = [(moved, span) for moved, span in options if span[0] < span[1]]
    return min(valid)[1] if valid else (start_s, end_s)


__all__ = ["ShotList", "ShotOptions", "detect_shots", "nearest_cut", "snap_span"]
