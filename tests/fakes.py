"""Fakes for model-shaped parts: a ``VideoRunner`` that answers from a script instead of a model.

``ScriptedRunner`` records every plan it was asked to encode and every prompt it was asked, and answers with
queued texts (or with a function of the prompt and the plan, for answers that depend on which window is
asked). Each answer comes back as a ``Generation`` split into Qwen-like tokens (one token per digit, words,
punctuation) with plausible per-token log-probabilities, so scoring code has something real to read.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import torch

from vidground.model.base import EncodedVideo, Generation, ModelInfo, ProgressFn
from vidground.options import AnalysisOptions, Task
from vidground.results import PassInfo, PassKind, Provenance, Stage
from vidground.timeline import FramePlan

# Qwen's tokenizer writes each digit as its own token; words keep their leading space.
_TOKEN_RE = re.compile(r"\d|[ ]?[A-Za-z]+|\s+|.", re.DOTALL)


def tokenize(text: str) -> tuple[str, ...]:
    """Split text into Qwen-like tokens whose concatenation is ``text``."""
    return tuple(_TOKEN_RE.findall(text))


def scripted_generation(
    text: str, *, prob: float = 0.95, digit_prob: float | None = None, n_prompt_tokens: int = 100
) -> Generation:
    """A ``Generation`` of ``text``: each token at probability ``prob``, digits at ``digit_prob`` if given."""
    tokens = tokenize(text)
    logprobs = tuple(math.log(digit_prob if digit_prob is not None and t.isdigit() else prob) for t in tokens)
    return Generation(text=text, tokens=tokens, token_logprobs=logprobs, n_prompt_tokens=n_prompt_tokens)


Answer = str | Generation
Responder = Callable[[str, FramePlan], Answer]


@dataclass
class ScriptedRunner:
    """A fake ``VideoRunner``: answers come from ``answers`` (in order) or from ``respond(prompt, plan)``.

    Records: ``encoded_plans`` (one per ``encode_video`` call), ``frame_shapes``, ``prompts`` (one list per
    ``generate`` call), ``generate_plans`` (the plan each ``generate`` call was about).
    """

    answers: Iterable[Answer] = ()
    respond: Responder | None = None
    model_id: str = "fake/scripted-runner"
    encoded_plans: list[FramePlan] = field(default_factory=list)
    frame_shapes: list[tuple[int, ...]] = field(default_factory=list)
    prompts: list[list[str]] = field(default_factory=list)
    generate_plans: list[FramePlan] = field(default_factory=list)
    max_new_tokens: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._queue: deque[Answer] = deque(self.answers)

    @property
    def info(self) -> ModelInfo:
        return ModelInfo(
            model_id=self.model_id,
            revision="0" * 40,
            device="cpu",
            dtype="float32",
            tokens_per_second=2.0,
            attn_implementation="eager",
        )

    def encode_video(self, frames: torch.Tensor, plan: FramePlan) -> EncodedVideo:
        expected = (len(plan.frames), 3, plan.height, plan.width)
        if tuple(frames.shape) != expected or frames.dtype != torch.uint8:
            raise AssertionError(
                f"frames {tuple(frames.shape)} {frames.dtype} do not match plan {expected} uint8"
            )
        self.encoded_plans.append(plan)
        self.frame_shapes.append(tuple(frames.shape))
        return EncodedVideo(plan=plan, num_tokens=plan.num_tokens, state=len(self.encoded_plans))

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
        self.prompts.append(list(prompts))
        self.max_new_tokens.append(max_new_tokens)
        self.generate_plans.append(encoded.plan)
        out = []
        for done, prompt in enumerate(prompts, start=1):
            if self.respond is not None:
                answer = self.respond(prompt, encoded.plan)
            elif self._queue:
                answer = self._queue.popleft()
            else:
                raise AssertionError(f"ScriptedRunner has no answer left for prompt {prompt[:60]!r}")
            out.append(answer if isinstance(answer, Generation) else scripted_generation(answer))
            if on_progress is not None:
                on_progress(done, len(prompts))
        return out

    @property
    def n_encodes(self) -> int:
        return len(self.encoded_plans)

    @property
    def n_generates(self) -> int:
        return len(self.prompts)


def make_provenance(task: Task = Task.LOCATE, **changes: object) -> Provenance:
    """A complete provenance for tests that build results by hand (render, round trips)."""
    base = Provenance(
        task=task,
        vidground_version="0.1.0",
        model_id="fake/scripted-runner",
        model_revision="0" * 40,
        device="cpu",
        dtype="float32",
        attn_implementation="eager",
        prompt_version="v1",
        options=AnalysisOptions(),
        start_s=0.0,
        end_s=10.0,
        passes=(PassInfo(PassKind.CLIP, 0.0, 10.0, 2.0, 20, 2990),),
        frame_times_s=tuple(i * 0.5 for i in range(20)),
        timings_s={Stage.DECODE: 0.5, Stage.GENERATE: 1.25},
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]
