"""A broken internal invariant is a bug to report (exit 1), never dressed up as the user's mistake (exit 2)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.fakes import ScriptedRunner
from vidground import cli
from vidground.cli import main
from vidground.errors import InternalError, VidgroundError
from vidground.model.base import EncodedVideo, Generation


class AnswerDroppingRunner(ScriptedRunner):
    """A runner with a bug: it answers one prompt fewer than it was asked."""

    def generate(self, encoded: EncodedVideo, prompts: Sequence[str], **kwargs: Any) -> list[Generation]:
        return super().generate(encoded, prompts, **kwargs)[:-1]


@pytest.fixture
def buggy_runner(monkeypatch: pytest.MonkeyPatch) -> AnswerDroppingRunner:
    runner = AnswerDroppingRunner(answers=["The given query happens in 0.5 - 1.0 seconds."] * 4)
    monkeypatch.setattr(cli, "_runner", lambda *args, **kwargs: runner)
    return runner


def test_internal_error_is_not_a_user_error() -> None:
    assert not issubclass(InternalError, VidgroundError)


def test_a_runner_bug_exits_1_as_an_internal_error_and_is_logged(
    buggy_runner: AnswerDroppingRunner,
    cfr_video: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("VIDGROUND_DEBUG", raising=False)
    with caplog.at_level(logging.ERROR, logger="vidground.cli"):
        assert main(["locate", str(cfr_video), "a bar code changes", "--quiet"]) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: internal error: runner fake/scripted-runner: expected 1 answers, got 0")
    assert line.endswith("(please report; VIDGROUND_DEBUG=1 for the traceback)")
    assert "unexpected failure" not in line and "Traceback" not in line
    [record] = [r for r in caplog.records if r.name == "vidground.cli"]
    assert record.levelno == logging.ERROR and "expected 1 answers, got 0" in record.getMessage()


def test_vidground_debug_shows_the_internal_error_itself(
    buggy_runner: AnswerDroppingRunner, cfr_video: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIDGROUND_DEBUG", "1")
    with pytest.raises(InternalError, match="expected 1 answers, got 0"):
        main(["locate", str(cfr_video), "a bar code changes", "--quiet"])


def test_a_user_mistake_with_the_same_runner_still_exits_2(
    buggy_runner: AnswerDroppingRunner, cfr_video: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["locate", str(cfr_video), "   ", "--quiet"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: query: expected some text") and "internal" not in line
    assert buggy_runner.n_generates == 0
