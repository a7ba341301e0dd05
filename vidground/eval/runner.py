"""``vidground eval --videos DIR``: run grounding over the ground truth's videos, resumably.

Every answered query is appended to a JSONL cache (one QVHighlights-style line per query, flushed per video),
and a run first reads that cache and skips the queries already in it, so a stopped run continues where it
stopped and the cache itself can be scored later with ``--predictions``. Grounding is injected as ``locate``
so this loop stays free of model code.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from vidground.errors import (
    DecoderBackendError,
    EvalDataError,
    ModelOutputError,
    SamplingError,
    VideoDecodeError,
    VidgroundError,
)
from vidground.eval.groundtruth import VIDEO_EXTENSIONS, GroundTruthItem, video_key
from vidground.eval.predictions import Prediction, parse_predictions, prediction_record
from vidground.timeline import Span

logger = logging.getLogger(__name__)

# Errors that concern one video; the run records them and goes on. Anything else (no model, bad settings,
# Ctrl-C) stops the run, and the cache keeps what was done.
PER_VIDEO_ERRORS = (VideoDecodeError, DecoderBackendError, SamplingError, ModelOutputError)


class SpanLike(Protocol):
    @property
    def start_s(self) -> float: ...

    @property
    def end_s(self) -> float: ...

    @property
    def score(self) -> float | None: ...


class QueryAnswer(Protocol):
    """One query's answer as ``locate`` returns it (vidground's ``QueryResult`` fits). An optional boolean
    ``parsed`` attribute, when present, overrides ``found`` as the parse flag."""

    @property
    def found(self) -> bool: ...

    @property
    def spans(self) -> Sequence[SpanLike]: ...


LocateFn = Callable[[Path, list[str]], Sequence[QueryAnswer]]
ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class EvalRun:
    """Predictions gathered by a run (cached and new), and the videos that could not be used."""

    predictions: dict[str, Prediction]
    missing_videos: tuple[str, ...]  # ground-truth videos with no file in the videos folder
    failed_videos: tuple[tuple[str, str], ...]  # (video, error message); retried by the next run
    n_cached: int  # predictions read from the cache
    n_new: int  # predictions made by this run


def run_grounding_eval(
    gt: Sequence[GroundTruthItem],
    videos_dir: str | Path,
    *,
    locate: LocateFn,
    cache_path: str | Path,
    on_progress: ProgressFn | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> EvalRun:
    """Ground every not-yet-cached query, one ``locate`` call per video, appending each answer to the cache.

    Args:
        gt: the ground truth; queries of one video are asked together, a repeated query text once.
        videos_dir: where the videos are; a ground-truth ``video`` is found as a relative path, or by its
            name without a video extension anywhere below the folder (``video_key``).
        locate: ``locate(video_path, queries)`` → one answer per query, in order.
        cache_path: the JSONL cache; created if absent, read first, appended to as videos finish.
        on_progress: called as ``on_progress(videos_done, videos_to_do)``.
        clock: seconds, for latency (the call's wall time divided by its number of queries).

    Raises:
        EvalDataError: the cache is malformed (other than a cut-off last line, which is dropped).
        VidgroundError: ``locate`` returned a different number of answers than queries; any error
            ``locate`` raises that is not about one video (see ``PER_VIDEO_ERRORS``) stops the run.
    """
    cache = Path(cache_path)
    cached = read_cache(cache, gt)
    files = _index_videos(Path(videos_dir))

    pending: dict[str, list[GroundTruthItem]] = {}
    for item in gt:
        if item.qid not in cached:
            pending.setdefault(item.video, []).append(item)

    predictions = dict(cached)
    missing: list[str] = []
    failed: list[tuple[str, str]] = []
    n_new = 0
    cache.parent.mkdir(parents=True, exist_ok=True)
    with cache.open("a", encoding="utf-8") as out:
        for done, (video, items) in enumerate(pending.items(), start=1):
            path = _find_video(video, Path(videos_dir), files)
            if path is None:
                logger.warning(
                    "video not found video=%s videos_dir=%s n_queries=%d", video, videos_dir, len(items)
                )
                missing.append(video)
            else:
                new, error = _ground_video(path, items, locate, clock)
                if error is not None:
                    logger.warning("video failed video=%s error=%s", video, error)
                    failed.append((video, error))
                for item, prediction in new:
                    out.write(json.dumps(prediction_record(item, prediction), allow_nan=False) + "\n")
                    predictions[item.qid] = prediction
                out.flush()
                n_new += len(new)
            if on_progress is not None:
                on_progress(done, len(pending))
    return EvalRun(predictions, tuple(missing), tuple(failed), len(cached), n_new)


def read_cache(cache: Path, gt: Sequence[GroundTruthItem]) -> dict[str, Prediction]:
    """The cached predictions for ``gt`` (others ignored); drops a cut-off last line left by a stopped run.

    Raises:
        EvalDataError: a complete line is malformed.
    """
    if not cache.exists():
        return {}
    text = cache.read_text(encoding="utf-8")
    if text and not text.endswith("\n"):
        head, _, tail = text.rpartition("\n")
        head = head + "\n" if head else ""
        try:
            json.loads(tail)
            text = text + "\n"
        except json.JSONDecodeError:
            logger.warning("dropping a cut-off last line of the cache path=%s", cache)
            text = head
        cache.write_text(text, encoding="utf-8")
    return parse_predictions(text, gt, source=str(cache)).by_qid


def _ground_video(
    path: Path,
    items: list[GroundTruthItem],
    locate: LocateFn,
    clock: Callable[[], float],
) -> tuple[list[tuple[GroundTruthItem, Prediction]], str | None]:
    """One ``locate`` call for a video's pending queries: the predictions, or no predictions and the error."""
    queries = list(dict.fromkeys(item.query for item in items))
    started = clock()
    try:
        answers = list(locate(path, queries))
    except PER_VIDEO_ERRORS as exc:
        return [], str(exc)
    latency_s = (clock() - started) / len(queries)
    if len(answers) != len(queries):
        raise VidgroundError(f"{path}: locate returned {len(answers)} answers for {len(queries)} queries")
    by_query = dict(zip(queries, answers, strict=True))
    results = []
    for item in items:
        answer = by_query[item.query]
        parsed = getattr(answer, "parsed", answer.found)
        if not isinstance(parsed, bool):
            raise EvalDataError(f"{path}: answer for {item.query!r} has a non-boolean parse flag {parsed!r}")
        spans = tuple(Span(float(s.start_s), float(s.end_s), s.score) for s in answer.spans)
        results.append((item, Prediction(item.qid, spans, parsed, latency_s)))
    return results, None


def _index_videos(videos_dir: Path) -> dict[str, Path]:
    """Video files below ``videos_dir`` by ``video_key``; the first in sorted path order wins a name clash."""
    if not videos_dir.is_dir():
        return {}
    files: dict[str, Path] = {}
    for path in sorted(videos_dir.rglob("*")):
        if path.suffix.lower() in VIDEO_EXTENSIONS and path.is_file():
            files.setdefault(video_key(path.name), path)
    return files


def _find_video(video: str, videos_dir: Path, files: dict[str, Path]) -> Path | None:
    direct = videos_dir / video
    if direct.is_file():
        return direct
    return files.get(video_key(video))
