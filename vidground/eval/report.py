"""The ``vidground eval`` report: metrics, counts, latency and provenance, as a text table or JSON."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from vidground.eval.groundtruth import GroundTruthItem
from vidground.eval.metrics import MAP_THRESHOLDS, GroundingMetrics, evaluate
from vidground.eval.predictions import Prediction


@dataclass(frozen=True)
class EvalReport:
    """Everything ``vidground eval`` prints. Metrics are fractions in [0, 1]; the table shows percent."""

    metrics: GroundingMetrics
    n_videos: int
    provenance: dict[str, object] = field(default_factory=dict)
    latency_p50_s: float | None = None
    latency_p95_s: float | None = None
    n_latencies: int = 0
    missing_videos: tuple[str, ...] = ()  # ground-truth videos not found in the videos folder
    failed_videos: tuple[
        tuple[str, str], ...
    ] = ()  # (video, error message) for videos that could not be processed
    n_unmatched_predictions: int = 0  # prediction entries that name no ground-truth query

    @property
    def parse_failure_rate(self) -> float:
        return self.metrics.n_unparsed / self.metrics.n_queries

    @property
    def missing_rate(self) -> float:
        return self.metrics.n_missing / self.metrics.n_queries

    @property
    def empty_rate(self) -> float:
        return self.metrics.n_empty / self.metrics.n_queries

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict; threshold keys are written like ``"0.5"``, values are unrounded fractions."""
        m = self.metrics
        return {
            "metrics": {
                "r1": {str(t): v for t, v in m.recall_at_1.items()},
                "miou": m.mean_iou,
                "r5": None if m.recall_at_5 is None else {str(t): v for t, v in m.recall_at_5.items()},
                "map": {str(t): v for t, v in m.map_by_threshold.items()},
                "map@0.5": m.map_50,
                "map@0.75": m.map_75,
                "map_avg": m.map_avg,
                "unit": "fraction",
            },
            "counts": {
                "queries": m.n_queries,
                "videos": self.n_videos,
                "missing_predictions": m.n_missing,
                "unparsed": m.n_unparsed,
                "empty": m.n_empty,
                "unmatched_predictions": self.n_unmatched_predictions,
                "missing_videos": list(self.missing_videos),
                "failed_videos": [{"video": video, "error": error} for video, error in self.failed_videos],
            },
            "rates": {
                "parse_failure": self.parse_failure_rate,
                "missing": self.missing_rate,
                "empty": self.empty_rate,
            },
            "latency_s": {"p50": self.latency_p50_s, "p95": self.latency_p95_s, "n": self.n_latencies},
            "provenance": dict(self.provenance),
        }


def build_report(
    gt: Sequence[GroundTruthItem],
    predictions: Mapping[str, Prediction],
    *,
    provenance: Mapping[str, object] | None = None,
    missing_videos: Iterable[str] = (),
    failed_videos: Iterable[tuple[str, str]] = (),
    n_unmatched_predictions: int = 0,
) -> EvalReport:
    """Score ``predictions`` (by qid) against ``gt`` and gather the report's counts and latency percentiles.

    Raises:
        EvalDataError: ``gt`` is empty.
    """
    metrics = evaluate(gt, predictions)
    gt_qids = {item.qid for item in gt}
    latencies = [p.latency_s for qid, p in predictions.items() if qid in gt_qids and p.latency_s is not None]
    return EvalReport(
        metrics=metrics,
        n_videos=len({item.video for item in gt}),
        provenance=dict(provenance or {}),
        latency_p50_s=percentile(latencies, 50),
        latency_p95_s=percentile(latencies, 95),
        n_latencies=len(latencies),
        missing_videos=tuple(missing_videos),
        failed_videos=tuple(failed_videos),
        n_unmatched_predictions=n_unmatched_predictions,
    )


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) by linear interpolation between closest ranks; ``None`` for no values.

    Example: ``percentile([1, 2, 3, 4], 95)``: position 0.95 * (4 - 1) = 2.85, between 3 and 4, so
    3 + 0.85 * (4 - 3) = 3.85.
    """
    if not values:
        return None
    ordered = sorted(values)
    position = q / 100 * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (position - low) * (ordered[high] - ordered[low])


def render_table(report: EvalReport) -> str:
    """The report as aligned plain-text lines (metrics in percent with two decimals)."""
    m = report.metrics
    rows: list[tuple[str, str]] = [(f"R@1 IoU>={t}", _pct(v)) for t, v in m.recall_at_1.items()]
    rows.append(("mIoU", _pct(m.mean_iou)))
    if m.recall_at_5 is not None:
        rows += [(f"R@5 IoU>={t}", _pct(v)) for t, v in m.recall_at_5.items()]
    rows += [
        ("mAP@0.5", _pct(m.map_50)),
        ("mAP@0.75", _pct(m.map_75)),
        (f"mAP@[{MAP_THRESHOLDS[0]}:0.05:{MAP_THRESHOLDS[-1]}]", _pct(m.map_avg)),
    ]
    counts: list[tuple[str, str]] = [
        ("queries", str(m.n_queries)),
        ("videos", str(report.n_videos)),
        ("parse failures", f"{m.n_unparsed} ({_pct(report.parse_failure_rate)}%)"),
        ("missing predictions", f"{m.n_missing} ({_pct(report.missing_rate)}%)"),
        ("empty predictions", f"{m.n_empty} ({_pct(report.empty_rate)}%)"),
        ("latency p50 / p95 (s)", f"{_seconds(report.latency_p50_s)} / {_seconds(report.latency_p95_s)}"),
    ]
    if report.n_unmatched_predictions:
        counts.append(("unmatched predictions", str(report.n_unmatched_predictions)))
    if report.missing_videos:
        counts.append(("videos not found", _listing(report.missing_videos)))
    if report.failed_videos:
        counts.append(("videos failed", _listing([video for video, _ in report.failed_videos])))
    provenance = [(key, str(value)) for key, value in report.provenance.items()]

    width = max(len(label) for label, _ in rows + counts + provenance)
    lines = [f"vidground eval: metrics in %, over all {m.n_queries} queries"]
    lines += [f"{label.ljust(width)}  {value}" for label, value in rows]
    lines.append("")
    lines += [f"{label.ljust(width)}  {value}" for label, value in counts]
    if provenance:
        lines.append("")
        lines += [f"{label.ljust(width)}  {value}" for label, value in provenance]
    return "\n".join(lines)


def _pct(fraction: float) -> str:
    return f"{100 * fraction:.2f}"


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _listing(names: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return f"{len(names)}: {shown}" + (", ..." if len(names) > limit else "")
