"""``vidground eval``: score temporal grounding against ground truth with stated, standard metrics.

Read ``docs/eval.md`` for the definitions. The pieces: ``load_ground_truth`` (Charades-STA, QVHighlights,
ActivityNet-Captions, plain CSV/JSON), ``load_predictions`` (QVHighlights submissions or vidground output),
``run_grounding_eval`` (the resumable ``--videos`` loop), ``evaluate`` (the metrics) and ``build_report`` /
``render_table`` / ``EvalReport.to_json`` (the output).
"""

from __future__ import annotations

from vidground.eval.groundtruth import (
    GroundTruthFormat,
    GroundTruthItem,
    load_ground_truth,
    parse_ground_truth,
)
from vidground.eval.metrics import (
    MAP_THRESHOLDS,
    MAX_PREDICTIONS,
    RECALL_THRESHOLDS,
    GroundingMetrics,
    QueryScore,
    QueryStatus,
    average_precision,
    clean_spans,
    evaluate,
    iou,
    rank_spans,
)
from vidground.eval.predictions import LoadedPredictions, Prediction, load_predictions, parse_predictions
from vidground.eval.report import EvalReport, build_report, render_table
from vidground.eval.runner import EvalRun, run_grounding_eval

__all__ = [
    "MAP_THRESHOLDS",
    "MAX_PREDICTIONS",
    "RECALL_THRESHOLDS",
    "EvalReport",
    "EvalRun",
    "GroundTruthFormat",
    "GroundTruthItem",
    "GroundingMetrics",
    "LoadedPredictions",
    "Prediction",
    "QueryScore",
    "QueryStatus",
    "average_precision",
    "build_report",
    "clean_spans",
    "evaluate",
    "iou",
    "load_ground_truth",
    "load_predictions",
    "parse_ground_truth",
    "parse_predictions",
    "rank_spans",
    "render_table",
    "run_grounding_eval",
]
