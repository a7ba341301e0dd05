"""Ground-truth and prediction file formats for ``vidground eval``, and the report's JSON and table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vidground.errors import EvalDataError
from vidground.eval.groundtruth import (
    GroundTruthFormat,
    GroundTruthItem,
    load_ground_truth,
    parse_ground_truth,
    query_key,
    video_key,
)
from vidground.eval.predictions import load_predictions, parse_predictions, summarize_provenance
from vidground.eval.report import build_report, percentile, render_table
from vidground.timeline import Span

CHARADES = (
    "3MSZA 24.3 30.4##person turn a light on.\n\n3MSZA 0.0 6.9##a person is putting a book on a shelf.\n"
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- ground truth -------------------------------------------------------------------------------------------


def test_charades_lines_with_stable_qids(tmp_path: Path) -> None:
    items = load_ground_truth(write(tmp_path, "charades_sta_test.txt", CHARADES))
    assert items == [
        GroundTruthItem("3MSZA#1", "3MSZA", "person turn a light on.", ((24.3, 30.4),), None),
        GroundTruthItem("3MSZA#3", "3MSZA", "a person is putting a book on a shelf.", ((0.0, 6.9),), None),
    ]


def test_qvhighlights_jsonl_with_several_windows(tmp_path: Path) -> None:
    lines = [
        {"qid": 7803, "query": "Man walks in.", "duration": 150, "vid": "RoripwjYFp8_360.0_510.0",
         "relevant_windows": [[26, 36], [40, 52]]},
        {"qid": "x2", "query": "A dog.", "duration": 126.0, "vid": "abc_0.0_126.0",
         "relevant_windows": [[0, 4]]},
    ]  # fmt: skip
    path = write(tmp_path, "val.jsonl", "\n".join(json.dumps(line) for line in lines) + "\n")
    items = load_ground_truth(path)
    assert items[0] == GroundTruthItem(
        "7803", "RoripwjYFp8_360.0_510.0", "Man walks in.", ((26.0, 36.0), (40.0, 52.0)), 150.0
    )
    assert items[1].qid == "x2" and items[1].duration_s == 126.0


def test_activitynet_captions_json(tmp_path: Path) -> None:
    data = {
        "v_QOlSCBRmfWY": {
            "duration": 82.73,
            "timestamps": [[0.83, 19.86], [17.37, 60.81]],
            "sentences": ["A young woman is seen standing.", " She then begins to dance. "],
        }
    }
    items = load_ground_truth(write(tmp_path, "val_1.json", json.dumps(data, indent=2)))
    assert [(i.qid, i.query, i.windows, i.duration_s) for i in items] == [
        ("v_QOlSCBRmfWY#0", "A young woman is seen standing.", ((0.83, 19.86),), 82.73),
        ("v_QOlSCBRmfWY#1", "She then begins to dance.", ((17.37, 60.81),), 82.73),
    ]


def test_plain_csv_merges_rows_sharing_a_qid(tmp_path: Path) -> None:
    text = (
        "qid,video,query,start_s,end_s,duration\n"
        "q1,clips/a.mp4,door opens,1,2,30\n"
        "q1,clips/a.mp4,door opens,5,6,\n"
    )
    items = load_ground_truth(write(tmp_path, "gt.csv", text))
    assert items == [GroundTruthItem("q1", "clips/a.mp4", "door opens", ((1.0, 2.0), (5.0, 6.0)), 30.0)]


def test_plain_csv_without_qid_numbers_rows(tmp_path: Path) -> None:
    items = load_ground_truth(write(tmp_path, "gt.csv", "video,query,start,end\na,x,1,2\nb,y,3,4\n"))
    assert [i.qid for i in items] == ["a#2", "b#3"]


def test_plain_json_list_with_windows(tmp_path: Path) -> None:
    text = json.dumps([{"video": "a", "query": "x", "windows": [[1, 2], [3, 4]]}, {"video": "b", "query": "y",
                       "start": 0, "end": 1, "qid": "k"}])  # fmt: skip
    items = load_ground_truth(write(tmp_path, "gt.json", text))
    assert [(i.qid, i.windows) for i in items] == [("a#0", ((1.0, 2.0), (3.0, 4.0))), ("k", ((0.0, 1.0),))]


def test_explicit_format_overrides_sniffing(tmp_path: Path) -> None:
    path = write(tmp_path, "whatever.dat", CHARADES)
    assert len(load_ground_truth(path, format=GroundTruthFormat.CHARADES)) == 2
    assert len(load_ground_truth(path)) == 2  # sniffed from the "##"


@pytest.mark.parametrize(
    ("name", "text", "fmt", "message"),
    [
        ("c.txt", "3MSZA 24.3 30.4##ok\n3MSZA 24.3##missing end\n", None,
         r"c\.txt:2: expected 'VIDEO_ID START END"),
        ("c.txt", "3MSZA 24.3 abc##bad\n", GroundTruthFormat.CHARADES,
         r"c\.txt:1: expected end to be a finite"),
        ("c.txt", "3MSZA 9 3##reversed\n", GroundTruthFormat.CHARADES,
         r"c\.txt:1: expected 0 <= start <= end"),
        ("q.jsonl", '{"qid": 1, "query": "a", "vid": "v", "relevant_windows": [[0, 1]]}\n'
         '{"qid": 2, "query": "b"}\n', None, r"q\.jsonl:2: missing field 'relevant_windows'"),
        ("q.jsonl", '{"qid": 1, "query": "a", "vid": "v", "relevant_windows": []}\n',
         GroundTruthFormat.QVHIGHLIGHTS, r"q\.jsonl:1: expected a non-empty list of \[start, end\] windows"),
        ("q.jsonl", '{"qid": 1, "query": "a", "vid": "v", "relevant_windows": [[0, 1]]}\n{oops\n',
         GroundTruthFormat.QVHIGHLIGHTS, r"q\.jsonl:2: invalid JSON"),
        ("a.json", '{"v1": {"duration": 10, "timestamps": [[1, 2]], "sentences": []}}', None,
         r"video 'v1': expected equal-length lists"),
        ("g.csv", "video,query,begin,finish\na,x,1,2\n", None, r"g\.csv:1: expected a header"),
        ("g.csv", "video,query,start,end\na,x,1,2\na,,1,2\n", None, r"g\.csv:3: missing field 'query'"),
        ("g.txt", "just some words\n", None, r"cannot tell the ground-truth format"),
        ("a.json", "{}", GroundTruthFormat.ACTIVITYNET, r"a\.json: no queries found in activitynet ground truth"),
    ],
)  # fmt: skip
def test_malformed_ground_truth_names_file_line_and_problem(
    tmp_path: Path, name: str, text: str, fmt: GroundTruthFormat | None, message: str
) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(EvalDataError, match=message):
        load_ground_truth(path, format=fmt)


def test_repeated_charades_lines_get_distinct_qids() -> None:
    items = parse_ground_truth("a 1 2##x\na 1 2##x\n", format=GroundTruthFormat.CHARADES)
    assert [i.qid for i in items] == ["a#1", "a#2"]


def test_duplicate_qids_are_refused() -> None:
    text = '{"qid": 1, "query": "a", "vid": "v", "relevant_windows": [[0, 1]]}\n' * 2
    with pytest.raises(EvalDataError, match="query id '1' appears more than once"):
        parse_ground_truth(text, format=GroundTruthFormat.QVHIGHLIGHTS, source="gt.jsonl")


def test_unreadable_file_is_an_eval_data_error(tmp_path: Path) -> None:
    with pytest.raises(EvalDataError, match="cannot read ground truth"):
        load_ground_truth(tmp_path / "absent.txt")


def test_video_and_query_keys() -> None:
    assert video_key("/data/clips/RoripwjYFp8_360.0_510.0.mp4") == "RoripwjYFp8_360.0_510.0"
    assert video_key("RoripwjYFp8_360.0_510.0") == "RoripwjYFp8_360.0_510.0"
    assert video_key("C:\\videos\\3MSZA.MKV") == "3MSZA"
    assert query_key("  Person  turns\ta Light on. ") == "person turns a light on."


# --- predictions --------------------------------------------------------------------------------------------

GT = [
    GroundTruthItem("3MSZA#1", "3MSZA", "person turn a light on.", ((24.3, 30.4),), None),
    GroundTruthItem("3MSZA#3", "3MSZA", "a person is putting a book on a shelf.", ((0.0, 6.9),), None),
    GroundTruthItem("7", "clips/abc.mp4", "dog runs", ((1.0, 2.0),), 20.0),
]


def test_qvhighlights_predictions_by_qid(tmp_path: Path) -> None:
    lines = [
        {"qid": "3MSZA#1", "pred_relevant_windows": [[24.0, 31.0, 0.9], [0, 3, 0.2]]},
        {"qid": 7, "pred_relevant_windows": [[2.0, 1.0]], "parsed": True, "latency_s": 1.5},
        {"qid": "not-in-gt", "pred_relevant_windows": [[0, 1, 1]]},
    ]
    loaded = load_predictions(write(tmp_path, "p.jsonl", "\n".join(map(json.dumps, lines))), GT)
    assert set(loaded.by_qid) == {"3MSZA#1", "7"}
    assert loaded.by_qid["3MSZA#1"].spans == (Span(24.0, 31.0, 0.9), Span(0.0, 3.0, 0.2))
    assert loaded.by_qid["7"].spans == (Span(2.0, 1.0, None),)  # kept as written; cleaned at scoring
    assert loaded.by_qid["7"].latency_s == 1.5
    assert loaded.n_unmatched == 1


def test_vidground_output_matched_by_video_stem_and_query_text() -> None:
    first = {
        "video": "/videos/3MSZA.mp4",
        "duration_s": 31.0,
        "results": [
            {"query": "Person turn a light on.", "found": True,
             "spans": [{"start_s": 24.0, "end_s": 30.0, "score": 0.8,
                        "start_tc": "00:24", "end_tc": "00:30"}]},
            {"query": "a person is putting a book on a shelf.", "found": False, "spans": [], "raw": "???"},
            {"query": "something else", "found": True, "spans": []},
        ],
        "provenance": {"model_id": "Qwen/Qwen2.5-VL-3B-Instruct", "fps": 2.0, "frame_times_s": [0.0, 0.5]},
    }  # fmt: skip
    second = {
        "video": "abc.mp4",
        "results": [
            {"query": "dog runs", "found": True, "spans": [{"start_s": 1, "end_s": 2, "score": None}]}
        ],
        "provenance": {"model_id": "Qwen/Qwen2.5-VL-3B-Instruct", "fps": 1.0},
    }
    loaded = parse_predictions(json.dumps(first) + "\n" + json.dumps(second) + "\n", GT)
    assert loaded.by_qid["3MSZA#1"].spans == (Span(24.0, 30.0, 0.8),)
    assert loaded.by_qid["3MSZA#1"].parsed is True
    assert loaded.by_qid["3MSZA#3"].parsed is False  # found: false → no readable span
    assert loaded.by_qid["7"].spans == (Span(1.0, 2.0, None),)
    assert loaded.n_unmatched == 1
    assert loaded.provenance == {"model_id": "Qwen/Qwen2.5-VL-3B-Instruct", "fps": [2.0, 1.0]}


def test_single_pretty_printed_vidground_object() -> None:
    doc = {"video": "abc.mkv", "results": [{"query": "DOG runs", "found": True, "parsed": True, "spans": []}]}
    loaded = parse_predictions(json.dumps(doc, indent=2), GT)
    assert loaded.by_qid["7"].spans == () and loaded.by_qid["7"].parsed is True


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"qid": 7, "pred_relevant_windows": [[1, 2, 3, 4]]}\n{"qid": 8, "pred_relevant_windows": []}',
         r"p\.jsonl:1: expected a \[start, end, score\] window"),
        ('{"qid": 7, "pred_relevant_windows": [[1, "x"]]}\n{"qid": 8, "pred_relevant_windows": []}',
         r"p\.jsonl:1: expected end to be a finite number"),
        ('{"qid": 7, "pred_relevant_windows": []}\n{"qid": 7, "pred_relevant_windows": []}',
         r"p\.jsonl:2: second prediction for query '7' \(first at p\.jsonl:1\)"),
        ('{"qid": 7, "windows": []}\n{"qid": 8}', r"p\.jsonl:1: expected a QVHighlights record"),
        ('{"qid": 7, "pred_relevant_windows": []}\nnot json', r"p\.jsonl:2: invalid JSON"),
        ('[{"video": 3, "results": []}]', r"p\.jsonl: item 0: expected vidground output"),
    ],
)  # fmt: skip
def test_malformed_predictions(text: str, message: str) -> None:
    with pytest.raises(EvalDataError, match=message):
        parse_predictions(text, GT, source="p.jsonl")


def test_summarize_provenance_keeps_scalars() -> None:
    merged = summarize_provenance([{"a": 1, "b": "x", "c": [1]}, {"a": 1, "b": "y", "d": None}])
    assert merged == {"a": 1, "b": ["x", "y"], "d": None}


# --- report -------------------------------------------------------------------------------------------------


def test_percentile_linear_interpolation() -> None:
    assert percentile([4.0, 1.0, 3.0, 2.0], 95) == pytest.approx(3.85)  # 0.95 * 3 = 2.85 → 3 + 0.85 * (4 - 3)
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == pytest.approx(2.5)
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 50) is None


def test_report_json_and_table() -> None:
    text = (
        '{"qid": "3MSZA#1", "pred_relevant_windows": [[24.3, 30.4, 1]], "latency_s": 1.0}\n'
        '{"qid": "3MSZA#3", "pred_relevant_windows": [], "parsed": false, "latency_s": 3.0}\n'
        '{"qid": "other", "pred_relevant_windows": []}\n'
    )
    loaded = parse_predictions(text, GT)
    report = build_report(
        GT,
        loaded.by_qid,
        provenance={"model_id": "Qwen/Qwen2.5-VL-3B-Instruct", "fps": 2.0},
        missing_videos=["clips/abc.mp4"],
        n_unmatched_predictions=loaded.n_unmatched,
    )
    data = report.to_json()
    json.dumps(data)  # JSON-ready
    metrics = data["metrics"]
    assert isinstance(metrics, dict)
    # 3 queries: one perfect, one unparsed, one missing → 1/3 everywhere.
    assert metrics["r1"] == {
        "0.3": pytest.approx(1 / 3),
        "0.5": pytest.approx(1 / 3),
        "0.7": pytest.approx(1 / 3),
    }
    assert metrics["map_avg"] == pytest.approx(1 / 3)
    assert metrics["r5"] is None
    assert data["rates"] == {
        "parse_failure": pytest.approx(1 / 3),
        "missing": pytest.approx(1 / 3),
        "empty": 0.0,
    }
    assert data["latency_s"] == {"p50": pytest.approx(2.0), "p95": pytest.approx(2.9), "n": 2}
    counts = data["counts"]
    assert isinstance(counts, dict)
    assert (counts["queries"], counts["videos"], counts["unmatched_predictions"]) == (3, 2, 1)
    assert counts["missing_videos"] == ["clips/abc.mp4"]

    table = render_table(report)
    assert "R@1 IoU>=0.5" in table and "33.33" in table
    assert "parse failures" in table and "1 (33.33%)" in table
    assert "2.00 / 2.90" in table
    assert "Qwen/Qwen2.5-VL-3B-Instruct" in table
    assert "videos not found" in table
    assert "R@5" not in table
