"""Standard temporal-grounding metrics, with every definition stated (``docs/eval.md`` explains the choices).

All metrics are averaged over **all** ground-truth queries: a query with no prediction, an unparsed answer or
no spans scores IoU 0 and AP 0, and those cases are counted separately (``n_missing``, ``n_unparsed``,
``n_empty``).

- IoU of continuous spans ``[s, e]``: ``max(0, min(e1, e2) - max(s1, s2)) / (max(e1, e2) - min(s1, s2))``;
  when that union is 0 (two identical zero-length spans) the IoU is 0. A zero-length span therefore never
  matches.
- Cleaning, before scoring: a reversed pair is swapped; times are clamped to ``[0, duration]`` when the ground
  truth knows the duration, else only below at 0. A span wholly past the end becomes zero-length at the end
  (IoU 0); it is kept, so it still costs precision in AP.
- Ranking: by score, highest first; equal scores and spans without a score keep list order, unscored after
  scored.
- R@1@t / mIoU: the top-ranked span's IoU with the best-matching ground-truth window; hit when IoU >= t.
- R@5@t: the best such IoU among the top five spans; reported only when some prediction has more than one
  span.
- mAP@t: per query, the top ``MAX_PREDICTIONS`` ranked spans are matched greedily one-to-one to ground-truth
  windows (each span in rank order takes the unmatched window it overlaps most, a true positive when IoU >=
  t), and AP is the VOC-2011 interpolated area (see ``average_precision``); mAP is the mean over queries, and
  "mAP" the mean over ``MAP_THRESHOLDS`` 0.50:0.05:0.95.
- Thresholds are inclusive, with a tolerance of ``IOU_TOLERANCE`` so that an IoU that is exactly t on paper
  but ``t - 1e-16`` in floating point still counts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from vidground.errors import EvalDataError
from vidground.eval.groundtruth import GroundTruthItem, Window
from vidground.eval.predictions import Prediction
from vidground.timeline import Span

RECALL_THRESHOLDS: tuple[float, ...] = (0.3, 0.5, 0.7)
MAP_THRESHOLDS: tuple[float, ...] = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
MAX_PREDICTIONS = 10
RECALL_AT_K = 5
IOU_TOLERANCE = 1e-9


class QueryStatus(StrEnum):
    SCORED = "scored"  # at least one span
    MISSING = "missing"  # no prediction for this query
    UNPARSED = "unparsed"  # the answer could not be read
    EMPTY = "empty"  # read, but no spans


@dataclass(frozen=True)
class QueryScore:
    """One query's scores; ``ap`` is aligned with ``MAP_THRESHOLDS``."""

    qid: str
    status: QueryStatus
    top1_iou: float
    top5_iou: float
    ap: tuple[float, ...]
    n_spans: int


@dataclass(frozen=True)
class GroundingMetrics:
    """Metrics over all queries, as fractions in [0, 1]; dicts are keyed by the thresholds above."""

    n_queries: int
    recall_at_1: dict[float, float]
    mean_iou: float
    recall_at_5: dict[float, float] | None  # None when no prediction has more than one span
    map_by_threshold: dict[float, float]
    map_avg: float
    n_missing: int
    n_unparsed: int
    n_empty: int
    queries: tuple[QueryScore, ...]

    @property
    def map_50(self) -> float:
        return self.map_by_threshold[0.5]

    @property
    def map_75(self) -> float:
        return self.map_by_threshold[0.75]


def iou(a: Window, b: Window) -> float:
    """Temporal IoU of two spans given as ``(start_s, end_s)`` with start <= end.

    Example: ``iou((0, 10), (5, 15))`` = overlap 5 / union 15 = 1/3; touching ``(0, 5), (5, 10)`` = 0 / 10 =
    0; zero-length ``(3, 3), (3, 3)`` = 0 (union 0, defined as no match).
    """
    overlap = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return overlap / union if union > 0 else 0.0


def best_iou(span: Window, windows: Sequence[Window]) -> float:
    """The IoU of ``span`` with the ground-truth window it overlaps most (0 for no windows)."""
    return max((iou(span, window) for window in windows), default=0.0)


def clean_spans(spans: Sequence[Span], duration_s: float | None) -> tuple[Span, ...]:
    """Repair predicted spans: swap reversed pairs, clamp to ``[0, duration_s]`` (else ``[0, inf)``).

    Example with ``duration_s=30``: ``(12, 8)`` → ``(8, 12)``; ``(25, 40)`` → ``(25, 30)``; ``(35, 50)`` →
    ``(30, 30)`` (zero-length, IoU 0); ``(-2, 4)`` → ``(0, 4)``. Order, scores and texts are kept.
    """
    upper = float("inf") if duration_s is None else duration_s
    cleaned = []
    for span in spans:
        start, end = sorted((span.start_s, span.end_s))
        start = min(max(start, 0.0), upper)
        end = min(max(end, 0.0), upper)
        cleaned.append(Span(start, end, span.score, span.text))
    return tuple(cleaned)


def rank_spans(spans: Sequence[Span]) -> tuple[Span, ...]:
    """Spans by score, highest first; ties and unscored spans keep list order, unscored after scored."""
    return tuple(sorted(spans, key=lambda span: (span.score is None, -(span.score or 0.0))))


def average_precision(ranked: Sequence[Window], windows: Sequence[Window], threshold: float) -> float:
    """AP of ranked predictions against one query's ground-truth windows at one IoU threshold.

    Greedy one-to-one matching: each prediction, in rank order, takes the not-yet-matched window with the
    highest IoU (first window on ties) if that IoU >= threshold (true positive), else it is a false positive.
    With ``precision_k = TP_k / k`` and ``recall_k = TP_k / len(windows)``, AP is the VOC-2011 interpolated
    area ``sum over true-positive ranks k of (1 / len(windows)) * max(precision_j for j >= k)``.

    Worked example: windows (0, 10), (20, 30); ranked (21, 30), (0, 4), (0, 9) at threshold 0.5 → TP (IoU 0.9
    with the 2nd window), FP (IoU 0.4), TP (IoU 0.9 with the 1st): precisions 1, 1/2, 2/3, so
    AP = 1/2 * max(1, 1/2, 2/3) + 1/2 * max(2/3) = 0.5 + 0.3333 = 0.8333. No predictions gives 0.
    """
    if not ranked or not windows:
        return 0.0
    matched = [False] * len(windows)
    precisions = []
    true_positive_ranks = []
    n_true = 0
    for rank, span in enumerate(ranked, start=1):
        best_index, best_value = -1, -1.0
        for index, window in enumerate(windows):
            value = iou(span, window)
            if not matched[index] and value >= threshold - IOU_TOLERANCE and value > best_value:
                best_index, best_value = index, value
        if best_index >= 0:
            matched[best_index] = True
            n_true += 1
            true_positive_ranks.append(rank)
        precisions.append(n_true / rank)
    # Interpolated precision at rank k: the best precision at any rank >= k (a running max from the end).
    envelope = precisions[:]
    for k in range(len(envelope) - 2, -1, -1):
        envelope[k] = max(envelope[k], envelope[k + 1])
    return sum(envelope[rank - 1] for rank in true_positive_ranks) / len(windows)


def score_query(item: GroundTruthItem, prediction: Prediction | None) -> QueryScore:
    """Clean, rank and score one query's prediction (``None`` when there is none) against its ground truth."""
    if prediction is None:
        return QueryScore(item.qid, QueryStatus.MISSING, 0.0, 0.0, (0.0,) * len(MAP_THRESHOLDS), 0)
    ranked = rank_spans(clean_spans(prediction.spans, item.duration_s))
    if not prediction.parsed or not ranked:
        status = QueryStatus.UNPARSED if not prediction.parsed else QueryStatus.EMPTY
        return QueryScore(item.qid, status, 0.0, 0.0, (0.0,) * len(MAP_THRESHOLDS), len(ranked))
    windows = [(span.start_s, span.end_s) for span in ranked]
    top1 = best_iou(windows[0], item.windows)
    top5 = max(best_iou(window, item.windows) for window in windows[:RECALL_AT_K])
    ap = tuple(average_precision(windows[:MAX_PREDICTIONS], item.windows, t) for t in MAP_THRESHOLDS)
    return QueryScore(item.qid, QueryStatus.SCORED, top1, top5, ap, len(ranked))


def evaluate(gt: Sequence[GroundTruthItem], predictions: Mapping[str, Prediction]) -> GroundingMetrics:
    """Score predictions (by qid) against every ground-truth query.

    Args:
        gt: all queries; each counts once, predicted or not.
        predictions: predictions by ``qid``; entries for qids not in ``gt`` are ignored.

    Raises:
        EvalDataError: ``gt`` is empty.
    """
    if not gt:
        raise EvalDataError("ground truth: expected at least one query to score, got none")
    scores = tuple(score_query(item, predictions.get(item.qid)) for item in gt)
    n = len(scores)

    def hit_rate(values: Sequence[float], threshold: float) -> float:
        return sum(value >= threshold - IOU_TOLERANCE for value in values) / n

    top1 = [score.top1_iou for score in scores]
    top5 = [score.top5_iou for score in scores]
    multi = any(score.n_spans > 1 for score in scores if score.status is QueryStatus.SCORED)
    map_by_threshold = {t: sum(score.ap[i] for score in scores) / n for i, t in enumerate(MAP_THRESHOLDS)}
    return GroundingMetrics(
        n_queries=n,
        recall_at_1={t: hit_rate(top1, t) for t in RECALL_THRESHOLDS},
        mean_iou=sum(top1) / n,
        recall_at_5={t: hit_rate(top5, t) for t in RECALL_THRESHOLDS} if multi else None,
        map_by_threshold=map_by_threshold,
        map_avg=sum(map_by_threshold.values()) / len(map_by_threshold),
        n_missing=sum(score.status is QueryStatus.MISSING for score in scores),
        n_unparsed=sum(score.status is QueryStatus.UNPARSED for score in scores),
        n_empty=sum(score.status is QueryStatus.EMPTY for score in scores),
        queries=scores,
    )
