"""The tiny checkpoint on CUDA: the device and dtype paths the CPU tests cannot reach (bf16, CUDA sdpa or
flash-attention with the batched prompts' padding gaps). Marked ``gpu``; skipped without a CUDA device."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.model.conftest import make_video_input
from vidground.model.runner import QwenRunner

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

QUERIES = ["a red ball", "someone opens the door and walks out of the room", "x"]


def test_cuda_defaults_to_bf16_and_answers_every_prompt(tiny_model_dir: Path) -> None:
    runner = QwenRunner(str(tiny_model_dir), device="cuda")
    assert (runner.info.device, runner.info.dtype, runner.info.loaded) == ("cuda", "bfloat16", False)
    runner.load()
    assert runner.info.device.startswith("cuda") and runner.info.dtype == "bfloat16" and runner.info.loaded
    frames, plan = make_video_input(8, 56, 84, second_per_grid=0.5)
    answers = runner.generate(runner.encode_video(frames, plan), QUERIES, max_new_tokens=6, min_new_tokens=6)
    assert [len(a.tokens) for a in answers] == [6, 6, 6]
    assert all(lp <= 0.0 for a in answers for lp in a.token_logprobs)


def test_cuda_fp32_batched_equals_single_prompts_and_the_cpu(tiny_model_dir: Path) -> None:
    frames, plan = make_video_input(6, 56, 56, second_per_grid=1.5)
    cuda = QwenRunner(str(tiny_model_dir), device="cuda", dtype="float32")
    batched = cuda.generate(cuda.encode_video(frames, plan), QUERIES, max_new_tokens=6, min_new_tokens=6)
    for query, answer in zip(QUERIES, batched, strict=True):
        [single] = cuda.generate(
            cuda.encode_video(frames, plan), [query], max_new_tokens=6, min_new_tokens=6, share_prefix=False
        )
        assert answer.tokens == single.tokens
        assert answer.token_logprobs == pytest.approx(single.token_logprobs, abs=1e-3)
    cpu = QwenRunner(str(tiny_model_dir), device="cpu")
    on_cpu = cpu.generate(cpu.encode_video(frames, plan), QUERIES, max_new_tokens=6, min_new_tokens=6)
    assert [a.tokens for a in on_cpu] == [a.tokens for a in batched]
