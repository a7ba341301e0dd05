"""Hand-computed cases for vidground.eval.metrics: IoU, cleaning, ranking, R@1/R@5/mIoU and mAP."""

from __future__ import annotations

import pytest

from vidground.errors import EvalDataError
from vidground.eval.groundtruth import GroundTruthItem
from vidground.eval.metrics import (
    MAP_THRESHOLDS,
    QueryStatus,
    average_precision,
    clean_spans,
    evaluate,
    iou,
    rank_spans,
    score_query,
)
from vidground.eval.predictions import Prediction
from vidground.timeline import Span


def gt_item(qid: str, *windows: tuple[float, float], duration_s: float | None = None) -> GroundTruthItem:
    return GroundTruthItem(qid, "v", f"query {qid}", tuple(windows), duration_s)


def pred(
    qid: str, *spans: tuple[float, float] | tuple[float, float, float], parsed: bool = True
) -> Prediction:
    return Prediction(qid, tuple(Span(*s) for s in spans), parsed)


# --- IoU ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ((0, 10), (5, 15), 5 / 15),  # partial overlap: overlap 5, union 15
        ((0, 5), (5, 10), 0.0),  # touching: overlap 0
        ((0, 4), (6, 10), 0.0),  # disjoint
        ((2, 4), (0, 10), 2 / 10),  # containment: overlap 2, union 10
        ((0, 10), (2, 4), 2 / 10),  # symmetric
        ((3, 8), (3, 8), 1.0),  # identical
        ((3, 3), (3, 3), 0.0),  # identical zero-length: union 0 → defined as 0
        ((3, 3), (0, 10), 0.0),  # zero-length inside a window: overlap 0
    ],
)
def test_iou_hand_computed(a: tuple[float, float], b: tuple[float, float], expected: float) -> None:
    assert iou(a, b) == pytest.approx(expected)


# --- cleaning and ranking -----------------------------------------------------------------------------------


def test_clean_swaps_reversed_and_clamps_to_duration() -> None:
    spans = [Span(12, 8, 0.9), Span(25, 40, 0.8), Span(35, 50, 0.7), Span(-2, 4, None, "t")]
    cleaned = clean_spans(spans, 30.0)
    assert [(s.start_s, s.end_s) for s in cleaned] == [(8, 12), (25, 30), (30, 30), (0, 4)]
    assert [s.score for s in cleaned] == [0.9, 0.8, 0.7, None]
    assert cleaned[3].text == "t"


def test_clean_without_duration_only_clamps_below_zero() -> None:
    cleaned = clean_spans([Span(100, 500), Span(-5, -1)], None)
    assert [(s.start_s, s.end_s) for s in cleaned] == [(100, 500), (0, 0)]


def test_rank_by_score_ties_keep_list_order_unscored_last() -> None:
    spans = [Span(0, 1, None), Span(1, 2, 0.5), Span(2, 3, 0.9), Span(3, 4, 0.5), Span(4, 5, None)]
    assert [s.start_s for s in rank_spans(spans)] == [2, 1, 3, 0, 4]


# --- per-query scores ---------------------------------------------------------------------------------------


def test_partial_overlap_top1() -> None:
    # GT (10, 20), prediction (15, 25): overlap 5, union 15 → 1/3: hit at 0.3, miss at 0.5.
    metrics = evaluate([gt_item("q", (10, 20))], {"q": pred("q", (15, 25, 1.0))})
    assert metrics.mean_iou == pytest.approx(1 / 3)
    assert metrics.recall_at_1 == {0.3: 1.0, 0.5: 0.0, 0.7: 0.0}


def test_touching_intervals_score_zero() -> None:
    metrics = evaluate([gt_item("q", (10, 20))], {"q": pred("q", (20, 30, 1.0))})
    assert metrics.mean_iou == 0.0
    assert metrics.recall_at_1[0.3] == 0.0
    assert metrics.map_avg == 0.0


def test_containment() -> None:
    # prediction (0, 30) contains GT (10, 20): overlap 10 / union 30 = 1/3.
    score = score_query(gt_item("q", (10, 20)), pred("q", (0, 30, 1.0)))
    assert score.top1_iou == pytest.approx(1 / 3)


def test_zero_length_prediction_and_ground_truth() -> None:
    assert score_query(gt_item("q", (10, 20)), pred("q", (15, 15, 1.0))).top1_iou == 0.0
    assert score_query(gt_item("q", (15, 15)), pred("q", (15, 15, 1.0))).top1_iou == 0.0


def test_prediction_past_video_end_is_clamped() -> None:
    # duration 30, GT (20, 30), prediction (25, 40) → clamped (25, 30): 5 / 10 = 0.5 (unclamped: 5 / 20).
    item = gt_item("q", (20, 30), duration_s=30.0)
    assert score_query(item, pred("q", (25, 40, 1.0))).top1_iou == pytest.approx(0.5)
    # wholly past the end → (30, 30), zero-length → 0.
    assert score_query(item, pred("q", (35, 50, 1.0))).top1_iou == 0.0


def test_reversed_prediction_is_swapped() -> None:
    assert score_query(gt_item("q", (8, 12)), pred("q", (12, 8, 1.0))).top1_iou == pytest.approx(1.0)


def test_missing_unparsed_and_empty_count_as_zero_over_all_queries() -> None:
    gt = [gt_item("a", (0, 10)), gt_item("b", (0, 10)), gt_item("c", (0, 10)), gt_item("d", (0, 10))]
    predictions = {
        "a": pred("a", (0, 10, 1.0)),  # perfect
        "c": pred("c", (0, 10, 1.0), parsed=False),  # spans present but the answer was not parsed: ignored
        "d": pred("d"),  # parsed, no spans
        "zzz": pred("zzz", (0, 10, 1.0)),  # not in the ground truth: ignored
    }
    metrics = evaluate(gt, predictions)
    assert metrics.n_queries == 4
    assert (metrics.n_missing, metrics.n_unparsed, metrics.n_empty) == (1, 1, 1)
    assert [q.status for q in metrics.queries] == [
        QueryStatus.SCORED,
        QueryStatus.MISSING,
        QueryStatus.UNPARSED,
        QueryStatus.EMPTY,
    ]
    # 1 of 4 queries is right: R@1 = 1/4 at every threshold, mIoU = (1 + 0 + 0 + 0) / 4, mAP likewise.
    assert metrics.recall_at_1 == {0.3: 0.25, 0.5: 0.25, 0.7: 0.25}
    assert metrics.mean_iou == pytest.approx(0.25)
    assert metrics.map_avg == pytest.approx(0.25)


def test_several_ground_truth_windows_use_best_match() -> None:
    # GT (0, 10) and (20, 30); prediction (21, 30): IoU 0 with the first, 9/10 with the second → 0.9.
    metrics = evaluate([gt_item("q", (0, 10), (20, 30))], {"q": pred("q", (21, 30, 1.0))})
    assert metrics.mean_iou == pytest.approx(0.9)
    assert metrics.recall_at_1[0.7] == 1.0


def test_top1_is_highest_score_not_first_in_list() -> None:
    # list order puts the wrong span first; score puts the right one first.
    metrics = evaluate([gt_item("q", (20, 30))], {"q": pred("q", (0, 5, 0.2), (20, 30, 0.9))})
    assert metrics.mean_iou == pytest.approx(1.0)


def test_thresholds_are_inclusive_even_after_float_rounding() -> None:
    # GT (0, 10), prediction (0, 5): IoU exactly 0.5 → hit at 0.5.
    assert evaluate([gt_item("q", (0, 10))], {"q": pred("q", (0, 5, 1.0))}).recall_at_1[0.5] == 1.0
    # GT (0.2, 0.3), prediction (0.1, 0.3): 0.1 / 0.2 = 0.5 on paper, 0.49999999999999994 in floats → a hit.
    assert iou((0.1, 0.3), (0.2, 0.3)) < 0.5
    metrics = evaluate([gt_item("q", (0.2, 0.3))], {"q": pred("q", (0.1, 0.3, 1.0))})
    assert metrics.recall_at_1[0.5] == 1.0
    assert metrics.map_50 == 1.0
    # just below on paper stays a miss: (0, 4.99) vs (0, 10) = 0.499.
    assert evaluate([gt_item("q", (0, 10))], {"q": pred("q", (0, 4.99, 1.0))}).recall_at_1[0.5] == 0.0


def test_recall_at_5_only_with_several_spans() -> None:
    gt = [gt_item("a", (50, 60)), gt_item("b", (0, 10))]
    single = evaluate(gt, {"a": pred("a", (50, 60, 1.0)), "b": pred("b", (0, 10, 1.0))})
    assert single.recall_at_5 is None
    # a: the right span is ranked 6th → not in the top 5; b: ranked 2nd → R@5 hit, R@1 miss.
    many_a = [(i, i + 1, 1.0 - i / 10) for i in range(5)] + [(50, 60, 0.1)]
    metrics = evaluate(gt, {"a": pred("a", *many_a), "b": pred("b", (30, 40, 0.9), (0, 10, 0.8))})
    assert metrics.recall_at_5 == {0.3: 0.5, 0.5: 0.5, 0.7: 0.5}
    assert metrics.recall_at_1 == {0.3: 0.0, 0.5: 0.0, 0.7: 0.0}


def test_evaluate_refuses_empty_ground_truth() -> None:
    with pytest.raises(EvalDataError, match="at least one query"):
        evaluate([], {})


# --- average precision --------------------------------------------------------------------------------------


def test_map_worked_example() -> None:
    # GT windows G1 = (0, 10), G2 = (20, 30). Predictions, already by score:
    #   A (21, 30) 0.9: IoU 0.9 with G2          B (0, 4) 0.8: IoU 0.4 with G1
    #   C (0, 9)   0.7: IoU 0.9 with G1          D (20, 29) 0.6: IoU 0.9 with G2, but G2 is taken by A
    # At t = 0.5 (and every t up to 0.9): A TP, B FP, C TP, D FP (one-to-one: G2 already matched).
    #   precision after each: 1/1, 1/2, 2/3, 2/4; recall: 1/2, 1/2, 2/2, 2/2.
    #   interpolated precision at the TPs: rank 1 → max(1, .5, .667, .5) = 1; rank 3 → max(.667, .5) = 2/3.
    #   AP = (1/2) * 1 + (1/2) * (2/3) = 5/6.
    # At t = 0.95 every IoU (≤ 0.9) misses → AP 0.
    # mAP@[.5:.05:.95] = (9 * 5/6 + 0) / 10 = 0.75.
    item = gt_item("q", (0, 10), (20, 30))
    p = pred("q", (21, 30, 0.9), (0, 4, 0.8), (0, 9, 0.7), (20, 29, 0.6))
    windows = [(21.0, 30.0), (0.0, 4.0), (0.0, 9.0), (20.0, 29.0)]
    assert average_precision(windows, item.windows, 0.5) == pytest.approx(5 / 6)
    assert average_precision(windows, item.windows, 0.9) == pytest.approx(5 / 6)
    assert average_precision(windows, item.windows, 0.95) == 0.0
    metrics = evaluate([item], {"q": p})
    assert metrics.map_50 == pytest.approx(5 / 6)
    assert metrics.map_75 == pytest.approx(5 / 6)
    assert metrics.map_avg == pytest.approx(0.75)
    assert len(metrics.map_by_threshold) == len(MAP_THRESHOLDS) == 10


def test_map_over_two_queries_with_a_miss_first() -> None:
    # q1: GT (0, 10); predictions FP (50, 60) then TP (0, 10): precisions 0, 1/2 → AP = 1 * (1/2) = 0.5.
    # q2: GT (0, 10) and (20, 30); one prediction (0, 10): TP, precision 1, recall 1/2 → AP = (1/2) * 1 = 0.5.
    # mAP = (0.5 + 0.5) / 2 = 0.5 at every threshold.
    gt = [gt_item("q1", (0, 10)), gt_item("q2", (0, 10), (20, 30))]
    predictions = {"q1": pred("q1", (50, 60, 0.9), (0, 10, 0.5)), "q2": pred("q2", (0, 10, 1.0))}
    metrics = evaluate(gt, predictions)
    assert metrics.map_avg == pytest.approx(0.5)
    assert metrics.map_50 == pytest.approx(0.5)


def test_map_uses_only_the_top_ten_predictions() -> None:
    # ten wrong spans scored above the right one: the right one is 11th and not counted → AP 0.
    wrong = [(100 + i, 101 + i, 1.0 - i / 100) for i in range(10)]
    metrics = evaluate([gt_item("q", (0, 10))], {"q": pred("q", *wrong, (0, 10, 0.01))})
    assert metrics.map_avg == 0.0
    # with only nine wrong ones it is 10th: precision 1/10 at recall 1 → AP 0.1.
    metrics = evaluate([gt_item("q", (0, 10))], {"q": pred("q", *wrong[:9], (0, 10, 0.01))})
    assert metrics.map_avg == pytest.approx(0.1)


def test_map_duplicate_predictions_cannot_match_one_window_twice() -> None:
    # one GT window, two identical perfect predictions: TP then FP → precisions 1, 1/2 → AP = 1 * 1 = 1.
    assert average_precision([(0, 10), (0, 10)], [(0, 10)], 0.5) == pytest.approx(1.0)
    # a duplicate ranked before another window's TP lowers AP: GT (0,10),(20,30); preds (0,10),(0,10),(20,30):
    # TP, FP, TP → precisions 1, 1/2, 2/3 → AP = 1/2 * 1 + 1/2 * 2/3 = 5/6.
    assert average_precision([(0, 10), (0, 10), (20, 30)], [(0, 10), (20, 30)], 0.5) == pytest.approx(5 / 6)


def test_map_matches_each_prediction_to_its_best_free_window() -> None:
    # GT (0, 10) and (5, 15); prediction P1 (5, 15) matches G2 exactly (IoU 1; G1 only 1/3), then
    # P2 (0, 9) takes G1 (IoU 0.9): both TP → AP 1 at thresholds up to 0.9.
    assert average_precision([(5, 15), (0, 9)], [(0, 10), (5, 15)], 0.9) == pytest.approx(1.0)


def test_average_precision_without_predictions_is_zero() -> None:
    assert average_precision([], [(0, 10)], 0.5) == 0.0
