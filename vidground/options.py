"""Every knob that changes a result, defined once: its default, bounds and unit, and the values that bundle them.

This module imports no torch, so the API process, the CLI's argument parsing and the workers' parent process can
use it. The pieces:

- :data:`KNOBS` — one :class:`Knob` per setting: the name (also the ``VIDGROUND_<NAME>`` variable and the
  ``--flag``), default, bounds and unit. :class:`~vidground.settings.Settings` and the CLI take theirs from here.
- :class:`SamplingOptions`, :class:`DecodeOptions`, :class:`GenerateOptions` — the knobs of one stage each, checked
  on construction against the same bounds.
- :class:`AnalysisOptions` — all of them in one value, with ``to_json``/``from_json`` and :meth:`params_hash`, the
  key the index uses for "the same analysis".
- :func:`merge_options` — settings (environment) below explicit overrides (flags, request fields): the one place
  where the two meet, used by the CLI, the API and the workers alike.

The token budget has two spellings: ``max_tokens`` (video tokens per model call) and ``total_pixels`` (the same in
pixels, 784 per token). Whichever is given replaces the default budget of 24,576 tokens; given both, the smaller
wins (:meth:`SamplingOptions.budget_tokens`).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any

from vidground.errors import ConfigError, SamplingError

DEFAULT_MODEL_ID = "Qwen/Qwen2.5-VL-3B-Instruct"
OPTIONS_VERSION = 1  # bump when the meaning of a knob changes, so params_hash() keys change with it

PIXELS_PER_TOKEN = 28 * 28  # one LLM token per 28x28 pixels per 2 frames
DEFAULT_FPS = 2.0
DEFAULT_MIN_FRAMES = 4
DEFAULT_MAX_FRAMES = 768
DEFAULT_MAX_TOKENS = 24576
DEFAULT_MIN_PIXELS = 16 * PIXELS_PER_TOKEN
GROUNDING_MAX_NEW_TOKENS = 256
CAPTION_MAX_NEW_TOKENS = 1024
DEFAULT_MAX_WINDOWS = 3
DEFAULT_BATCH_SIZE = 8
DEFAULT_SNAP_TOLERANCE_S = 1.0


class DecoderName(StrEnum):
    PYAV = "pyav"
    DECORD = "decord"


class ResizeMode(StrEnum):
    """``reference``: qwen-vl-utils' float bicubic (the pixels Qwen evaluated with). ``fast``: torch's uint8 kernel."""

    REFERENCE = "reference"
    FAST = "fast"


class SnapTarget(StrEnum):
    """Where ``locate`` may move span ends: nowhere (``none``) or onto the nearest shot cut (``shots``)."""

    NONE = "none"
    SHOTS = "shots"


class Task(StrEnum):
    """What an analysis does; recorded with every result."""

    LOCATE = "locate"
    CAPTION = "caption"


def check_device(value: str) -> str:
    """Return ``value`` if it names a device vidground accepts (auto, cpu, cuda, cuda:N); else raise ValueError."""
    index = value.removeprefix("cuda:")
    if value not in ("auto", "cpu", "cuda") and not (value.startswith("cuda:") and index.isdigit()):
        raise ValueError(f"device must be auto, cpu, cuda or cuda:N, got {value!r}")
    return value


# -- the knobs -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Knob:
    """One setting that changes a result. ``None`` as a default means "not set" (the stage picks its own)."""

    name: str  # field name; VIDGROUND_<NAME> in the environment; --name-with-dashes on the command line
    stage: str  # sampling, decoding, generation or runtime
    kind: type  # int, float, or a StrEnum
    default: object
    unit: str
    help: str
    gt: float | None = None
    ge: float | None = None
    le: float | None = None
    shown_default: str = ""  # what "not set" means, for a knob whose default is None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return "VIDGROUND_" + self.name.upper()

    def problem(self, value: object) -> str | None:
        """Why ``value`` is not acceptable for this knob (None when it is). ``None`` is always acceptable."""
        if value is None:
            return None
        if issubclass(self.kind, StrEnum):
            choices = [m.value for m in self.kind]
            return None if value in choices else f"expected one of {', '.join(choices)}, got {value!r}"
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"expected a number, got {value!r}"
        if self.kind is int and not (isinstance(value, int) or float(value).is_integer()):
            return f"expected a whole number, got {value!r}"
        if not math.isfinite(value):
            return f"expected a finite number, got {value!r}"
        if self.gt is not None and not value > self.gt:
            return f"expected a number above {self.gt:g}, got {value!r}"
        if self.ge is not None and not value >= self.ge:
            return f"expected at least {self.ge:g}, got {value!r}"
        if self.le is not None and not value <= self.le:
            return f"expected at most {self.le:g}, got {value!r}"
        return None

    def describe_default(self) -> str:
        """The default as help texts show it (``2.0 fps``, ``pyav``); empty when there is none."""
        if self.default is None:
            return self.shown_default
        return f"{self.default} {self.unit}" if self.unit else str(self.default)


KNOBS: dict[str, Knob] = {
    k.name: k
    for k in (
        # Sampling (qwen-vl-utils' names where it has them).
        Knob("fps", "sampling", float, DEFAULT_FPS, "fps", "Target sampling rate.", gt=0),
        Knob("nframes", "sampling", int, None, "frames", "Sample exactly this many frames (rounded to even).", ge=2),
        Knob("min_frames", "sampling", int, DEFAULT_MIN_FRAMES, "frames", "Fewest frames to sample.", ge=0),
        Knob("max_frames", "sampling", int, DEFAULT_MAX_FRAMES, "frames", "Most frames per model call.", ge=0),
        Knob(
            "min_pixels",
            "sampling",
            int,
            None,
            "px",
            "Smallest frame area.",
            ge=1,
            shown_default="12544 px, or max-pixels if lower",
        ),
        Knob(
            "max_pixels",
            "sampling",
            int,
            None,
            "px",
            "Largest frame area.",
            ge=PIXELS_PER_TOKEN,
            shown_default="602112 px",
        ),
        Knob(
            "total_pixels",
            "sampling",
            int,
            None,
            "px",
            "Budget per model call in pixels (= tokens x 784).",
            ge=PIXELS_PER_TOKEN,
        ),
        Knob(
            "max_tokens",
            "sampling",
            int,
            None,
            "tokens",
            "Video-token budget per model call.",
            ge=1,
            shown_default="24576 tokens, or total-pixels / 784",
        ),
        Knob("start_s", "sampling", float, None, "s", "Only look from this second on.", ge=0),
        Knob("end_s", "sampling", float, None, "s", "Only look up to this second.", ge=0),
        # Decoding.
        Knob("decoder", "decoding", DecoderName, DecoderName.PYAV.value, "", "Video decoder."),
        Knob("resize", "decoding", ResizeMode, ResizeMode.REFERENCE.value, "", "Frame resize: reference or fast."),
        Knob("decode_threads", "decoding", int, 2, "threads", "Decoding threads (0: FFmpeg picks).", ge=0, le=64),
        Knob(
            "resize_threads",
            "decoding",
            int,
            2,
            "threads",
            "Threads resizing frames while decoding, one torch thread each.",
            ge=1,
            le=64,
        ),
        # Generation.
        Knob(
            "max_new_tokens",
            "generation",
            int,
            None,
            "tokens",
            "Answer length cap.",
            ge=1,
            le=32768,
            shown_default=f"{GROUNDING_MAX_NEW_TOKENS} for locate, {CAPTION_MAX_NEW_TOKENS} for caption",
        ),
        Knob(
            "max_windows",
            "generation",
            int,
            DEFAULT_MAX_WINDOWS,
            "windows",
            "Long videos: candidate windows re-grounded per query.",
            ge=1,
            le=64,
        ),
        Knob("batch_size", "generation", int, DEFAULT_BATCH_SIZE, "prompts", "Prompts decoded together.", ge=1, le=256),
        # Output: what is done to the found spans.
        Knob("snap", "output", SnapTarget, SnapTarget.NONE.value, "", "Move span ends onto shot cuts: none or shots."),
        Knob(
            "snap_tolerance_s",
            "output",
            float,
            DEFAULT_SNAP_TOLERANCE_S,
            "s",
            "Farthest a span end moves to reach a cut.",
            ge=0,
            le=60,
        ),
        # Runtime.
        Knob(
            "torch_threads",
            "runtime",
            int,
            None,
            "threads",
            "CPU threads for torch.",
            ge=1,
            shown_default="torch's choice",
        ),
    )
}


def knob_problem(name: str, value: object) -> str | None:
    """Why ``value`` is not acceptable for knob ``name`` (None when it is)."""
    return KNOBS[name].problem(value)


# -- the values ----------------------------------------------------------------------------------------------


def _check(error: type[Exception], owner: object, names: tuple[str, ...]) -> None:
    for name in names:
        problem = knob_problem(name, getattr(owner, name))
        if problem is not None:
            raise error(f"{name}: {problem}")


@dataclass(frozen=True)
class SamplingOptions:
    """The per-video sampling knobs, under qwen-vl-utils' names; checked on construction.

    ``fps`` and ``nframes`` exclude each other (neither: 2 fps). ``min_frames``/``max_frames`` bound the count
    only when it comes from ``fps``. ``min_pixels``/``max_pixels`` bound one frame's area in pixels
    (``max_pixels`` can only lower the cap the budget gives). ``max_tokens`` is the strict budget of video
    tokens per model call and ``total_pixels`` the same budget in pixels: an explicit one replaces the default
    24,576 tokens; given both, the smaller wins. ``video_start``/``video_end`` are seconds.

    Raises:
        SamplingError: both ``fps`` and ``nframes``; a value outside its knob's bounds (:data:`KNOBS`);
            ``video_start >= video_end``; ``min_pixels`` above ``max_pixels``.
    """

    fps: float | None = None
    nframes: int | None = None
    min_frames: int = DEFAULT_MIN_FRAMES
    max_frames: int = DEFAULT_MAX_FRAMES
    min_pixels: int | None = None
    max_pixels: int | None = None
    total_pixels: int | None = None
    max_tokens: int | None = None
    video_start: float | None = None
    video_end: float | None = None

    def __post_init__(self) -> None:
        if self.fps is not None and self.nframes is not None:
            raise SamplingError(f"give fps or nframes, not both: got fps={self.fps}, nframes={self.nframes}")
        _check(SamplingError, self, ("fps", "min_frames", "max_frames", "min_pixels", "max_pixels"))
        _check(SamplingError, self, ("total_pixels", "max_tokens"))
        if self.nframes is not None and knob_problem("nframes", self.nframes) is not None:
            raise SamplingError(f"nframes: {knob_problem('nframes', self.nframes)}")
        for name, value in (("video_start", self.video_start), ("video_end", self.video_end)):
            problem = knob_problem("start_s", value)
            if problem is not None:
                raise SamplingError(f"{name} must be a time in seconds >= 0: {problem}")
        if self.video_start is not None and self.video_end is not None and self.video_start >= self.video_end:
            raise SamplingError(
                f"video_start must be before video_end, got video_start={self.video_start} s, "
                f"video_end={self.video_end} s"
            )
        if self.min_pixels is not None and self.max_pixels is not None and self.min_pixels > self.max_pixels:
            raise SamplingError(
                f"min_pixels must not exceed max_pixels, got min_pixels={self.min_pixels}, max_pixels={self.max_pixels}"
            )

    @property
    def target_fps(self) -> float:
        """The sampling rate asked for (2.0 when neither ``fps`` nor ``nframes`` is given)."""
        return DEFAULT_FPS if self.fps is None else self.fps

    def budget_pixels(self) -> int:
        """Pixels of video one model call may use: ``max_tokens`` x 784 and/or ``total_pixels`` (the smaller),
        else the default 24,576 tokens x 784. It bounds ``(nframes / 2) * height * width``."""
        given = [p for p in (self.total_pixels, None if self.max_tokens is None else self.max_tokens * 784) if p]
        return min(given) if given else DEFAULT_MAX_TOKENS * PIXELS_PER_TOKEN

    def budget_tokens(self) -> int:
        """The same budget in video tokens (784 pixels each)."""
        return self.budget_pixels() // PIXELS_PER_TOKEN


@dataclass(frozen=True)
class DecodeOptions:
    """How frames are read: decoder backend, resize path, decoder threads, torch threads for the resize."""

    backend: DecoderName = DecoderName.PYAV
    resize: ResizeMode = ResizeMode.REFERENCE
    threads: int = 2
    resize_threads: int = 2

    def __post_init__(self) -> None:
        for name, value in (("decoder", self.backend), ("resize", self.resize)):
            problem = knob_problem(name, str(value))
            if problem is not None:
                raise ConfigError(f"{name}: {problem}")
        object.__setattr__(self, "backend", DecoderName(self.backend))
        object.__setattr__(self, "resize", ResizeMode(self.resize))
        for knob, count in (("decode_threads", self.threads), ("resize_threads", self.resize_threads)):
            problem = knob_problem(knob, count)
            if problem is not None:
                raise ConfigError(f"{knob}: {problem}")


@dataclass(frozen=True)
class GenerateOptions:
    """How answers are generated: length cap (None: the task's default), windows per query, batch size."""

    max_new_tokens: int | None = None
    max_windows: int = DEFAULT_MAX_WINDOWS
    batch_size: int = DEFAULT_BATCH_SIZE

    def __post_init__(self) -> None:
        _check(ConfigError, self, ("max_new_tokens", "max_windows", "batch_size"))

    def new_tokens_for(self, task: Task) -> int:
        """The answer length cap for ``task``: the explicit one, else 256 for locate and 1,024 for caption."""
        if self.max_new_tokens is not None:
            return self.max_new_tokens
        return CAPTION_MAX_NEW_TOKENS if task is Task.CAPTION else GROUNDING_MAX_NEW_TOKENS


@dataclass(frozen=True)
class SnapOptions:
    """What ``locate`` does to its spans' ends: nothing, or move each onto the nearest shot cut within
    ``tolerance_s`` seconds (the unsnapped times are kept in the result)."""

    target: SnapTarget = SnapTarget.NONE
    tolerance_s: float = DEFAULT_SNAP_TOLERANCE_S

    def __post_init__(self) -> None:
        problem = knob_problem("snap", str(self.target))
        if problem is not None:
            raise ConfigError(f"snap: {problem}")
        object.__setattr__(self, "target", SnapTarget(self.target))
        problem = knob_problem("snap_tolerance_s", self.tolerance_s)
        if problem is not None:
            raise ConfigError(f"snap_tolerance_s: {problem}")

    def to_json(self) -> dict[str, Any]:
        return {"target": str(self.target), "tolerance_s": self.tolerance_s}


@dataclass(frozen=True)
class AnalysisOptions:
    """Every knob that changes a result, in one value: what a job stores and what the index keys on.

    Example::

        options = AnalysisOptions(sampling=SamplingOptions(fps=1.0), generation=GenerateOptions(max_windows=5))
        options.params_hash()  # '3f2a…' (64 hex digits), equal for equal options on any machine
    """

    sampling: SamplingOptions = SamplingOptions()
    decoding: DecodeOptions = DecodeOptions()
    generation: GenerateOptions = GenerateOptions()
    snap: SnapOptions = SnapOptions()
    torch_threads: int | None = None

    def __post_init__(self) -> None:
        _check(ConfigError, self, ("torch_threads",))

    def to_json(self) -> dict[str, Any]:
        """Plain JSON: ``{"sampling": {...}, "decoding": {...}, "generation": {...}, "torch_threads"}``."""
        return {
            "sampling": {f.name: getattr(self.sampling, f.name) for f in fields(SamplingOptions)},
            "decoding": {
                "backend": str(self.decoding.backend),
                "resize": str(self.decoding.resize),
                "threads": self.decoding.threads,
                "resize_threads": self.decoding.resize_threads,
            },
            "generation": {f.name: getattr(self.generation, f.name) for f in fields(GenerateOptions)},
            "snap": self.snap.to_json(),
            "torch_threads": self.torch_threads,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AnalysisOptions:
        """The inverse of :meth:`to_json`; missing fields take their defaults.

        Raises:
            ConfigError: an unknown field or a value outside its bounds.
        """
        try:
            return cls(
                sampling=SamplingOptions(**dict(data.get("sampling") or {})),
                decoding=DecodeOptions(**dict(data.get("decoding") or {})),
                generation=GenerateOptions(**dict(data.get("generation") or {})),
                snap=SnapOptions(**dict(data.get("snap") or {})),
                torch_threads=data.get("torch_threads"),
            )
        except TypeError as exc:
            raise ConfigError(f"options: {exc}") from None
        except SamplingError as exc:
            raise ConfigError(f"options: {exc}") from None

    def params_hash(self) -> str:
        """A stable key (sha256 hex) for "the same analysis": equal for equal options, different otherwise.

        Knobs that cannot change what the model sees or says are left out: decoder, resize and torch threads
        (speed only) and the batch size (batched answers equal single ones, a tested invariant). Snapping is left
        out when it is off, so keys stored before it existed stay valid.
        """
        data = self.to_json()
        if self.sampling.nframes is None:  # fps None means the default rate: the same analysis as fps=2.0
            data["sampling"]["fps"] = self.sampling.target_fps
        data["decoding"].pop("threads")
        data["decoding"].pop("resize_threads")
        data["generation"].pop("batch_size")
        data.pop("torch_threads")
        if self.snap.target is SnapTarget.NONE:
            data.pop("snap")
        canonical = json.dumps({"v": OPTIONS_VERSION, **data}, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


# -- settings + overrides ------------------------------------------------------------------------------------


def merge_options(defaults: Mapping[str, object], overrides: Mapping[str, object]) -> AnalysisOptions:
    """One :class:`AnalysisOptions` from knob values: ``overrides`` (flags, request fields) over ``defaults``.

    Both map knob names (:data:`KNOBS`) to values; ``None`` in ``overrides`` means "not given". Every value is
    checked against its knob's bounds and a bad one is named as the user wrote it (``--fps`` for an override,
    ``VIDGROUND_FPS`` for a default). ``nframes`` given explicitly replaces a default ``fps``; both given
    explicitly is an error.

    Example: defaults ``{"fps": 2.0, "max_frames": 768}`` and overrides ``{"nframes": 16}`` give 16 frames
    with no fps; overrides ``{"total_pixels": 90316800}`` give a budget of 115,200 tokens (not 24,576).

    Raises:
        ConfigError: an unknown knob, a value out of bounds, or both fps and nframes given.
    """
    for source, values in (("override", overrides), ("default", defaults)):
        unknown = sorted(set(values) - set(KNOBS))
        if unknown:
            raise ConfigError(f"unknown option(s) in {source}: {', '.join(unknown)}")
    chosen: dict[str, object] = {}
    for name, knob in KNOBS.items():
        given = overrides.get(name)
        value, where = (given, knob.flag) if given is not None else (defaults.get(name), knob.env)
        problem = knob.problem(value)
        if problem is not None:
            raise ConfigError(f"{where}: {problem}")
        chosen[name] = value
    if overrides.get("fps") is not None and overrides.get("nframes") is not None:
        raise ConfigError(f"give --fps or --nframes, not both (got --fps {overrides['fps']} and --nframes "
                          f"{overrides['nframes']})")  # fmt: skip
    if overrides.get("fps") is not None:  # an explicit rate replaces a frame count from the environment
        chosen["nframes"] = None
    elif chosen["nframes"] is not None:  # an explicit (or configured) frame count replaces the default rate
        chosen["fps"] = None
    start, end = chosen["start_s"], chosen["end_s"]
    if start is not None and end is not None and float(start) >= float(end):  # type: ignore[arg-type]
        raise ConfigError(f"--start {start} must be before --end {end}")
    try:
        return AnalysisOptions(
            sampling=SamplingOptions(
                fps=_float(chosen["fps"]),
                nframes=_int(chosen["nframes"]),
                min_frames=_int(chosen["min_frames"]) or 0,
                max_frames=_int(chosen["max_frames"]) or 0,
                min_pixels=_int(chosen["min_pixels"]),
                max_pixels=_int(chosen["max_pixels"]),
                total_pixels=_int(chosen["total_pixels"]),
                max_tokens=_int(chosen["max_tokens"]),
                video_start=_float(chosen["start_s"]),
                video_end=_float(chosen["end_s"]),
            ),
            decoding=DecodeOptions(
                backend=DecoderName(str(chosen["decoder"])),
                resize=ResizeMode(str(chosen["resize"])),
                threads=_int(chosen["decode_threads"]) or 0,
                resize_threads=_int(chosen["resize_threads"]) or 1,
            ),
            generation=GenerateOptions(
                max_new_tokens=_int(chosen["max_new_tokens"]),
                max_windows=_int(chosen["max_windows"]) or DEFAULT_MAX_WINDOWS,
                batch_size=_int(chosen["batch_size"]) or DEFAULT_BATCH_SIZE,
            ),
            snap=SnapOptions(
                target=SnapTarget(str(chosen["snap"] or SnapTarget.NONE)),
                tolerance_s=_or(_float(chosen["snap_tolerance_s"]), DEFAULT_SNAP_TOLERANCE_S),
            ),
            torch_threads=_int(chosen["torch_threads"]),
        )
    except SamplingError as exc:  # a combination (min above max): said in the user's terms
        raise ConfigError(str(exc)) from None


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


def _int(value: object) -> int | None:
    return None if value is None else int(value)  # type: ignore[call-overload]


__all__ = [
    "KNOBS",
    "AnalysisOptions",
    "DecodeOptions",
    "DecoderName",
    "GenerateOptions",
    "Knob",
    "ResizeMode",
    "SamplingOptions",
    "SnapOptions",
    "SnapTarget",
    "Task",
    "merge_options",
]
