"""preprocess_frames against the official HF video processor and the reference pipeline (recorded by
scripts/record_processor_reference.py under the peer venv), plus the patch order of spec section 3."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from vidground.errors import ConfigError, SamplingError
from vidground.model.preprocess import (
    CLIP_MEAN,
    CLIP_STD,
    VideoInputs,
    preprocess_frames,
    resize_and_preprocess,
)

REFERENCE_FILE = Path(__file__).parents[1] / "data" / "processor_reference.pt"
PAYLOAD: dict[str, Any] = torch.load(REFERENCE_FILE, weights_only=True)
CASES: list[dict[str, Any]] = PAYLOAD["cases"]


def test_reference_file_was_recorded_with_the_hub_config() -> None:
    assert PAYLOAD["versions"]["transformers"] == "5.24.0"
    assert PAYLOAD["preprocessor_config"]["min_pixels"] == 3136
    assert PAYLOAD["preprocessor_config"]["max_pixels"] == 12845056


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_fast_resize_and_preprocess_equals_hf_processor(case: dict[str, Any]) -> None:
    raw_tchw = case["raw_thwc"].permute(0, 3, 1, 2)
    out = resize_and_preprocess(raw_tchw, case["height"], case["width"], "fast")
    expected = case["pixel_values_videos"]
    assert torch.equal(out.video_grid_thw, case["video_grid_thw"])
    assert out.pixel_values_videos.dtype == torch.float32
    assert out.pixel_values_videos.shape == expected.shape
    torch.testing.assert_close(
        out.pixel_values_videos, expected, rtol=0, atol=1e-5
    )  # bit-equal when recorded


def test_reference_resize_and_preprocess_equals_reference_pipeline() -> None:
    case = next(c for c in CASES if "pipeline_pixel_values_videos" in c)
    expected = case["pipeline_pixel_values_videos"]
    raw_tchw = case["raw_thwc"].permute(0, 3, 1, 2)
    out = resize_and_preprocess(raw_tchw, case["height"], case["width"])  # default mode: reference
    torch.testing.assert_close(out.pixel_values_videos, expected, rtol=0, atol=1e-5)
    from_recorded = preprocess_frames(case["qwen_vl_utils_resized"])
    torch.testing.assert_close(from_recorded.pixel_values_videos, expected, rtol=0, atol=1e-5)
    # and the two resize paths really give different model inputs on this (noise) case
    fast = resize_and_preprocess(raw_tchw, case["height"], case["width"], "fast")
    assert not torch.allclose(fast.pixel_values_videos, expected, rtol=0, atol=1e-5)


def _coded_frames(n_frames: int, height: int, width: int) -> torch.Tensor:
    """uint8 (T, 3, H, W) whose values vary with t, c, y and x (not unique; the check below is exact)."""
    t, c, y, x = torch.meshgrid(
        torch.arange(n_frames), torch.arange(3), torch.arange(height), torch.arange(width), indexing="ij"
    )
    return ((t * 61 + c * 89 + y * 7 + x * 3 + (x * y) % 11) % 256).to(torch.uint8)


def test_patch_order_matches_spec_section_3_element_by_element() -> None:
    frames = _coded_frames(4, 56, 84)
    out = preprocess_frames(frames)
    mean = torch.tensor(CLIP_MEAN)
    std = torch.tensor(CLIP_STD)
    normalised = (frames.float() / 255 - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)  # (T, C, H, W)
    grid_t, grid_h, grid_w = out.video_grid_thw[0].tolist()
    assert (grid_t, grid_h, grid_w) == (2, 4, 6)
    rows = out.pixel_values_videos
    assert rows.shape == (48, 1176)
    # Plain loops over spec 3's order: rows (t group, merged row, merged col, dy, dx),
    # columns (c, temporal, py, px).
    py, px = torch.meshgrid(torch.arange(14), torch.arange(14), indexing="ij")
    row = 0
    for gt in range(grid_t):
        for mh in range(grid_h // 2):
            for mw in range(grid_w // 2):
                for dy in range(2):
                    for dx in range(2):
                        y0, x0 = (mh * 2 + dy) * 14, (mw * 2 + dx) * 14
                        expected = torch.stack(
                            [
                                torch.stack([normalised[gt * 2 + tp, c, y0 + py, x0 + px] for tp in range(2)])
                                for c in range(3)
                            ]
                        ).flatten()  # (c, temporal, py, px) -> 1176
                        torch.testing.assert_close(rows[row], expected, rtol=0, atol=1e-5)
                        row += 1
    assert row == rows.shape[0]


def test_docstring_worked_example_row_5_element_240() -> None:
    frames = _coded_frames(4, 56, 84)
    out = preprocess_frames(frames)
    value = (frames[1, 0, 3, 44].item() / 255 - CLIP_MEAN[0]) / CLIP_STD[0]
    assert out.pixel_values_videos[5, 240].item() == pytest.approx(value, abs=1e-5)


def test_odd_frame_count_repeats_the_last_frame() -> None:
    frames = _coded_frames(5, 28, 28)
    odd = preprocess_frames(frames)
    padded = preprocess_frames(torch.cat([frames, frames[-1:]]))
    assert odd.video_grid_thw.tolist() == [[3, 2, 2]]
    assert torch.equal(odd.pixel_values_videos, padded.pixel_values_videos)
    single = preprocess_frames(frames[:1])
    assert single.video_grid_thw.tolist() == [[1, 2, 2]]


def test_white_and_black_frames_normalise_to_clip_bounds() -> None:
    frames = torch.stack(
        [torch.full((3, 28, 28), 255, dtype=torch.uint8), torch.zeros(3, 28, 28, dtype=torch.uint8)]
    )
    rows = preprocess_frames(frames).pixel_values_videos.view(4, 3, 2, 196)  # (rows, c, temporal, py*px)
    for c in range(3):
        assert rows[:, c, 0].flatten().tolist() == pytest.approx(
            [(1 - CLIP_MEAN[c]) / CLIP_STD[c]] * 784, abs=1e-6
        )
        assert rows[:, c, 1].flatten().tolist() == pytest.approx(
            [-CLIP_MEAN[c] / CLIP_STD[c]] * 784, abs=1e-6
        )


def test_num_tokens_is_thw_over_four() -> None:
    out = preprocess_frames(torch.zeros(4, 3, 56, 84, dtype=torch.uint8))
    assert out.num_tokens == 2 * 4 * 6 // 4 == 12
    realistic = VideoInputs(
        pixel_values_videos=torch.empty(0, 1176), video_grid_thw=torch.tensor([[10, 26, 46]])
    )
    assert realistic.num_tokens == 2990  # spec 4.4: 10 s 640x360 clip at 2 fps


def test_frames_not_multiple_of_28_are_rejected() -> None:
    with pytest.raises(SamplingError, match="multiple of 28 px, got 56x70"):
        preprocess_frames(torch.zeros(2, 3, 56, 70, dtype=torch.uint8))


def test_bad_frame_stacks_are_rejected() -> None:
    with pytest.raises(SamplingError, match="uint8"):
        preprocess_frames(torch.zeros(2, 3, 28, 28, dtype=torch.float32))
    with pytest.raises(SamplingError, match="T>=1"):
        preprocess_frames(torch.zeros(0, 3, 28, 28, dtype=torch.uint8))
    with pytest.raises(SamplingError, match="uint8"):
        preprocess_frames(torch.zeros(2, 28, 28, 3, dtype=torch.uint8))
    with pytest.raises(ConfigError):
        resize_and_preprocess(torch.zeros(2, 3, 30, 30, dtype=torch.uint8), 28, 28, "nearest")
    with pytest.raises(SamplingError, match="multiple of 28"):
        resize_and_preprocess(torch.zeros(2, 3, 30, 30, dtype=torch.uint8), 28, 30, "fast")
