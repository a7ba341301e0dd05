"""End to end: the ``vidground`` CLI on real and synthetic videos with the tiny checkpoint, loaded through the real
``from_pretrained`` path. The random model's words mean nothing, so these assert structure, timing fields and
provenance, never what it said."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vidground.cli import main
from vidground.options import AnalysisOptions
from vidground.video.probe import probe


def locate_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main(["locate", *args, "--format", "json", "--quiet"]) == 0
    return json.loads(capsys.readouterr().out)


def test_locate_json_shape_timing_and_provenance(
    tiny_model_dir: Path, cfr_video: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = locate_json(
        capsys,
        str(cfr_video),
        "a bar code changes",
        "the screen goes dark",
        "--model",
        str(tiny_model_dir),
        "--device",
        "cpu",
    )
    assert data["video"] == str(cfr_video)
    assert data["duration_s"] == pytest.approx(probe(cfr_video).duration_s)
    assert [r["query"] for r in data["results"]] == ["a bar code changes", "the screen goes dark"]
    for result in data["results"]:
        assert set(result) >= {"query", "found", "parsed", "spans", "raw", "issues"}
        assert len(result["raw"]) == 1  # the model's answer is always kept
        if not result["found"]:
            assert result["spans"] == []
        for span in result["spans"]:
            assert 0.0 <= span["start_s"] <= span["end_s"] <= data["duration_s"]
            assert set(span) == {"start_s", "end_s", "score", "start_tc", "end_tc"}
    prov = data["provenance"]
    assert prov["model_id"] == str(tiny_model_dir)
    assert prov["model_revision"].startswith("local:")
    assert prov["prompt_version"] and prov["vidground_version"]
    assert prov["task"] == "locate" and (prov["device"], prov["dtype"]) == ("cpu", "float32")
    options = prov["options"]
    assert options["decoding"]["backend"] == "pyav" and options["decoding"]["resize"] == "reference"
    assert options["sampling"]["fps"] == 2.0 and options["sampling"]["max_tokens"] is None  # default budget
    assert prov["params_hash"] == AnalysisOptions.from_json(options).params_hash()
    assert set(prov["timings_s"]) == {"probe", "decode", "encode", "generate"}
    # 3 s at 2 fps: 6 frames whose times are the container's PTS of frames 0, 18, 36, 53, 71, 89.
    times = probe(cfr_video).frame_times_s
    assert prov["frame_times_s"] == pytest.approx([times[i] for i in (0, 18, 36, 53, 71, 89)])
    (one_pass,) = prov["passes"]
    assert one_pass["n_frames"] == 6 and one_pass["sample_fps"] == pytest.approx(2.0)


def test_locate_long_video_goes_through_windows(
    tiny_model_dir: Path, long_video: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 60 s at 2 fps needs 120 frames; a cap of 16 makes it a long video: a coarse pass, then windows if any.
    data = locate_json(
        capsys,
        str(long_video),
        "something moves",
        "--model",
        str(tiny_model_dir),
        "--device",
        "cpu",
        "--max-frames",
        "16",
        "--resize",
        "fast",
    )
    passes = data["provenance"]["passes"]
    assert passes[0]["kind"] == "coarse" and passes[0]["n_frames"] == 16
    assert all(p["kind"] == "window" and p["n_frames"] <= 16 for p in passes[1:])
    (result,) = data["results"]
    assert len(result["raw"]) == len(passes)  # one answer per pass, all kept


def test_caption_and_other_formats(
    tiny_model_dir: Path, bikes_video: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--model", str(tiny_model_dir), "--device", "cpu", "--quiet", "--nframes", "8"]
    out = tmp_path / "bikes.json"
    assert main(["caption", str(bikes_video), *common, "--format", "json", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert set(data) == {"video", "duration_s", "fps", "captions", "raw", "issues", "provenance", "time_format"}
    assert data["duration_s"] == pytest.approx(10.0)
    assert data["provenance"]["passes"][0]["n_frames"] == 8
    for cap in data["captions"]:
        assert 0.0 <= cap["start_s"] <= cap["end_s"] <= 10.0

    assert main(["locate", str(bikes_video), "a bike", *common, "--format", "csv", "--time-format", "hmsf"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows and rows[0]["query"] == "a bike"
    assert main(["locate", str(bikes_video), "a bike", *common, "--format", "vtt"]) == 0
    assert capsys.readouterr().out.startswith("WEBVTT")


def test_missing_model_exits_2_with_one_line_and_writes_nothing(cfr_video: Path, tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "vidground.cli",
            "locate",
            str(cfr_video),
            "a door opens",
            "--model",
            str(tmp_path / "no-such-checkpoint"),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "no-such-checkpoint" in line and "--model" in line
    assert done.stdout == ""
    assert not out.exists() and not list(tmp_path.glob("*.partial"))


def test_real_entry_point_and_doctor_find_the_tiny_checkpoint(tiny_model_dir: Path, cfr_video: Path) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "VIDGROUND_MODEL_ID": str(tiny_model_dir), "VIDGROUND_DEVICE": "cpu"}
    vidground = Path(sys.executable).parent / "vidground"
    done = subprocess.run(
        [str(vidground), "locate", str(cfr_video), "a door opens"], capture_output=True, text=True, timeout=300, env=env
    )
    assert done.returncode == 0, done.stderr
    assert "'a door opens'" in done.stdout and str(cfr_video) in done.stdout
    doctor = subprocess.run([str(vidground), "doctor"], capture_output=True, text=True, timeout=120, env=env)
    weights = next(line for line in doctor.stdout.splitlines() if line.startswith("model weights"))
    assert " ok " in weights and str(tiny_model_dir) in weights


def test_eval_over_videos_is_resumable_and_reports_provenance(
    tiny_model_dir: Path, cfr_video: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    videos = tmp_path / "videos"
    videos.mkdir()
    for name in ("clip_a", "clip_b"):
        (videos / f"{name}.mp4").write_bytes(cfr_video.read_bytes())
    gt = tmp_path / "gt.txt"
    gt.write_text("clip_a 0.0 1.5##a bar code changes\nclip_b 1.0 3.0##the screen goes dark\nclip_c 0 1##gone\n")
    cache = tmp_path / "answers.jsonl"
    args = [
        "eval",
        str(gt),
        "--videos",
        str(videos),
        "--cache",
        str(cache),
        "--model",
        str(tiny_model_dir),
        "--device",
        "cpu",
        "--format",
        "json",
        "--quiet",
        "--nframes",
        "4",
    ]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["counts"]["videos"] == 3 and report["counts"]["queries"] == 3
    assert report["counts"]["missing_videos"] == ["clip_c"]
    prov = report["provenance"]
    assert prov["model_id"] == str(tiny_model_dir) and prov["prompt_version"]
    assert prov["options"]["sampling"]["nframes"] == 4 and prov["options"]["decoding"]["backend"] == "pyav"
    assert report["latency_s"]["n"] == 2 and report["latency_s"]["p95"] >= report["latency_s"]["p50"] > 0
    assert 0.0 <= report["rates"]["parse_failure"] <= 1.0
    first_lines = cache.read_text().splitlines()
    assert len(first_lines) == 2  # one cached answer per asked query

    assert main(args) == 0  # resumed: every answer comes from the cache, none is asked again
    again = json.loads(capsys.readouterr().out)
    assert cache.read_text().splitlines() == first_lines
    assert again["metrics"] == report["metrics"]
    # provenance of the cached answers survives the resume
    assert again["provenance"]["model_revision"] == report["provenance"]["model_revision"]
    assert again["provenance"]["model_revision"].startswith("local:")
    assert again["provenance"]["vidground_version"] == report["provenance"]["vidground_version"]
