"""resize_frame / resize_frames against qwen-vl-utils' recorded pixels (tests/data/processor_reference.pt,
made by scripts/record_processor_reference.py under the peer venv)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from vidground.errors import ConfigError, SamplingError
from vidground.settings import ResizeMode
from vidground.video.resize import resize_frame, resize_frames

REFERENCE_FILE = Path(__file__).parents[1] / "data" / "processor_reference.pt"
CASES: list[dict[str, Any]] = torch.load(REFERENCE_FILE, weights_only=True)["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_reference_stack_equals_qwen_vl_utils_exactly(case: dict[str, Any]) -> None:
    raw_tchw = case["raw_thwc"].permute(0, 3, 1, 2)  # (T, C, H, W) view, as decord frames reach torchvision
    expected = case["qwen_vl_utils_resized"]
    out = resize_frames(raw_tchw, case["height"], case["width"], ResizeMode.REFERENCE)
    assert out.dtype == torch.uint8 and out.shape == expected.shape
    assert torch.equal(out, expected)
    assert torch.equal(
        resize_frames(raw_tchw.contiguous(), case["height"], case["width"], "reference"), expected
    )


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_reference_per_frame_equals_qwen_vl_utils_batch(case: dict[str, Any]) -> None:
    # vidground resizes each frame as it is decoded; qwen-vl-utils resizes the whole stack at once.
    raw = case["raw_thwc"].numpy()
    for t in range(raw.shape[0]):
        out = resize_frame(raw[t], case["height"], case["width"], "reference")
        assert out.shape == (3, case["height"], case["width"]) and out.is_contiguous()
        assert torch.equal(out, case["qwen_vl_utils_resized"][t])


def test_fast_differs_from_reference_by_a_few_levels() -> None:
    case = next(c for c in CASES if c["name"].startswith("noise_4x45x80"))
    raw_tchw = case["raw_thwc"].permute(0, 3, 1, 2)
    fast = resize_frames(raw_tchw, case["height"], case["width"], "fast").int()
    reference = resize_frames(raw_tchw, case["height"], case["width"], "reference").int()
    diff = (fast - reference).abs()
    # Uniform noise is the worst case (bicubic overshoot, then clamping); measured max 17, mean 0.27.
    assert 0 < diff.max().item() <= 32
    assert diff.float().mean().item() < 1.0


def test_fast_per_frame_equals_fast_stack() -> None:
    case = next(c for c in CASES if c["name"].startswith("mixed"))
    raw = case["raw_thwc"].numpy()
    stack = resize_frames(case["raw_thwc"].permute(0, 3, 1, 2), case["height"], case["width"], "fast")
    for t in range(raw.shape[0]):
        assert torch.equal(resize_frame(raw[t], case["height"], case["width"], ResizeMode.FAST), stack[t])


@pytest.mark.parametrize("mode", ["reference", "fast"])
def test_same_size_is_returned_unchanged(mode: str) -> None:
    frame = np.arange(28 * 56 * 3, dtype=np.int64).reshape(28, 56, 3).astype(np.uint8)
    out = resize_frame(frame, 28, 56, mode)
    assert torch.equal(out, torch.from_numpy(frame).permute(2, 0, 1))


def test_constant_frame_stays_constant_after_resize() -> None:
    frame = np.full((45, 80, 3), 200, dtype=np.uint8)
    for mode in ("reference", "fast"):
        out = resize_frame(frame, 56, 84, mode)
        assert out.shape == (3, 56, 84) and bool((out == 200).all())


def test_unknown_mode_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="got 'lanczos'"):
        resize_frame(np.zeros((4, 4, 3), dtype=np.uint8), 28, 28, "lanczos")


def test_bad_frames_are_sampling_errors() -> None:
    with pytest.raises(SamplingError, match=r"uint8 \(H, W, 3\)"):
        resize_frame(np.zeros((4, 4, 3), dtype=np.float32), 28, 28, "fast")
    with pytest.raises(SamplingError, match=r"uint8 \(H, W, 3\)"):
        resize_frame(np.zeros((4, 4), dtype=np.uint8), 28, 28, "fast")
    with pytest.raises(SamplingError, match=r"uint8 \(T, 3, H, W\)"):
        resize_frames(torch.zeros(2, 4, 4, 3, dtype=torch.uint8), 28, 28, "fast")
    with pytest.raises(SamplingError, match="at least 1x1"):
        resize_frame(np.zeros((4, 4, 3), dtype=np.uint8), 0, 28, "reference")
