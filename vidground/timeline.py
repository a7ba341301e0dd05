"""Time-carrying values that travel unchanged from sampling through decoding, position ids and output parsing.

Units are in names: ``*_s`` are seconds (float, never truncated), ``*_idx``/``index`` are source frame numbers in
presentation order, ``*_fps`` are frames per second.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class VideoProbe:
    """What the container says about a video's first video stream.

    ``frame_times_s`` holds every frame's presentation time in seconds from the stream start, in presentation order,
    so ``frame_times_s[i]`` is the time of source frame ``i`` (exact for variable frame rate too).
    ``width``/``height`` are the displayed size, after rotation metadata is applied.
    """

    path: str
    duration_s: float
    fps: float  # average frame rate: n_frames / duration, as decoders report it
    n_frames: int
    width: int
    height: int
    codec: str
    vfr: bool
    has_audio: bool
    rotation_deg: int = 0
    frame_times_s: tuple[float, ...] = field(default=(), repr=False, compare=False)
    keyframe_indices: tuple[int, ...] = field(default=(), repr=False, compare=False)
    # What cannot be read (a cut-off end, damaged stretches) and the readable range, or None when intact;
    # the fields above then describe the readable frames only.
    damaged: str | None = None

    def summary(self) -> dict[str, object]:
        """The JSON-ready fields of ``vidground inspect``'s ``probe`` object."""
        return {
            "path": self.path,
            "duration_s": self.duration_s,
            "fps": self.fps,
            "n_frames": self.n_frames,
            "width": self.width,
            "height": self.height,
            "codec": self.codec,
            "vfr": self.vfr,
            "has_audio": self.has_audio,
            "rotation_deg": self.rotation_deg,
            "damaged": self.damaged,
        }


@dataclass(frozen=True)
class SampledFrame:
    """One frame the plan picked: its source frame number and its presentation time in seconds."""

    index: int
    time_s: float


@dataclass(frozen=True)
class FramePlan:
    """Which frames to decode, at what size, and the time facts the model and the output parser need.

    ``grid_thw`` is in patch units (T/2, H/14, W/14); ``num_tokens`` = t*h*w/4 LLM tokens.
    ``second_per_grid`` = 2 / ``sample_fps`` as in the reference (``sample_fps`` = n / n_in_range * source_fps);
    where the frame times do not follow the average rate (variable frame rate) ``sample_fps`` = n / the range's
    real duration in seconds instead.
    ``start_s`` is the time of the clip start the model's clock counts from (the first sampled frame's time).
    """

    frames: tuple[SampledFrame, ...]
    height: int
    width: int
    source_fps: float
    n_source_frames: int  # frames inside the sampled range
    sample_fps: float
    second_per_grid: float
    grid_thw: tuple[int, int, int]
    num_tokens: int
    start_s: float
    end_s: float

    @property
    def indices(self) -> list[int]:
        return [f.index for f in self.frames]

    @property
    def times_s(self) -> list[float]:
        return [f.time_s for f in self.frames]

    def summary(self) -> dict[str, object]:
        """The JSON-ready fields of ``vidground inspect``'s ``plan`` object."""
        return {
            "frames": [{"index": f.index, "time_s": f.time_s} for f in self.frames],
            "n_frames": len(self.frames),
            "height": self.height,
            "width": self.width,
            "grid_thw": list(self.grid_thw),
            "num_tokens": self.num_tokens,
            "sample_fps": self.sample_fps,
            "second_per_grid": self.second_per_grid,
            "start_s": self.start_s,
            "end_s": self.end_s,
        }


@dataclass(frozen=True)
class Span:
    """A time interval in seconds of video time, with an optional score and text."""

    start_s: float
    end_s: float
    score: float | None = None
    text: str | None = None

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s
