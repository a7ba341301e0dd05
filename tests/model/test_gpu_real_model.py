"""A real Qwen2.5-VL checkpoint on CUDA answers a grounding question with a readable span (slow lane).

Runs only with a CUDA device and ``VIDGROUND_TEST_MODEL`` pointing at real weights (a local folder such as
``/models/Qwen2.5-VL-3B-Instruct`` or a cached hub id); skipped otherwise.
"""

from __future__ import annotations

import os

import pytest
import torch

from vidground.model.prompts import grounding_prompt
from vidground.model.runner import QwenRunner
from vidground.output.spans import parse_spans
from vidground.timeline import FramePlan, SampledFrame

MODEL = os.environ.get("VIDGROUND_TEST_MODEL")

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
    pytest.mark.skipif(not MODEL, reason="set VIDGROUND_TEST_MODEL to a real Qwen2.5-VL checkpoint"),
]

SAMPLE_FPS = 2.0
N_FRAMES = 20  # 10 s at 2 fps
SIDE = 224  # 8 x 8 merged tokens per frame pair -> 10 * 64 = 640 video tokens
RED_FROM_S, RED_TO_S = 4.0, 7.0


def _red_square_video() -> tuple[torch.Tensor, FramePlan]:
    """Grey frames (T, 3, H, W) with a large red square shown from 4.0 s to 7.0 s, and their 2 fps plan."""
    frames = torch.full((N_FRAMES, 3, SIDE, SIDE), 128, dtype=torch.uint8)
    for k in range(N_FRAMES):
        if RED_FROM_S <= k / SAMPLE_FPS < RED_TO_S:
            frames[k, :, 40:184, 40:184] = torch.tensor([220, 20, 20], dtype=torch.uint8)[:, None, None]
    grid = (N_FRAMES // 2, SIDE // 14, SIDE // 14)
    plan = FramePlan(
        frames=tuple(SampledFrame(index=k * 15, time_s=k / SAMPLE_FPS) for k in range(N_FRAMES)),
        height=SIDE,
        width=SIDE,
        source_fps=30.0,
        n_source_frames=N_FRAMES * 15,
        sample_fps=SAMPLE_FPS,
        second_per_grid=2.0 / SAMPLE_FPS,
        grid_thw=grid,
        num_tokens=grid[0] * grid[1] * grid[2] // 4,
        start_s=0.0,
        end_s=(N_FRAMES - 1) / SAMPLE_FPS,
    )
    return frames, plan


def test_real_checkpoint_answers_a_grounding_query_with_a_span() -> None:
    assert MODEL is not None
    runner = QwenRunner(MODEL, device="cuda")
    runner.load()
    info = runner.info
    assert info.device.startswith("cuda") and info.dtype == "bfloat16"
    assert info.tokens_per_second == 2.0

    frames, plan = _red_square_video()
    encoded = runner.encode_video(frames, plan)
    queries = [grounding_prompt("a red square appears"), grounding_prompt("the screen shows a red square")]
    answers = runner.generate(encoded, queries, max_new_tokens=64)

    for answer in answers:
        assert answer.text.strip(), "the model said nothing"
        assert len(answer.tokens) == len(answer.token_logprobs) > 0
        parsed = parse_spans(answer.text)
        assert parsed.found, f"no span in {answer.text!r}"
        span = parsed.spans[0]
        assert 0.0 <= span.start_s <= span.end_s <= plan.end_s + 2.0, answer.text
