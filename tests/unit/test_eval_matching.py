"""How ``vidground eval`` matches predictions to ground-truth queries: qids, video and query text, quotes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vidground.errors import EvalDataError
from vidground.eval.groundtruth import GroundTruthFormat, GroundTruthItem, load_ground_truth, query_key
from vidground.eval.metrics import evaluate
from vidground.eval.predictions import load_predictions, parse_predictions
from vidground.timeline import Span

QVH_GT = [
    {"qid": 7803, "query": "Man walks in.", "duration": 150, "vid": "vA_0.0_150.0", "relevant_windows": [[26, 36]]},
    {"qid": 2579, "query": "A dog runs.", "duration": 150, "vid": "vB_0.0_150.0", "relevant_windows": [[0, 10]]},
    {"qid": 10016, "query": "She says hi.", "duration": 150, "vid": "vB_0.0_150.0", "relevant_windows": [[40, 60]]},
]  # fmt: skip


def jsonl(records: list[dict[str, object]]) -> str:
    return "".join(json.dumps(record) + "\n" for record in records)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def qvh_gt(tmp_path: Path) -> list[GroundTruthItem]:
    return load_ground_truth(write(tmp_path, "highlight_val.jsonl", jsonl(QVH_GT)))


def test_lighthouse_line_number_qids_are_matched_by_video_and_query(
    tmp_path: Path, qvh_gt: list[GroundTruthItem]
) -> None:
    # lighthouse / Moment-DETR style: qid is the 0-based line, in another order than the ground truth.
    lines = [
        {"qid": 0, "vid": "vB_0.0_150.0", "query": "a dog  runs.",
         "pred_relevant_windows": [[0, 10, 0.9], [50, 60, 0.1]], "pred_saliency_scores": [0.1, 0.2]},
        {"qid": 1, "vid": "vA_0.0_150.0", "query": "Man walks in.", "pred_relevant_windows": [[26, 31, 0.8]]},
        {"qid": 2, "vid": "vB_0.0_150.0", "query": "She says hi.", "pred_relevant_windows": [[45, 60, 0.7]]},
    ]  # fmt: skip
    loaded = load_predictions(write(tmp_path, "hl_val_submission.jsonl", jsonl(lines)), qvh_gt)
    assert {qid: p.spans[0] for qid, p in loaded.by_qid.items()} == {
        "2579": Span(0.0, 10.0, 0.9),
        "7803": Span(26.0, 31.0, 0.8),
        "10016": Span(45.0, 60.0, 0.7),
    }
    assert loaded.n_unmatched == 0
    metrics = evaluate(qvh_gt, loaded.by_qid)  # top-1 IoUs 1, 0.5, 0.75
    assert metrics.n_missing == 0
    assert metrics.mean_iou == pytest.approx(0.75)
    assert metrics.recall_at_1 == pytest.approx({0.3: 1.0, 0.5: 1.0, 0.7: 2 / 3})


def test_an_equal_qid_naming_another_query_is_matched_by_its_text() -> None:
    gt = [
        GroundTruthItem("1", "a", "door opens", ((0.0, 1.0),)),
        GroundTruthItem("5", "b", "dog runs", ((2.0, 3.0),)),
    ]
    lines = [
        {"qid": 0, "vid": "a", "query": "door opens", "pred_relevant_windows": [[0, 1, 1.0]]},
        {"qid": 1, "vid": "b", "query": "dog runs", "pred_relevant_windows": [[2, 3, 1.0]]},  # "1" is a's qid
    ]
    loaded = parse_predictions(jsonl(lines), gt)
    assert loaded.by_qid["1"].spans == (Span(0.0, 1.0, 1.0),)
    assert loaded.by_qid["5"].spans == (Span(2.0, 3.0, 1.0),)


def test_a_fitting_qid_wins_over_edited_text_of_the_same_video() -> None:
    gt = [GroundTruthItem("7", "clips/a.mp4", "door opens", ((0.0, 1.0),))]
    same_video = {"qid": 7, "video": "a.mp4", "query": "the door opens", "pred_relevant_windows": [[0, 1]]}
    assert set(parse_predictions(jsonl([same_video]), gt).by_qid) == {"7"}
    other_video = {**same_video, "video": "b.mp4"}
    loaded = parse_predictions(jsonl([other_video]), gt)
    assert loaded.by_qid == {} and loaded.n_unmatched == 1


def test_a_sentence_repeated_in_one_video_takes_the_next_unanswered_query() -> None:
    gt = [GroundTruthItem("a#1", "a", "x", ((0.0, 1.0),)), GroundTruthItem("a#2", "a", "x", ((5.0, 6.0),))]
    lines = [{"qid": i, "vid": "a", "query": "x", "pred_relevant_windows": [[i, i + 1, 1.0]]} for i in range(3)]
    loaded = parse_predictions(jsonl(lines[:2]), gt)
    assert loaded.by_qid["a#1"].spans == (Span(0.0, 1.0, 1.0),)
    assert loaded.by_qid["a#2"].spans == (Span(1.0, 2.0, 1.0),)
    with pytest.raises(EvalDataError, match=r"p\.jsonl:3: second prediction for query 'a#1'"):
        parse_predictions(jsonl(lines), gt, source="p.jsonl")


def test_query_key_folds_quotes_case_and_whitespace() -> None:
    plain = query_key("""The "Big" dog's  BALL""")
    assert plain == "the 'big' dog's ball"
    for variant in ("the \u201cbig\u201d dog\u2019s ball", "the \u00abbig\u00bb dog\u2018s ball",
                    "the \u2033big\u2033 dog\u2032s ball", "the 'big' dog's ball"):  # fmt: skip
        assert query_key(variant) == plain, variant
    assert query_key("the big dogs ball") != plain  # quotes fold to one mark, they are not dropped


def test_vidground_answers_with_typographic_quotes_match_straight_quoted_ground_truth() -> None:
    gt = [
        GroundTruthItem("q1", "v", "the dog's ball", ((0.0, 1.0),)),
        GroundTruthItem("q2", "v", 'he says "hi"', ((2.0, 3.0),)),
    ]
    output = {
        "video": "v.mp4",
        "results": [
            {"query": "the dog\u2019s ball", "found": True, "spans": [{"start_s": 0, "end_s": 1, "score": 0.5}]},
            {"query": "he says \u201dhi\u201d", "found": True, "spans": [{"start_s": 2, "end_s": 3, "score": 0.5}]},
        ],
    }
    loaded = parse_predictions(json.dumps(output), gt)
    assert set(loaded.by_qid) == {"q1", "q2"} and loaded.n_unmatched == 0


def test_unmatched_entries_are_counted_with_a_few_examples(qvh_gt: list[GroundTruthItem]) -> None:
    lines = [
        {"qid": 0, "vid": "vA_0.0_150.0", "query": "Man walks in.", "pred_relevant_windows": [[26, 31, 0.8]]},
        *({"qid": i, "vid": "vZ", "query": f"query {i}", "pred_relevant_windows": []} for i in range(1, 6)),
    ]
    output = {"video": "vB_0.0_150.0.mp4", "results": [{"query": "a cat", "found": False, "spans": []}]}
    loaded = parse_predictions(jsonl(lines) + json.dumps(output) + "\n", qvh_gt)
    assert set(loaded.by_qid) == {"7803"}
    assert loaded.n_unmatched == 6
    assert loaded.unmatched_examples == (
        "qid 1 (video 'vZ', query 'query 1')",
        "qid 2 (video 'vZ', query 'query 2')",
        "qid 3 (video 'vZ', query 'query 3')",
    )


def test_predictions_matching_nothing_say_what_was_expected_and_found(
    tmp_path: Path, qvh_gt: list[GroundTruthItem]
) -> None:
    lines = [{"qid": i, "pred_relevant_windows": [[0, 1, 1.0]]} for i in range(4)]
    path = write(tmp_path, "p.jsonl", jsonl(lines))
    with pytest.raises(EvalDataError) as caught:
        load_predictions(path, qvh_gt)
    message = str(caught.value)
    assert "p.jsonl: no prediction matches a ground-truth query" in message
    assert "expected 3 queries such as qid '7803' (video 'vA_0.0_150.0', query 'Man walks in.')" in message
    assert "got 4 entries such as qid 0, qid 1, qid 2;" in message
    assert "\n" not in message


def test_an_empty_predictions_file_matches_nothing(tmp_path: Path, qvh_gt: list[GroundTruthItem]) -> None:
    with pytest.raises(EvalDataError, match=r"p\.jsonl: no prediction matches .* got no prediction entries"):
        load_predictions(write(tmp_path, "p.jsonl", ""), qvh_gt)


@pytest.mark.parametrize("fmt", [None, GroundTruthFormat.QVHIGHLIGHTS])
@pytest.mark.parametrize("text", ["", "\n  \n"])
def test_an_empty_ground_truth_file_says_it_is_empty(tmp_path: Path, text: str, fmt: GroundTruthFormat | None) -> None:
    with pytest.raises(EvalDataError, match=r"gt\.jsonl: the ground-truth file is empty"):
        load_ground_truth(write(tmp_path, "gt.jsonl", text), format=fmt)


def test_an_unrecognised_ground_truth_names_the_option_that_forces_a_format(tmp_path: Path) -> None:
    path = write(tmp_path, "gt.txt", "video,query,start,end\na,x,1,2\n")
    with pytest.raises(EvalDataError, match=r"--gt-format charades\|qvhighlights\|activitynet\|csv\|json\)$"):
        load_ground_truth(path)
    assert load_ground_truth(path, format=GroundTruthFormat.CSV) == [GroundTruthItem("a#2", "a", "x", ((1.0, 2.0),))]
