"""The ``vidground`` CLI without a model: inspect, doctor, eval --predictions, and how errors reach a user."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

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
    expected = "error: VIDGROUND_LOG_LEVEL='loud': expected DEBUG, INFO, WARNING or ERROR"
    assert capsys.readouterr().err.strip() == expected


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


def test_help_shows_defaults_in_brackets(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["locate", "--help"]) == 0
    text = capsys.readouterr().out
    assert "cuda:N [auto]" in text and "Video decoder [pyav]" in text


def test_machine_formats_put_the_model_issues_on_stderr(
    cfr_video: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from types import SimpleNamespace

    from vidground import cli, pipeline

    data = {
        "video": str(cfr_video),
        "duration_s": 3.0,
        "results": [
            {
                "query": "a door",
                "found": False,
                "parsed": False,
                "spans": [],
                "raw": ["??"],
                "issues": ["unreadable answer: no time values in answer"],
            }
        ],
        "provenance": {},
    }
    monkeypatch.setattr(cli, "_runner", lambda *args: object())
    monkeypatch.setattr(pipeline, "locate", lambda *args, **kwargs: SimpleNamespace(to_json=lambda: data))
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


def test_doctor_finds_a_running_postgres() -> None:
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    done = run_cli("doctor", env={"VIDGROUND_DATABASE_URL": url})
    database = next(line for line in done.stdout.splitlines() if line.startswith("database"))
    assert " ok " in database and "PostgreSQL" in database, database


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
