"""The ``vidground`` CLI without a model: inspect, doctor, eval --predictions, and how errors reach a user."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import vidground
from vidground.cli import main

VIDGROUND = [sys.executable, "-m", "vidground.cli"]


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real command in its own process, as a user would."""
    return subprocess.run(
        [*VIDGROUND, *args], capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})}
    )


def test_inspect_json_has_probe_and_plan(cfr_video: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(cfr_video), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    probe, plan = data["probe"], data["plan"]
    assert probe["n_frames"] == 90 and probe["fps"] == pytest.approx(30.0)
    assert probe["duration_s"] == pytest.approx(3.0, abs=0.05)
    assert (probe["width"], probe["height"], probe["codec"], probe["vfr"]) == (160, 96, "h264", False)
    # 3 s at 2 fps = 6 frames; qwen-vl-utils indices round(linspace(0, 89, 6)).
    assert [f["index"] for f in plan["frames"]] == [0, 18, 36, 53, 71, 89]
    assert plan["frames"][1]["time_s"] == pytest.approx(18 / 30)
    assert plan["grid_thw"] == [3, plan["height"] // 14, plan["width"] // 14]
    assert plan["num_tokens"] == 3 * (plan["height"] // 28) * (plan["width"] // 28)
    assert plan["sample_fps"] == pytest.approx(2.0)
    assert plan["second_per_grid"] == pytest.approx(1.0)


def test_inspect_flags_change_the_plan(cfr_video: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["inspect", str(cfr_video), "--json", "--nframes", "8", "--start", "1.0", "--max-pixels", "50000"]
    assert main(args) == 0
    plan = json.loads(capsys.readouterr().out)["plan"]
    assert len(plan["frames"]) == 8
    assert plan["frames"][0]["index"] == 30 and plan["start_s"] == pytest.approx(1.0)
    assert plan["height"] * plan["width"] <= 50000


def test_inspect_vfr_times_come_from_the_container(vfr_video: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from vidground.video.probe import probe

    assert main(["inspect", str(vfr_video), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["probe"]["vfr"] is True
    times = probe(vfr_video).frame_times_s
    for frame in data["plan"]["frames"]:
        assert frame["time_s"] == pytest.approx(times[frame["index"]])


def test_inspect_table_is_readable(bikes_video: Path) -> None:
    done = run_cli("inspect", str(bikes_video), "--backend", "decord")
    assert done.returncode == 0, done.stderr
    assert "640" in done.stdout and "sampled frames" in done.stdout and "decord" in done.stdout


@pytest.mark.parametrize("name", ["empty", "truncated", "random_bytes", "text", "audio_only", "absurd_size"])
def test_broken_files_give_one_line_and_exit_2(broken_videos: dict[str, Path], name: str) -> None:
    done = run_cli("inspect", str(broken_videos[name]))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(broken_videos[name]) in lines[0]


def test_single_frame_video_is_refused_by_sampling(broken_videos: dict[str, Path]) -> None:
    done = run_cli("inspect", str(broken_videos["single_frame"]))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "frame" in done.stderr


def test_missing_file_and_bad_flags(tmp_path: Path, cfr_video: Path) -> None:
    missing = run_cli("inspect", str(tmp_path / "nope.mp4"))
    assert missing.returncode == 2 and "nope.mp4" in missing.stderr and "Traceback" not in missing.stderr
    both = run_cli("inspect", str(cfr_video), "--fps", "2", "--nframes", "8")
    assert both.returncode == 2 and "Traceback" not in both.stderr
    unknown = run_cli("inspect", str(cfr_video), "--backend", "ffmpeg-cli")
    assert unknown.returncode == 2 and "Traceback" not in unknown.stderr


def test_bad_environment_setting_is_a_config_error(cfr_video: Path) -> None:
    done = run_cli("inspect", str(cfr_video), env={"VIDGROUND_FPS": "-3", "VIDGROUND_DEVICE": "tpu"})
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()  # one line, naming each bad variable and its value
    assert "VIDGROUND_FPS='-3'" in line and "VIDGROUND_DEVICE='tpu'" in line and "Traceback" not in line


def test_bad_log_level_is_one_line_not_a_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIDGROUND_LOG_LEVEL", "loud")
    assert main(["doctor"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: invalid environment setting: VIDGROUND_LOG_LEVEL='loud'")
    assert "'DEBUG', 'INFO', 'WARNING' or 'ERROR'" in line


def test_unusable_device_is_refused_before_any_work(
    cfr_video: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import torch

    no_model = str(tmp_path / "no-model")  # were the device not checked first, this would be the error
    assert main(["locate", str(cfr_video), "a door", "--model", no_model, "--device", "gpu"]) == 2
    assert "--device: device must be auto, cpu, cuda or cuda:N, got 'gpu'" in capsys.readouterr().err
    missing = f"cuda:{torch.cuda.device_count()}"
    assert main(["locate", str(cfr_video), "a door", "--model", no_model, "--device", missing]) == 2
    err = capsys.readouterr().err
    assert f"--device: device {missing!r}:" in err and "CUDA device(s)" in err and "no-model" not in err


def test_unwritable_out_is_refused_before_the_run(
    cfr_video: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    no_model = str(tmp_path / "no-model")
    args = ["locate", str(cfr_video), "a door", "--model", no_model, "--out"]
    assert main([*args, str(tmp_path / "no-folder" / "out.json")]) == 2
    assert "no-folder does not exist" in capsys.readouterr().err
    assert main([*args, str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err


def test_help_shows_defaults_one_way_examples_and_exit_codes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["locate", "-h"]) == 0
    text = capsys.readouterr().out
    usage = text.splitlines()[0]
    assert usage.startswith("Usage: vidground locate [OPTIONS]") and "VIDEO" in usage and "QUERY}..." in usage
    assert "[default: auto; VIDGROUND_DEVICE]" in text and "[default: pyav; VIDGROUND_DECODER]" in text
    assert "[default: 2.0 fps; VIDGROUND_FPS]" in text
    assert "<bool>" not in text and "[default: None]" not in text
    assert 'vidground locate movie.mp4 "person opens door"' in text and "Exit codes: 0 done, 2 bad input" in text
    assert "goes after --" in text


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"vidground {vidground.__version__}"


def test_an_explicit_total_pixels_budget_replaces_the_default(
    bikes_video: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 10 s at 25 fps, 640x272: 20 frames. qwen-vl-utils with total_pixels=90316800 (115,200 tokens) caps a
    # frame at min(768*28*28, 90316800 / 20 * 2) = 602112 px: smart_resize(272, 640) = (280, 644), 230 tokens
    # a frame pair. The default 24,576-token budget would give 24576 / 10 = 2457 tokens a pair: the same here,
    # so the 1080p case below is the one that tells them apart.
    assert main(["inspect", str(bikes_video), "--total-pixels", "90316800", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)["plan"]
    assert (plan["height"], plan["width"]) == (280, 644)


def test_budget_spellings_on_a_1080p_probe() -> None:
    from vidground.options import SamplingOptions
    from vidground.timeline import VideoProbe
    from vidground.video.sampling import plan_frames

    video = VideoProbe("hd.mp4", 300.0, 30.0, 9000, 1920, 1080, "h264", vfr=False, has_audio=False)
    # 600 frames at 2 fps. qwen-vl-utils, total_pixels 90316800: cap = 90316800 / 600 * 2 = 301056 px ->
    # smart_resize(1080, 1920, max 301056) = (392, 728): 364 tokens a pair, 109,200 in all (under 115,200).
    explicit = plan_frames(video, SamplingOptions(total_pixels=90316800))
    assert (explicit.height, explicit.width, explicit.num_tokens) == (392, 728, 109200)
    default = plan_frames(video, SamplingOptions())
    assert default.num_tokens <= 24576 < explicit.num_tokens
    tokens = plan_frames(video, SamplingOptions(max_tokens=115200))
    assert (tokens.height, tokens.width) == (explicit.height, explicit.width)  # either spelling
    both = plan_frames(video, SamplingOptions(max_tokens=24576, total_pixels=90316800))
    assert both.num_tokens == default.num_tokens  # the smaller budget wins


def test_max_pixels_alone_lowers_the_minimum_as_qwen_vl_utils_does(
    cfr_video: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["inspect", str(cfr_video), "--max-pixels", "5000", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)["plan"]
    assert plan["height"] * plan["width"] <= 5000


@pytest.mark.parametrize("value", ["120", "0.5"])
def test_a_flag_and_its_variable_accept_the_same_range(
    cfr_video: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    assert main(["inspect", str(cfr_video), "--fps", value, "--json"]) == 0
    by_flag = json.loads(capsys.readouterr().out)["plan"]
    monkeypatch.setenv("VIDGROUND_FPS", value)
    assert main(["inspect", str(cfr_video), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["plan"] == by_flag


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--fps", "nan"], {}, "--fps: expected a finite number"),
        ([], {"VIDGROUND_FPS": "nan"}, "VIDGROUND_FPS='nan': Input should be a finite number"),
        (["--fps", "0"], {}, "--fps: expected a number above 0"),
        ([], {"VIDGROUND_FPS": "0"}, "VIDGROUND_FPS='0': Input should be greater than 0"),
        (["--max-tokens", "0"], {}, "--max-tokens: expected at least 1"),
        ([], {"VIDGROUND_MAX_TOKENS": "0"}, "VIDGROUND_MAX_TOKENS='0': Input should be greater than or equal to 1"),
        (["--fps", "1", "--nframes", "8"], {}, "give --fps or --nframes, not both"),
        (["--start", "5", "--end", "2"], {}, "--start 5.0 must be before --end 2.0"),
    ],
)
def test_bad_knob_values_name_where_they_came_from(
    cfr_video: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    env: dict[str, str],
    message: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["inspect", str(cfr_video), *args]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: ") and message in line


def test_inspect_says_when_a_range_needs_windows(cfr_video: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(cfr_video), "--max-frames", "4", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["window_s"] == pytest.approx(2.0)
    assert main(["inspect", str(cfr_video), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["window_s"] is None


def test_log_level_flag_and_variable(cfr_video: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["--log-level", "info", "inspect", str(cfr_video), "--json"]) == 0
    assert logging.getLogger().level == logging.INFO
    monkeypatch.setenv("VIDGROUND_LOG_LEVEL", "debug")
    assert main(["inspect", str(cfr_video), "--json"]) == 0
    assert logging.getLogger().level == logging.DEBUG


def test_machine_formats_put_the_model_issues_on_stderr(
    cfr_video: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.fakes import make_provenance
    from vidground import cli, pipeline
    from vidground.results import QueryResult, VideoResult

    unreadable = QueryResult(
        query="a door",
        found=False,
        parsed=False,
        spans=(),
        raw=("??",),
        issues=("unreadable answer: no time values in answer",),
    )
    result = VideoResult(str(cfr_video), 3.0, 30.0, (unreadable,), make_provenance())
    monkeypatch.setattr(cli, "_runner", lambda *args: object())
    monkeypatch.setattr(pipeline, "locate", lambda *args, **kwargs: result)
    assert main(["locate", str(cfr_video), "a door", "--format", "srt"]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip() == "warning: 'a door': unreadable answer: no time values in answer"
    assert main(["locate", str(cfr_video), "a door", "--format", "json"]) == 0
    assert capsys.readouterr().err == ""  # json carries the issues itself


def test_eval_videos_loads_the_model_before_timing_and_not_when_all_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from types import SimpleNamespace

    from vidground import cli, pipeline

    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / "clip_a.mp4").write_bytes(b"")  # the fake locate never opens it
    gt = tmp_path / "gt.txt"
    gt.write_text("clip_a 0.0 1.0##a door opens\n")
    events: list[str] = []

    class FakeRunner:
        model_id = "fake"

        def load(self) -> None:
            events.append("load")

    def fake_locate(path: Path, queries: list[str], **kwargs: object) -> SimpleNamespace:
        events.append("locate")
        answer = SimpleNamespace(found=True, parsed=True, spans=[SimpleNamespace(start_s=0.0, end_s=1.0, score=0.9)])
        return SimpleNamespace(results=[answer for _ in queries], provenance=SimpleNamespace(to_json=dict))

    monkeypatch.setattr(cli, "_runner", lambda *args, **kwargs: FakeRunner())
    monkeypatch.setattr(pipeline, "locate", fake_locate)
    args = ["eval", str(gt), "--videos", str(videos), "--cache", str(tmp_path / "c.jsonl"), "--format", "json"]
    assert main(args) == 0
    assert events == ["load", "locate"]  # the one-time load is outside the first query's latency
    assert json.loads(capsys.readouterr().out)["metrics"]["miou"] == 1.0
    assert main(args) == 0
    assert events == ["load", "locate"]  # everything cached: no model load, no grounding


def test_doctor_reports_each_check(tmp_path: Path) -> None:
    done = run_cli(
        "doctor",
        env={
            "VIDGROUND_MODEL_ID": str(tmp_path / "no-model-here"),
            "VIDGROUND_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/none",
            "VIDGROUND_DATA_DIR": str(tmp_path),
        },
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for name in ("decoder pyav", "decoder decord", "torch", "model weights", "database", "data dir"):
        assert name in done.stdout
    assert "no-model-here" in done.stdout and "does not exist" in done.stdout
    assert "not reachable" in done.stdout


def test_doctor_fails_a_running_postgres_without_pgvector(tmp_path: Path) -> None:
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"  # Debian's PostgreSQL 15: no pgvector package
    done = run_cli("doctor", env={"VIDGROUND_DATABASE_URL": url, "VIDGROUND_DATA_DIR": str(tmp_path)})
    database = next(line for line in done.stdout.splitlines() if line.startswith("database"))
    assert " FAIL " in database and "'vector'" in database and "install pgvector" in database, database
    assert done.returncode == 2


def test_eval_scores_a_predictions_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gt = tmp_path / "charades.txt"
    gt.write_text("vid1 0.0 10.0##a man opens a door\nvid1 20.0 30.0##he sits down\nvid2 5.0 8.0##a dog runs\n")
    preds = tmp_path / "preds.jsonl"
    lines = [
        {"qid": "vid1#1", "pred_relevant_windows": [[0.0, 10.0, 0.9]]},  # IoU 1
        {"qid": "vid1#2", "pred_relevant_windows": [[25.0, 30.0, 0.8]]},  # IoU 0.5
    ]  # vid2#3 missing: counts as IoU 0
    preds.write_text("".join(json.dumps(line) + "\n" for line in lines))
    out = tmp_path / "report.json"
    assert main(["eval", str(gt), "--predictions", str(preds), "--format", "json", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert not list(tmp_path.glob("*.partial"))
    text = json.dumps(report)
    assert '"0.5": 0.6666666666666666' in text  # R@1 at IoU >= 0.5: 2 of 3
    assert '"0.7": 0.3333333333333333' in text
    assert main(["eval", str(gt), "--predictions", str(preds)]) == 0
    table = capsys.readouterr().out
    assert "mIoU" in table and table.endswith("\n") and not table.endswith("\n\n")


def test_eval_needs_exactly_one_source(tmp_path: Path) -> None:
    gt = tmp_path / "gt.txt"
    gt.write_text("vid1 0.0 10.0##a man opens a door\n")
    done = run_cli("eval", str(gt))
    assert done.returncode == 2 and "exactly one" in done.stderr
    bad = tmp_path / "bad.txt"
    bad.write_text("vid1 zero ten##oops\n")
    done = run_cli("eval", str(bad), "--predictions", str(gt))
    assert done.returncode == 2 and "bad.txt" in done.stderr and "Traceback" not in done.stderr


QVH_GT = [
    {"qid": 7803, "query": "Man walks in.", "duration": 150, "vid": "vA_0.0_150.0", "relevant_windows": [[26, 36]]},
    {"qid": 2579, "query": "A dog runs.", "duration": 150, "vid": "vB_0.0_150.0", "relevant_windows": [[0, 10]]},
]  # fmt: skip


def write_jsonl(path: Path, records: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


def test_eval_scores_line_numbered_predictions_and_warns_about_unmatched_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gt = write_jsonl(tmp_path / "highlight_val.jsonl", QVH_GT)
    preds = write_jsonl(
        tmp_path / "lighthouse.jsonl",
        [
            {"qid": 0, "vid": "vB_0.0_150.0", "query": "a dog runs.", "pred_relevant_windows": [[0, 10, 0.9]]},
            {"qid": 1, "vid": "vA_0.0_150.0", "query": "Man walks in.", "pred_relevant_windows": [[26, 31, 0.8]]},
            {"qid": 2, "vid": "vZ", "query": "a cat", "pred_relevant_windows": [[1, 2, 0.5]]},
        ],
    )
    assert main(["eval", str(gt), "--predictions", str(preds), "--format", "json"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["metrics"]["miou"] == pytest.approx(0.75)  # IoU 1 and 0.5
    assert report["counts"]["missing_predictions"] == 0 and report["counts"]["unmatched_predictions"] == 1
    assert captured.err == (
        f"warning: {preds}: 1 prediction entry matches no ground-truth query and is not scored, "
        "e.g. qid 2 (video 'vZ', query 'a cat')\n"
    )


def test_eval_refuses_predictions_that_match_no_query(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gt = write_jsonl(tmp_path / "highlight_val.jsonl", QVH_GT)
    preds = write_jsonl(
        tmp_path / "preds.jsonl",
        [{"qid": i, "vid": "other", "query": f"q{i}", "pred_relevant_windows": [[0, 1, 1.0]]} for i in range(5)],
    )
    assert main(["eval", str(gt), "--predictions", str(preds)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"error: {preds}: no prediction matches a ground-truth query; ")
    assert "expected 2 queries such as qid '7803' (video 'vA_0.0_150.0', query 'Man walks in.')" in captured.err
    assert "got 5 entries such as qid 0 (video 'other', query 'q0'), qid 1 (video 'other'" in captured.err
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err


def test_eval_gt_format_forces_the_reader(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gt = tmp_path / "labels.txt"  # a CSV under a name that does not say so
    gt.write_text("video,query,start,end\nvid1,a man opens a door,0,10\n")
    preds = write_jsonl(tmp_path / "p.jsonl", [{"qid": "vid1#2", "pred_relevant_windows": [[0, 5, 1.0]]}])
    assert main(["eval", str(gt), "--predictions", str(preds)]) == 2
    assert "cannot tell the ground-truth format" in capsys.readouterr().err
    assert main(["eval", str(gt), "--predictions", str(preds), "--gt-format", "csv", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["metrics"]["miou"] == pytest.approx(0.5)
    assert main(["eval", str(gt), "--predictions", str(preds), "--gt-format", "srt"]) == 2
    err = capsys.readouterr().err
    assert "Invalid value for '--gt-format'" in err and "'srt'" in err


def test_eval_on_an_empty_ground_truth_file_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gt = tmp_path / "gt.jsonl"
    gt.write_text("\n")
    for extra in ([], ["--gt-format", "qvhighlights"]):
        assert main(["eval", str(gt), "--predictions", str(gt), *extra]) == 2
        assert (
            capsys.readouterr().err
            == f"error: {gt}: the ground-truth file is empty; expected one or more queries with windows\n"
        )


def test_missing_weights_are_reported_before_any_video_work(
    broken_videos: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Were the video probed and decoded first, the broken file's error would come out instead.
    for command in (
        ["locate", str(broken_videos["truncated"]), "a door"],
        ["caption", str(broken_videos["truncated"])],
    ):
        assert main([*command, "--model", str(tmp_path / "no-model")]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: model folder") and "no-model" in err
        assert "truncated.mp4" not in err


def _fake_grounding(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Replace the model and the pipeline with fakes: returns the list of videos ``locate`` was asked about."""
    from types import SimpleNamespace

    from tests.fakes import make_provenance
    from vidground import cli, pipeline
    from vidground.results import VideoResult

    asked: list[Path] = []

    def fake_locate(video: Path, queries: list[str], **kwargs: object) -> VideoResult:
        asked.append(video)
        return VideoResult("v.mp4", 3.0, 30.0, (), make_provenance())

    monkeypatch.setattr(cli, "_runner", lambda *args, **kwargs: SimpleNamespace(model_id="fake"))
    monkeypatch.setattr(pipeline, "locate", fake_locate)
    return asked


def _gt_and_predictions(folder: Path) -> tuple[Path, Path]:
    gt = folder / "gt.txt"
    gt.write_text("vid1 0.0 10.0##a man opens a door\n")
    preds = folder / "preds.jsonl"
    preds.write_text(json.dumps({"qid": "vid1#1", "pred_relevant_windows": [[0.0, 10.0, 0.9]]}) + "\n")
    return gt, preds


def test_out_naming_an_input_is_refused_before_any_work(
    cfr_video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked = _fake_grounding(monkeypatch)
    video = tmp_path / "v.mp4"
    video.write_bytes(cfr_video.read_bytes())
    link = tmp_path / "link.mp4"
    link.symlink_to(video)
    hard = tmp_path / "hard.mp4"
    os.link(video, hard)
    (tmp_path / "sub").mkdir()
    spelled = tmp_path / "sub" / ".." / "v.mp4"
    for given, out in ((video, video), (video, link), (video, hard), (video, spelled), (link, video)):
        assert main(["locate", "-f", "json", "--out", str(out), str(given), "a person"]) == 2
        err = capsys.readouterr().err
        assert err.strip() == f"error: --out {out}: is the input file {given}; choose another output file"
    assert asked == []  # refused before the model or the video were touched
    assert video.read_bytes() == cfr_video.read_bytes() and link.is_symlink()

    gt, preds = _gt_and_predictions(tmp_path)
    before = (gt.read_bytes(), preds.read_bytes())
    for out in (gt, preds):
        assert main(["eval", str(gt), "--predictions", str(preds), "--out", str(out)]) == 2
        assert f"--out {out}: is the input file" in capsys.readouterr().err
    assert (gt.read_bytes(), preds.read_bytes()) == before


@pytest.fixture
def dev_nodes_intact() -> Iterator[None]:
    """Tests that write to /dev paths (as root on the test machine): restore them should a regression replace them,
    so one failing test never breaks the machine for everything after it."""
    yield
    null_ok = stat.S_ISCHR(os.lstat("/dev/null").st_mode)
    stdout_ok = os.path.islink("/dev/stdout")
    if os.geteuid() == 0:
        if not null_ok:
            os.unlink("/dev/null")
            os.mknod("/dev/null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
            os.chmod("/dev/null", 0o666)
        if not stdout_ok:
            os.unlink("/dev/stdout")
            os.symlink("/proc/self/fd/1", "/dev/stdout")
    assert null_ok and stdout_ok, "--out replaced a /dev node (restored)"


@pytest.mark.usefixtures("dev_nodes_intact")
def test_out_to_a_device_or_a_pipe_is_written_not_replaced(tmp_path: Path) -> None:
    gt, preds = _gt_and_predictions(tmp_path)
    report = ["eval", str(gt), "--predictions", str(preds), "--format", "json", "--out"]
    assert main([*report, "/dev/null"]) == 0
    assert stat.S_ISCHR(os.lstat("/dev/null").st_mode)
    assert not Path("/dev/null.partial").exists()

    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()), daemon=True)
    reader.start()
    assert main([*report, str(fifo)]) == 0
    reader.join(timeout=30)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert json.loads(received[0])["metrics"]["miou"] == 1.0

    # /dev/stdout is a link to a descriptor: written through, whether stdout is a pipe or a file.
    piped = run_cli(*report, "/dev/stdout")
    assert piped.returncode == 0, piped.stderr
    assert json.loads(piped.stdout)["metrics"]["miou"] == 1.0
    into = tmp_path / "captured.json"
    with into.open("w") as stdout:
        done = subprocess.run([*VIDGROUND, *report, "/dev/stdout"], stdout=stdout, stderr=subprocess.PIPE, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(into.read_text())["metrics"]["miou"] == 1.0
    assert os.path.islink("/dev/stdout")


def test_out_through_a_symlink_writes_its_target(tmp_path: Path) -> None:
    gt, preds = _gt_and_predictions(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for existing in (True, False):
        target = elsewhere / f"report-{existing}.json"
        if existing:
            target.write_text("old report\n")
        link = tmp_path / f"link-{existing}.json"
        link.symlink_to(target)
        assert main(["eval", str(gt), "--predictions", str(preds), "--format", "json", "--out", str(link)]) == 0
        assert link.is_symlink() and link.resolve() == target
        assert json.loads(target.read_text())["metrics"]["miou"] == 1.0
    assert not list(tmp_path.rglob("*.partial"))


def test_unusable_data_dir_is_refused_and_doctor_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _fake_grounding(monkeypatch)
    videos = tmp_path / "videos"
    videos.mkdir()
    gt, _ = _gt_and_predictions(tmp_path)
    monkeypatch.setenv("VIDGROUND_DATA_DIR", "/proc/vidground-data")
    monkeypatch.setenv("VIDGROUND_MODEL_ID", str(tmp_path / "no-model"))
    monkeypatch.setenv("VIDGROUND_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:1/none")
    assert main(["eval", str(gt), "--videos", str(videos)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: VIDGROUND_DATA_DIR=/proc/vidground-data: cannot create or write there (")
    assert line.endswith("set VIDGROUND_DATA_DIR to a writable folder")

    assert main(["doctor"]) == 0  # a warning, like missing weights: only eval --videos without --cache needs it
    data_dir = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("data dir"))
    assert " warn " in data_dir and "cannot create or write" in data_dir

    fresh = tmp_path / "new" / "data"
    monkeypatch.setenv("VIDGROUND_DATA_DIR", str(fresh))
    assert main(["doctor"]) == 0
    data_dir = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("data dir"))
    assert " ok " in data_dir and str(fresh) in data_dir
    assert fresh.is_dir() and list(fresh.iterdir()) == []  # created, and the probe file removed


def test_pipes_and_stdin_as_video_are_not_regular_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "video.fifo"
    os.mkfifo(fifo)
    monkeypatch.chdir(tmp_path)  # no file named "-" here
    for video in (str(fifo), "-"):
        assert main(["inspect", video]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {video}: ") and "not a regular file" in err and "pipes are not supported" in err
        assert "not found" not in err
    done = subprocess.run(
        [*VIDGROUND, "inspect", "/dev/stdin"], input="", capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2 and "not a regular file" in done.stderr and "not found" not in done.stderr


def test_model_path_that_is_a_file_is_named_as_such(
    cfr_video: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"not a folder")
    assert main(["locate", str(cfr_video), "a door", "--model", str(weights)]) == 2
    err = capsys.readouterr().err
    assert f"model path {weights} is a file; expected a checkpoint folder" in err and "does not exist" not in err


@pytest.mark.slow
def test_demo_ends_by_saying_how_to_get_the_spans() -> None:
    root = Path(__file__).resolve().parents[2]
    stamp = root / ".venv" / ".vidground-installed"
    want = hashlib.sha256((root / "pyproject.toml").read_bytes() + (root / "scripts" / "setup").read_bytes())
    if not stamp.is_file() or not stamp.read_text().startswith(want.hexdigest()[:16]):
        pytest.skip("scripts/demo would install into .venv first (run scripts/setup)")
    env = {**os.environ, "VIDGROUND_MODEL_ID": "/nonexistent/Qwen2.5-VL-3B-Instruct", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [str(root / "scripts" / "demo")], capture_output=True, text=True, timeout=300, env=env, cwd=root
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].startswith("== setting up .venv")
    assert "== vidground inspect .cache/bikes.mp4" in done.stdout
    assert done.stdout.splitlines()[-1].startswith(
        "== to get the located spans: VIDGROUND_MODEL_ID=/path/to/Qwen2.5-VL-3B-Instruct scripts/demo "
    )
    assert "/nonexistent/Qwen2.5-VL-3B-Instruct does not exist" in done.stderr


def test_inspect_start_end_on_a_rate_change_cut_on_real_times(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.media import make_rate_change_video

    # 15 fps for 4 s then 30 fps for 4 s (average 22.5): the average rate would analyse 5.0-6.5 s
    video = make_rate_change_video(tmp_path / "rate_change.mp4")
    assert main(["inspect", str(video), "--json", "--start", "4", "--end", "6"]) == 0
    plan = json.loads(capsys.readouterr().out)["plan"]
    assert (plan["start_s"], plan["end_s"]) == (pytest.approx(4.0), pytest.approx(6.0))
    assert plan["frames"][0]["index"] == 60 and plan["frames"][-1]["index"] == 120


def test_inspect_start_end_on_a_container_that_guesses_its_rate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.media import make_sparse_mkv

    # 20 frames over 60 s in an .mkv that claims 24 fps: not 0.833 s
    video = make_sparse_mkv(tmp_path / "sparse.mkv")
    assert main(["inspect", str(video), "--json", "--end", "30"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["probe"]["duration_s"] == pytest.approx(60.0)
    assert data["plan"]["end_s"] == pytest.approx(30.0)
    assert main(["inspect", str(video), "--json", "--start", "30"]) == 0
    plan = json.loads(capsys.readouterr().out)["plan"]
    assert (plan["start_s"], plan["end_s"]) == (pytest.approx(30.0), pytest.approx(57.0))
    assert plan["second_per_grid"] == pytest.approx(6.0)  # 10 frames over 30 s: one per 3 s


def test_inspect_warns_about_a_cut_off_file(broken_videos: dict[str, Path]) -> None:
    done = run_cli("inspect", str(broken_videos["truncated_99"]))
    assert done.returncode == 0, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"warning: {broken_videos['truncated_99']}: the end is missing or damaged")
    assert "can be read" in line
    assert "vfr" in done.stdout and "True" not in done.stdout


def test_ffmpeg_log_lines_stay_out_of_the_terminal(broken_videos: dict[str, Path]) -> None:
    # decord's own FFmpeg prints "[mov,mp4,... @ 0x...] stream 0, offset 0x...: partial file" on this file.
    # The CLI's main calls configure_ffmpeg_logging(debug=VIDGROUND_LOG_LEVEL == "DEBUG") once.
    path = str(broken_videos["truncated_99"])
    script = (
        "import sys, decord; from vidground.video.ffmpeg_log import configure_ffmpeg_logging as c;"
        f"c(debug=sys.argv[1] == 'debug')\ntry: decord.VideoReader({path!r})\nexcept Exception: pass"
    )
    silent = subprocess.run([sys.executable, "-c", script, "quiet"], capture_output=True, text=True, timeout=60)
    loud = subprocess.run([sys.executable, "-c", script, "debug"], capture_output=True, text=True, timeout=60)
    assert " @ 0x" not in silent.stderr
    assert "partial file" in loud.stderr  # with debug the lines come through
