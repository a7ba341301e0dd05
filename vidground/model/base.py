"""What the pipeline needs from a model: a small Protocol, so the real Qwen2.5-VL runner and the test fakes are
interchangeable, and the values that cross that boundary."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import torch

from vidground.timeline import FramePlan


@dataclass(frozen=True)
class ModelInfo:
    """Provenance of the model that produced a result, or of the one a runner will load.

    With ``loaded`` False nothing is resolved yet: ``revision`` and ``device`` are as requested (``auto`` stays
    ``auto``), and ``dtype`` / ``attn_implementation`` are None where only loading can tell.
    """

    model_id: str
    revision: str | None  # the resolved commit hash (or local:<path>) once loaded, else the requested revision
    device: str  # e.g. "cuda:0" once loaded, else the request: "auto", "cpu", "cuda", "cuda:1"
    dtype: str | None  # e.g. "bfloat16"
    tokens_per_second: float | None  # from the checkpoint's config, so None until loaded
    attn_implementation: str | None = None  # "sdpa", "flash_attention_2", ...
    loaded: bool = True


@dataclass(frozen=True)
class Generation:
    """One answer: its text and the log-probability of each generated token (same length as ``tokens``)."""

    text: str
    tokens: tuple[str, ...]
    token_logprobs: tuple[float, ...]
    n_prompt_tokens: int


@dataclass(frozen=True, eq=False)
class EncodedVideo:
    """A video as one runner holds it after the expensive step: reuse it for any number of prompts.

    ``state`` is the runner's own cache (vision features, the shared prefix's KV cache); only the runner that made it
    reads it.
    """

    plan: FramePlan
    num_tokens: int
    state: object


ProgressFn = Callable[[int, int], None]


class VideoRunner(Protocol):
    """Turns decoded frames into an encoding once, then answers prompts about it."""

    @property
    def info(self) -> ModelInfo: ...

    def encode_video(self, frames: torch.Tensor, plan: FramePlan) -> EncodedVideo:
        """Preprocess and encode uint8 frames (T, 3, H, W) sampled by ``plan``."""
        ...

    def generate(
        self,
        encoded: EncodedVideo,
        prompts: Sequence[str],
        *,
        max_new_tokens: int = 256,
        system_prompt: str | None = None,
        on_progress: ProgressFn | None = None,
        batch_size: int = 8,
    ) -> list[Generation]:
        """Answer each prompt about the encoded video; one Generation per prompt, in order (``batch_size`` prompts
        decoded together; the answers do not depend on it)."""
        ...
