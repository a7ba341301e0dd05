"""What is written on screen: frames sampled at a set rate (1 fps by default), read by RapidOCR (ONNX Runtime).

The frames come through the same decoder as the model's (:func:`vidground.video.decode.decode_frames`, a few at a
time so an hour of video never sits in memory), at the video's own size up to ``max_side`` pixels on the longer
side. RapidOCR 3.x ships its PP-OCRv6 detection and recognition models inside the package (nothing is
downloaded); measured here, they keep the spaces of a clean English line (``MARKET STREET STATION``), where the
older default models wrote ``MARKETSTREETSTATION``. Each line also comes with its word boxes, and where the
recogniser still runs words together, the line is rebuilt from those words (:func:`line_text`).

Consecutive identical readings merge into one span (:func:`merge_readings`): a title shown from 2 s to 5 s read
at 2, 3 and 4 s is one span 2-5 s, with the best confidence and the box of that best reading.
"""

from __future__ import annotations

import bisect
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vidground.errors import ModelNotAvailable
from vidground.timeline import FramePlan, SampledFrame, VideoProbe

logger = logging.getLogger(__name__)

DEFAULT_OCR_FPS = 1.0
FRAMES_PER_DECODE = 8  # frames decoded at a time (memory: 8 x 1280x720x3 bytes)


@dataclass(frozen=True)
class OcrOptions:
    """The knobs of on-screen text reading (recorded with the stored segments; part of their analysis key)."""

    fps: float = DEFAULT_OCR_FPS
    min_confidence: float = 0.8  # below this, textures and faces are read as stray letters
    min_chars: int = 2  # single characters read in a picture are rarely text
    max_side: int = 1280

    def to_json(self) -> dict[str, Any]:
        return {
            "fps": self.fps,
            "min_confidence": self.min_confidence,
            "min_chars": self.min_chars,
            "max_side": self.max_side,
        }

    def keeps(self, line: Line) -> bool:
        """Whether a reading is confident and long enough to keep."""
        return line.confidence >= self.min_confidence and len(line.text.replace(" ", "")) >= self.min_chars


@dataclass(frozen=True)
class Line:
    """One line of text read in one frame: its text, confidence in [0, 1] and box as fractions of the frame
    ``(x0, y0, x1, y1)``."""

    text: str
    confidence: float
    box: tuple[float, float, float, float]


@dataclass(frozen=True)
class TextSpan:
    """A line of text on screen from ``start_s`` to ``end_s`` (video seconds), with its best reading."""

    start_s: float
    end_s: float
    text: str
    confidence: float
    box: tuple[float, float, float, float]


@dataclass(frozen=True)
class ScreenText:
    """The on-screen text of a video and how it was read."""

    spans: tuple[TextSpan, ...]
    n_frames: int
    seconds: float


def model_name() -> str:
    """The OCR engine and its bundled models, as recorded with the analysis."""
    from importlib.metadata import version

    return f"rapidocr {version('rapidocr')} (PP-OCRv6 det/rec, bundled)"


def line_text(text: str, words: Sequence[str]) -> str:
    """The line's text with its words kept apart: the recogniser's text when it has spaces, else its words joined.

    Example: ``line_text("MARKETSTREETSTATION", ["MARKET", "STREET", "STATION"])`` is ``"MARKET STREET STATION"``;
    a line read with its spaces is kept as read.
    """
    joined = " ".join(w.strip() for w in words if w.strip())
    if " " not in text.strip() and joined.replace(" ", "") == text.strip().replace(" ", "") and " " in joined:
        return joined
    return " ".join(text.split())


class TextReader:
    """RapidOCR loaded once, lazily, under a lock (share one per process)."""

    def __init__(self, *, threads: int = 2) -> None:
        self.threads = threads
        self._engine: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._engine is None:
                try:
                    from rapidocr import RapidOCR

                    self._engine = RapidOCR(
                        params={
                            "Global.log_level": "error",
                            "Global.return_word_box": True,
                            "EngineConfig.onnxruntime.intra_op_num_threads": self.threads,
                            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
                        }
                    )
                except Exception as exc:  # missing package or models: one message, whatever the cause
                    raise ModelNotAvailable(f"the OCR engine (rapidocr) cannot be loaded: {exc}") from exc
            return self._engine

    def read(self, frame_hwc: np.ndarray) -> list[Line]:
        """The lines of text in one RGB frame (H, W, 3) uint8, top to bottom."""
        engine = self._load()
        height, width = frame_hwc.shape[:2]
        result = engine(np.ascontiguousarray(frame_hwc[:, :, ::-1]))  # RapidOCR reads OpenCV's BGR order
        if not result.txts or result.boxes is None:  # nothing written in this frame
            return []
        texts = result.txts
        word_lists = getattr(result, "word_results", None) or [()] * len(texts)
        lines = []
        for text, score, box, words in zip(texts, result.scores, result.boxes, word_lists, strict=False):
            xs, ys = box[:, 0], box[:, 1]
            lines.append(
                Line(
                    text=line_text(str(text), [str(w[0]) for w in words or ()]),
                    confidence=float(score),
                    box=(
                        round(float(xs.min()) / width, 4),
                        round(float(ys.min()) / height, 4),
                        round(float(xs.max()) / width, 4),
                        round(float(ys.max()) / height, 4),
                    ),
                )
            )
        return sorted(lines, key=lambda line: (line.box[1], line.box[0]))


def sample_times(video: VideoProbe, fps: float) -> list[SampledFrame]:
    """The source frames nearest every ``1 / fps`` seconds from the first frame: index and time, each once.

    Example: a 3.5 s video at 25 fps read at 1 fps gives frames 0, 25, 50, 75 at 0, 1, 2, 3 s.
    """
    times = video.frame_times_s or tuple(i / video.fps for i in range(video.n_frames))
    if not times:
        return []
    picked: dict[int, float] = {}
    t = times[0]
    while t <= times[-1] + 1e-9:
        at = bisect.bisect_left(times, t - 1e-9)
        index = min(at, len(times) - 1)
        picked.setdefault(index, times[index])
        t += 1.0 / fps
    return [SampledFrame(i, s) for i, s in sorted(picked.items())]


def merge_readings(readings: Sequence[tuple[float, Sequence[Line]]], *, step_s: float, end_s: float) -> list[TextSpan]:
    """Consecutive identical readings (same text, case and spacing aside) as one span each.

    ``readings`` are (time in seconds, lines read then), in time order, one per sampled frame; a line seen at
    consecutive samples is one span from its first sample to ``step_s`` after its last (not past ``end_s``).
    """
    open_spans: dict[str, list[Any]] = {}  # key -> [start_s, last_s, best Line]
    spans: list[TextSpan] = []

    def close(key: str) -> None:
        start_s, last_s, best = open_spans.pop(key)
        spans.append(TextSpan(start_s, min(last_s + step_s, end_s), best.text, best.confidence, best.box))

    for time_s, lines in readings:
        seen: dict[str, Line] = {}
        for line in lines:
            key = " ".join(line.text.casefold().split())
            if key and (key not in seen or line.confidence > seen[key].confidence):
                seen[key] = line
        for key in [k for k in open_spans if k not in seen]:
            close(key)
        for key, line in seen.items():
            if key in open_spans:
                entry = open_spans[key]
                entry[1] = time_s
                if line.confidence > entry[2].confidence:
                    entry[2] = line
            else:
                open_spans[key] = [time_s, time_s, line]
    for key in list(open_spans):
        close(key)
    return sorted(spans, key=lambda s: (s.start_s, s.box[1], s.text))


def read_screen_text(
    path: str | os.PathLike[str],
    *,
    video: VideoProbe,
    reader: TextReader,
    options: OcrOptions | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> ScreenText:
    """Read the text on screen at ``options.fps`` frames per second and merge it into spans.

    Raises:
        VideoDecodeError, DecoderBackendError: the frames cannot be decoded. ModelNotAvailable: no OCR engine.
    """
    options = options or OcrOptions()
    started = time.perf_counter()
    frames = sample_times(video, options.fps)
    readings: list[tuple[float, list[Line]]] = []
    for done, (sampled, picture) in enumerate(_frames(path, video, frames, max_side=options.max_side), start=1):
        lines = [line for line in reader.read(picture) if options.keeps(line)]
        readings.append((sampled.time_s, lines))
        if on_progress is not None:
            on_progress(done, len(frames))
    spans = merge_readings(readings, step_s=1.0 / options.fps, end_s=video.duration_s)
    seconds = time.perf_counter() - started
    logger.info("ocr path=%s n_frames=%s spans=%s seconds=%.2f", path, len(frames), len(spans), seconds)
    return ScreenText(tuple(spans), n_frames=len(frames), seconds=seconds)


def _frames(
    path: str | os.PathLike[str], video: VideoProbe, frames: Sequence[SampledFrame], *, max_side: int
) -> Iterator[tuple[SampledFrame, np.ndarray]]:
    """The sampled frames as RGB (H, W, 3) arrays, decoded a few at a time by the model's decoder."""
    from vidground.video.decode import decode_frames

    scale = min(1.0, max_side / max(video.width, video.height))
    height, width = max(2, round(video.height * scale / 2) * 2), max(2, round(video.width * scale / 2) * 2)
    for at in range(0, len(frames), FRAMES_PER_DECODE):
        chunk = tuple(frames[at : at + FRAMES_PER_DECODE])
        plan = FramePlan(
            frames=chunk,
            height=height,
            width=width,
            source_fps=video.fps,
            n_source_frames=video.n_frames,
            sample_fps=len(chunk),  # unused by the decoder: these frames go to OCR, not to the model
            second_per_grid=0.0,
            grid_thw=(0, 0, 0),
            num_tokens=0,
            start_s=chunk[0].time_s,
            end_s=chunk[-1].time_s,
        )
        decoded = decode_frames(path, plan, resize="fast", probe=video)
        for sampled, tensor in zip(chunk, decoded.frames, strict=True):
            yield sampled, tensor.permute(1, 2, 0).numpy()  # (3, H, W) -> (H, W, 3)


__all__ = [
    "Line",
    "OcrOptions",
    "ScreenText",
    "TextReader",
    "TextSpan",
    "line_text",
    "merge_readings",
    "model_name",
    "read_screen_text",
    "sample_times",
]
