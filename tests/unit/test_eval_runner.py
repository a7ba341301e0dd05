"""The resumable ``vidground eval --videos`` loop, with a fake ``locate`` in place of the model pipeline."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from vidground.errors import VideoDecodeError, VidgroundError
from vidground.eval.groundtruth import GroundTruthItem
from vidground.eval.predictions import load_predictions
from vidground.eval.report import build_report
from vidground.eval.runner import run_grounding_eval
from vidground.timeline import Span

GT = [
    GroundTruthItem("a#1", "a", "door opens", ((1.0, 2.0),), 10.0),
    GroundTruthItem("a#2", "a", "light on", ((3.0, 4.0),), 10.0),
    GroundTruthItem("a#3", "a", "Door  opens", ((1.0, 2.5),), 10.0),  # asked as written, not merged with a#1
    GroundTruthItem("b#1", "RoripwjYFp8_360.0_510.0", "dog runs", ((5.0, 6.0),), None),
    GroundTruthItem("c#1", "sub/c.mkv", "car stops", ((0.0, 1.0),), None),
]


@dataclass(frozen=True)
class FakeAnswer:
    found: bool
    spans: tuple[Span, ...]


@dataclass
class FakeLocate:
    """Answers query q with span (len(q), len(q) + 1); raises ``fail_with`` on call number ``fail_on``."""

    fail_on: int | None = None
    fail_with: Exception = field(default_factory=lambda: KeyboardInterrupt())
    calls: list[tuple[str, list[str]]] = field(default_factory=list)

    def __call__(self, path: Path, queries: list[str]) -> Sequence[FakeAnswer]:
        self.calls.append((path.name, list(queries)))
        if self.fail_on is not None and len(self.calls) == self.fail_on:
            raise self.fail_with
        return [FakeAnswer(True, (Span(float(len(q)), float(len(q) + 1), 0.5),)) for q in queries]


@pytest.fixture
def videos(tmp_path: Path) -> Path:
    folder = tmp_path / "videos"
    (folder / "sub").mkdir(parents=True)
    for name in ("a.mp4", "RoripwjYFp8_360.0_510.0.webm", "sub/c.mkv", "notes.txt"):
        (folder / name).write_bytes(b"")  # the fake locate never opens them
    return folder


def cache_lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_stopped_run_resumes_without_repeating_queries(videos: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache" / "preds.jsonl"
    first = FakeLocate(fail_on=2)  # video a answers, then the run is killed while on video b
    with pytest.raises(KeyboardInterrupt):
        run_grounding_eval(GT, videos, locate=first, cache_path=cache)
    assert [line["qid"] for line in cache_lines(cache)] == ["a#1", "a#2", "a#3"]

    second = FakeLocate()
    run = run_grounding_eval(GT, videos, locate=second, cache_path=cache)
    assert second.calls == [("RoripwjYFp8_360.0_510.0.webm", ["dog runs"]), ("c.mkv", ["car stops"])]
    assert (run.n_cached, run.n_new) == (3, 2)
    assert set(run.predictions) == {item.qid for item in GT}
    assert run.predictions["b#1"].spans == (Span(8.0, 9.0, 0.5),)
    assert [line["qid"] for line in cache_lines(cache)] == ["a#1", "a#2", "a#3", "b#1", "c#1"]

    third = FakeLocate()
    again = run_grounding_eval(GT, videos, locate=third, cache_path=cache)
    assert third.calls == [] and again.n_new == 0 and again.predictions == run.predictions


def test_queries_of_one_video_are_asked_together_and_repeats_once(videos: Path, tmp_path: Path) -> None:
    gt = [*GT[:2], GroundTruthItem("a#9", "a.mp4", "door opens", ((1.0, 2.0),), None)]
    locate = FakeLocate()
    run = run_grounding_eval(gt, videos, locate=locate, cache_path=tmp_path / "c.jsonl")
    # "a" and "a.mp4" name one file but are two ground-truth videos; "door opens" is asked once per video.
    assert locate.calls == [("a.mp4", ["door opens", "light on"]), ("a.mp4", ["door opens"])]
    assert run.predictions["a#9"].spans == run.predictions["a#1"].spans


def test_missing_video_is_reported_not_fatal(videos: Path, tmp_path: Path) -> None:
    gt = [*GT, GroundTruthItem("z#1", "zzz", "anything", ((0.0, 1.0),), None)]
    run = run_grounding_eval(gt, videos, locate=FakeLocate(), cache_path=tmp_path / "c.jsonl")
    assert run.missing_videos == ("zzz",)
    assert "z#1" not in run.predictions
    report = build_report(gt, run.predictions, missing_videos=run.missing_videos)
    assert report.metrics.n_missing == 1
    assert report.missing_videos == ("zzz",)


def test_per_video_error_is_recorded_and_retried_next_run(videos: Path, tmp_path: Path) -> None:
    cache = tmp_path / "c.jsonl"
    failing = FakeLocate(fail_on=1, fail_with=VideoDecodeError("a.mp4", "truncated file"))
    run = run_grounding_eval(GT, videos, locate=failing, cache_path=cache)
    assert run.failed_videos == (("a", "a.mp4: truncated file"),)
    assert set(run.predictions) == {"b#1", "c#1"}
    retry = FakeLocate()
    run = run_grounding_eval(GT, videos, locate=retry, cache_path=cache)
    assert retry.calls == [("a.mp4", ["door opens", "light on", "Door  opens"])]
    assert run.failed_videos == () and len(run.predictions) == 5


def test_non_video_errors_stop_the_run(videos: Path, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        run_grounding_eval(
            GT,
            videos,
            locate=FakeLocate(fail_on=1, fail_with=RuntimeError("boom")),
            cache_path=tmp_path / "c",
        )


def test_cut_off_last_cache_line_is_dropped_and_redone(videos: Path, tmp_path: Path) -> None:
    cache = tmp_path / "c.jsonl"
    run_grounding_eval(GT[:2], videos, locate=FakeLocate(), cache_path=cache)
    text = cache.read_text()
    cut = text.rstrip("\n").rsplit("\n", 1)[0] + "\n" + '{"qid": "a#2", "pred_rel'  # killed mid-write
    cache.write_text(cut)
    locate = FakeLocate()
    run = run_grounding_eval(GT[:2], videos, locate=locate, cache_path=cache)
    assert locate.calls == [("a.mp4", ["light on"])]
    assert (run.n_cached, run.n_new) == (1, 1)
    assert [line["qid"] for line in cache_lines(cache)] == ["a#1", "a#2"]


def test_malformed_cache_line_in_the_middle_is_an_error(videos: Path, tmp_path: Path) -> None:
    cache = tmp_path / "c.jsonl"
    cache.write_text('{"qid": "a#1", "pred_rel\n{"qid": "a#2", "pred_relevant_windows": []}\n')
    with pytest.raises(VidgroundError, match=r"c\.jsonl:1: invalid JSON"):
        run_grounding_eval(GT, videos, locate=FakeLocate(), cache_path=cache)


def test_cache_is_a_scorable_predictions_file(videos: Path, tmp_path: Path) -> None:
    cache = tmp_path / "c.jsonl"
    run = run_grounding_eval(GT, videos, locate=FakeLocate(), cache_path=cache)
    loaded = load_predictions(cache, GT)
    assert loaded.by_qid == run.predictions
    assert cache_lines(cache)[0] == {
        "qid": "a#1",
        "video": "a",
        "query": "door opens",
        "pred_relevant_windows": [[10.0, 11.0, 0.5]],
        "parsed": True,
        "latency_s": run.predictions["a#1"].latency_s,
    }


def test_latency_is_call_time_shared_by_its_queries(videos: Path, tmp_path: Path) -> None:
    ticks: Iterator[float] = iter([0.0, 6.0, 10.0, 11.0])  # video a: 6 s for 3 queries; video b: 1 s for 1
    run = run_grounding_eval(
        GT[:4], videos, locate=FakeLocate(), cache_path=tmp_path / "c.jsonl", clock=lambda: next(ticks)
    )
    assert [run.predictions[q].latency_s for q in ("a#1", "a#2", "a#3", "b#1")] == [2.0, 2.0, 2.0, 1.0]


def test_not_found_answers_are_unparsed_and_progress_is_reported(videos: Path, tmp_path: Path) -> None:
    progress: list[tuple[int, int]] = []
    run = run_grounding_eval(
        GT[3:],
        videos,
        locate=lambda path, queries: [FakeAnswer(False, ()) for _ in queries],
        cache_path=tmp_path / "c.jsonl",
        on_progress=lambda done, total: progress.append((done, total)),
    )
    assert all(not p.parsed and p.spans == () for p in run.predictions.values())
    assert progress == [(1, 2), (2, 2)]


def test_locate_must_answer_every_query(videos: Path, tmp_path: Path) -> None:
    with pytest.raises(VidgroundError, match="locate returned 0 answers for 1 queries"):
        run_grounding_eval(GT[3:4], videos, locate=lambda path, queries: [], cache_path=tmp_path / "c.jsonl")
