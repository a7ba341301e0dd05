"""Fixtures for model tests: one tiny random Qwen2.5-VL checkpoint per session, built locally, no network."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch

from vidground.model.runner import QwenRunner
from vidground.model.tiny import build_tiny_checkpoint
from vidground.timeline import FramePlan, SampledFrame

PlanFactory = Callable[..., tuple[torch.Tensor, FramePlan]]


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Run model tests on one torch thread: the tiny model's ops are too small to split, and on a busy 2-core
    machine several threads mostly wait for each other (measured 10x slower)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Qwen2.5-VL checkpoint folder (seed 0), built once per test session."""
    return build_tiny_checkpoint(tmp_path_factory.mktemp("tiny-qwen25vl"), seed=0)


@pytest.fixture(scope="session")
def tiny_runner(tiny_model_dir: Path) -> QwenRunner:
    """A CPU runner over the tiny checkpoint, loaded once."""
    runner = QwenRunner(str(tiny_model_dir), device="cpu")
    runner.load()
    return runner


def make_video_input(
    n_frames: int = 8, height: int = 56, width: int = 56, *, second_per_grid: float = 1.0, seed: int = 0
) -> tuple[torch.Tensor, FramePlan]:
    """Random uint8 frames (T, 3, H, W) and the FramePlan that would have sampled them.

    ``second_per_grid`` = 2 / sample_fps, e.g. 0.5 for 4 fps sampling, 1.5 for 4/3 fps; frame k sits at
    k / sample_fps seconds.
    """
    generator = torch.Generator().manual_seed(seed)
    frames = torch.randint(0, 256, (n_frames, 3, height, width), dtype=torch.uint8, generator=generator)
    sample_fps = 2.0 / second_per_grid
    grid = ((n_frames + 1) // 2, height // 14, width // 14)
    plan = FramePlan(
        frames=tuple(SampledFrame(index=k, time_s=k / sample_fps) for k in range(n_frames)),
        height=height,
        width=width,
        source_fps=sample_fps,
        n_source_frames=n_frames,
        sample_fps=sample_fps,
        second_per_grid=second_per_grid,
        grid_thw=grid,
        num_tokens=grid[0] * grid[1] * grid[2] // 4,
        start_s=0.0,
        end_s=n_frames / sample_fps,
    )
    return frames, plan


@pytest.fixture
def video_input() -> PlanFactory:
    """``video_input(n_frames=8, height=56, width=56, second_per_grid=1.0, seed=0)`` -> (frames, plan)."""
    return make_video_input
