"""A checkpoint folder whose files are present but broken (a download cut short, bytes overwritten) is a user
problem with one fix: exit 2 naming the file, never "unexpected failure: SafetensorError"."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from vidground.cli import main
from vidground.doctor import check_model
from vidground.errors import ModelNotAvailable
from vidground.model.runner import QwenRunner, resolve_checkpoint, verify_checkpoint
from vidground.settings import Settings


def _halve(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


def _garbage(path: Path) -> None:
    path.write_bytes(os.urandom(path.stat().st_size))


def _scramble_header(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[8:40] = b"#" * 32  # the length prefix survives; the JSON header after it does not
    path.write_bytes(bytes(data))


def _not_json(path: Path) -> None:
    path.write_text('{"architectures": ["Qwen2_5_VLForConditionalGeneration"], ')  # cut mid-file


BREAKAGES: dict[str, tuple[str, Callable[[Path], None], str]] = {
    "half-downloaded weights": ("model.safetensors", _halve, "of the"),
    "garbage weights": ("model.safetensors", _garbage, "header"),
    "scrambled weights header": ("model.safetensors", _scramble_header, "header is not valid JSON"),
    "empty weights": ("model.safetensors", lambda p: p.write_bytes(b""), "0 bytes"),
    "config that is not JSON": ("config.json", _not_json, "not valid JSON"),
    "tokenizer that is not JSON": ("tokenizer.json", _not_json, "not valid JSON"),
}


@pytest.fixture
def broken_copy(tiny_model_dir: Path, tmp_path: Path) -> Callable[[str], tuple[Path, Path, str]]:
    """``broken_copy(case)`` -> (folder, broken file, expected detail): the tiny checkpoint with one file broken."""

    def make(case: str) -> tuple[Path, Path, str]:
        name, breakage, detail = BREAKAGES[case]
        folder = tmp_path / "checkpoint"
        shutil.copytree(tiny_model_dir, folder)
        breakage(folder / name)
        return folder, folder / name, detail

    return make


def _assert_names_the_file_and_the_fix(message: str, broken: Path, detail: str) -> None:
    assert f"checkpoint file {broken} is incomplete or corrupt" in message
    assert detail in message
    assert "delete it" in message and "download the checkpoint again" in message
    assert "\n" not in message and "SafetensorError" not in message


@pytest.mark.parametrize("case", list(BREAKAGES))
def test_cli_exits_2_naming_the_broken_file(
    case: str,
    broken_copy: Callable[[str], tuple[Path, Path, str]],
    cfr_video: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder, broken, detail = broken_copy(case)
    assert main(["locate", str(cfr_video), "q", "--model", str(folder), "--device", "cpu", "--quiet"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: ")
    _assert_names_the_file_and_the_fix(line, broken, detail)


def test_loading_a_half_downloaded_checkpoint_raises_model_not_available(
    broken_copy: Callable[[str], tuple[Path, Path, str]],
) -> None:
    folder, broken, detail = broken_copy("half-downloaded weights")
    with pytest.raises(ModelNotAvailable) as raised:
        QwenRunner(str(folder), device="cpu").load()
    _assert_names_the_file_and_the_fix(str(raised.value), broken, detail)


def test_a_truncated_shard_is_named(tiny_model_dir: Path, tmp_path: Path) -> None:
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copy(tiny_model_dir / name, tmp_path / name)
    for shard in ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"):
        shutil.copy(tiny_model_dir / "model.safetensors", tmp_path / shard)
    index = {"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    verify_checkpoint(tmp_path)  # whole shards pass
    _halve(tmp_path / "model-00002-of-00002.safetensors")
    with pytest.raises(ModelNotAvailable) as raised:
        resolve_checkpoint(str(tmp_path))
    assert "model-00002-of-00002.safetensors is incomplete or corrupt" in str(raised.value)
    assert "model-00001" not in str(raised.value)


def test_a_corrupt_file_in_the_hub_cache_names_the_blob_to_delete(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--tiny--qwen25vl"
    snapshot = repo / "snapshots" / commit
    shutil.copytree(tiny_model_dir, snapshot)
    blob = repo / "blobs" / "0f1e2d"
    blob.parent.mkdir()
    shutil.move(snapshot / "model.safetensors", blob)
    (snapshot / "model.safetensors").symlink_to(blob)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    assert resolve_checkpoint("tiny/qwen25vl") == (snapshot, commit)

    _halve(blob)
    with pytest.raises(ModelNotAvailable) as raised:
        resolve_checkpoint("tiny/qwen25vl")
    message = str(raised.value)
    assert f"{snapshot / 'model.safetensors'} is incomplete or corrupt" in message
    assert f"the file it links to, {blob.resolve()}" in message


def test_doctor_fails_a_broken_checkpoint_with_the_same_words(
    broken_copy: Callable[[str], tuple[Path, Path, str]], tiny_model_dir: Path
) -> None:
    assert check_model(Settings(model_id=str(tiny_model_dir))).status == "ok"
    folder, broken, detail = broken_copy("half-downloaded weights")
    check = check_model(Settings(model_id=str(folder)))
    assert check.status == "fail"
    with pytest.raises(ModelNotAvailable) as raised:
        resolve_checkpoint(str(folder))
    assert check.detail == str(raised.value)
    _assert_names_the_file_and_the_fix(check.detail, broken, detail)


def test_doctor_only_warns_about_a_checkpoint_that_is_not_there(tmp_path: Path) -> None:
    check = check_model(Settings(model_id=str(tmp_path / "not-downloaded-yet")))
    assert check.status == "warn" and "does not exist" in check.detail


def test_a_weights_error_only_safetensors_sees_is_still_a_model_error(tiny_model_dir: Path, tmp_path: Path) -> None:
    # Layout and sizes intact, so the header check passes; an unknown dtype name only the loader notices.
    folder = tmp_path / "checkpoint"
    shutil.copytree(tiny_model_dir, folder)
    weights = folder / "model.safetensors"
    data = weights.read_bytes()
    assert b'"F32"' in data
    weights.write_bytes(data.replace(b'"F32"', b'"Q32"', 1))
    verify_checkpoint(folder)
    with pytest.raises(ModelNotAvailable) as raised:
        QwenRunner(str(folder), device="cpu").load()
    message = str(raised.value)
    assert f"a weights file in {folder}" in message and "incomplete or corrupt" in message
    assert "download the checkpoint again" in message
