"""Record frame-sampling test vectors from the real qwen-vl-utils 0.0.14, for tests/unit/test_sampling.py.

Run it in the peer environment (benchmarks/setup_peer_env.sh builds it); the product never imports it:

    .peer-venv/bin/python scripts/record_sampling_vectors.py [--out tests/data/sampling_vectors.jsonl]

Each output line is one case:

- ``kind``: ``fetch`` is ``fetch_video`` on a synthetic video: the real decord reader code picks the frame
  range, frame count, indices and ``sample_fps``, and ``fetch_video`` the per-frame pixel budget, with
  decord's ``VideoReader`` answering only length and fps (no pixels decoded); the size is then the real
  ``smart_resize`` under that budget. ``real_video`` is ``fetch_video`` end to end on a tiny file written with
  PyAV, decoded by decord and resized by torchvision. ``smart_resize`` and ``frame_range`` call the reference
  function directly.
- ``options``: vidground ``SamplingOptions`` keyword arguments. ``ele``: the reference element with the same
  meaning (vidground's budget and ``min_pixels`` written out, because the defaults differ).
- ``ref``: what the reference returned (or ``error``). ``ref_alt``: the reference run again with vidground's
  defaults written out, for the cases that show a default differing.
- ``expect``: how vidground must compare.
  ``equal``: same frames, ``sample_fps`` and size.
  ``over_budget``: the reference's size breaks vidground's strict budget; same frames, smaller size.
  ``clamp``: the reference returned a 0-pixel side; vidground returns at least 28.
  ``error``: vidground raises SamplingError.
  ``negative_time``: the reference clamps a negative time to 0; vidground raises.
  ``default_min_pixels`` / ``default_budget``: the reference ran with its own default; vidground equals
  ``ref_alt``.

Index lists longer than 48 are stored as their first and last 8 and a digest (see ``digest``).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from fractions import Fraction
from importlib.metadata import version
from pathlib import Path
from typing import Any, ClassVar

os.environ["FORCE_QWENVL_VIDEO_READER"] = "decord"  # read at import; torchcodec would be preferred if present

import decord
import numpy as np
from qwen_vl_utils import vision_process as vp

PIXELS_PER_TOKEN = 28 * 28
VIDGROUND_MAX_TOKENS = 24576
VIDGROUND_MIN_PIXELS = 16 * 28 * 28
NTSC_24 = 24000 / 1001
NTSC_30 = 30000 / 1001


def digest(indices: list[int]) -> str:
    """Short sha256 of the comma-joined index list (the test computes the same)."""
    return hashlib.sha256(",".join(map(str, indices)).encode()).hexdigest()[:16]


def pack_indices(indices: list[int]) -> dict[str, Any]:
    if len(indices) <= 48:
        return {"indices": indices}
    return {"indices_head": indices[:8], "indices_tail": indices[-8:], "indices_sha256_16": digest(indices)}


def vidground_budget_px(options: dict[str, Any]) -> int:
    budget = options.get("max_tokens", VIDGROUND_MAX_TOKENS) * PIXELS_PER_TOKEN
    return min(budget, options["total_pixels"]) if "total_pixels" in options else budget


def to_ele(options: dict[str, Any]) -> dict[str, Any]:
    """The reference element that means what these vidground options mean."""
    keys = ("fps", "nframes", "min_frames", "max_frames", "max_pixels", "video_start", "video_end")
    ele = {k: options[k] for k in keys if k in options}
    ele["total_pixels"] = vidground_budget_px(options)
    default_min_pixels = min(VIDGROUND_MIN_PIXELS, options.get("max_pixels", VIDGROUND_MIN_PIXELS))
    ele["min_pixels"] = options.get("min_pixels", default_min_pixels)
    return ele


class _Stop(BaseException):
    """Ends fetch_video early: a BaseException, so fetch_video's `except Exception` fallback lets it pass."""


class _SyntheticReader:
    """Stands in for decord.VideoReader on ``synthetic:`` paths: length and fps only, 2x2 black frames."""

    videos: ClassVar[dict[str, tuple[int, float]]] = {}

    def __init__(self, path: str, *args: Any, **kwargs: Any) -> None:
        self.total_frames, self.fps = self.videos[path]

    def __len__(self) -> int:
        return self.total_frames

    def get_avg_fps(self) -> float:
        return self.fps

    def get_batch(self, indices: list[int]) -> Any:
        frames = np.zeros((len(indices), 2, 2, 3), np.uint8)
        return type("Batch", (), {"asnumpy": lambda self: frames})()


@contextlib.contextmanager
def synthetic_fetch(seen: dict[str, Any]) -> Iterator[None]:
    """Patch decord's reader, the decord backend (to see its result) and smart_resize (to see the budget)."""
    real_reader_cls, real_resize = decord.VideoReader, vp.smart_resize
    real_backend = vp.VIDEO_READER_BACKENDS["decord"]

    def backend(ele: dict[str, Any]) -> Any:
        try:
            video, meta, sample_fps = real_backend(ele)
        except Exception as exc:
            seen["error"] = f"{type(exc).__name__}: {exc}"
            raise _Stop from exc
        seen.update(nframes=int(video.shape[0]), indices=[int(i) for i in meta["frames_indices"]])
        seen.update(sample_fps=sample_fps, total_num_frames=int(meta["total_num_frames"]))
        return video, meta, sample_fps

    def capture_resize(height: int, width: int, factor: int, min_pixels: Any = None, max_pixels: Any = None):
        seen.update(factor=factor, min_pixels=min_pixels, max_pixels=max_pixels)
        raise _Stop

    decord.VideoReader = _SyntheticReader
    vp.VIDEO_READER_BACKENDS["decord"] = backend
    vp.smart_resize = capture_resize
    try:
        yield
    finally:
        decord.VideoReader = real_reader_cls
        vp.VIDEO_READER_BACKENDS["decord"] = real_backend
        vp.smart_resize = real_resize


def reference_fetch(ele: dict[str, Any], total_frames: int, video_fps: float, height: int, width: int):
    """What qwen-vl-utils' fetch_video decides for a video of this length, rate and size."""
    path = f"synthetic:{total_frames}@{video_fps!r}"
    _SyntheticReader.videos[path] = (total_frames, video_fps)
    seen: dict[str, Any] = {}
    with synthetic_fetch(seen), contextlib.suppress(_Stop):
        vp.fetch_video({"video": path, **ele}, return_video_sample_fps=True)
    if "error" in seen:
        return {"error": seen["error"]}
    out = {"nframes": seen["nframes"], **pack_indices(seen["indices"]), "sample_fps": seen["sample_fps"]}
    out.update(range_frames=seen["total_num_frames"])
    out.update(min_pixels=seen["min_pixels"], max_pixels=seen["max_pixels"])
    try:
        h, w = vp.smart_resize(height, width, seen["factor"], seen["min_pixels"], seen["max_pixels"])
    except (ValueError, AssertionError) as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    out["resized"] = [h, w]
    out["tokens"] = seen["nframes"] // 2 * (h // 28) * (w // 28)
    return out


def fetch_case(
    name: str,
    seconds: float,
    video_fps: float,
    size: tuple[int, int],
    options: dict[str, Any],
    expect: str = "equal",
    ele: dict[str, Any] | None = None,
) -> dict[str, Any]:
    total_frames = max(1, round(seconds * video_fps))
    height, width = size
    ref_ele = to_ele(options) if ele is None else ele
    case: dict[str, Any] = {
        "name": name,
        "kind": "fetch",
        "total_frames": total_frames,
        "video_fps": video_fps,
        "height": height,
        "width": width,
        "options": options,
        "ele": ref_ele,
    }
    case["ref"] = ref = reference_fetch(ref_ele, total_frames, video_fps, height, width)
    if ele is not None:
        case["ref_alt"] = reference_fetch(to_ele(options), total_frames, video_fps, height, width)
    if "error" in ref:
        expect = "error"
    elif 0 in ref["resized"]:
        expect = "clamp"
    elif ele is None and ref["tokens"] * PIXELS_PER_TOKEN > vidground_budget_px(options):
        expect = "over_budget"
    case["expect"] = expect
    return case


RESOLUTIONS = [
    (144, 256),
    (240, 426),
    (360, 640),
    (480, 854),
    (720, 1280),
    (1080, 1920),
    (1440, 2560),
    (2160, 3840),
    (1920, 1080),
    (1280, 720),
    (203, 311),
    (1080, 1440),
    (478, 850),
    (512, 512),
    (100, 2000),
    (2340, 1080),
]
FPS = [NTSC_24, 25.0, NTSC_30, 30.0, 60.0]
DURATIONS = [1.0, 2.5, 7.0, 10.0, 30.0, 60.0, 150.0, 600.0, 1800.0, 3600.0, 7200.0, 10800.0]

VARIATIONS: list[tuple[str, dict[str, Any]]] = [
    ("fps=1", {"fps": 1.0}),
    ("fps=4", {"fps": 4.0}),
    ("fps=0.5", {"fps": 0.5}),
    ("fps=0.25,max_frames=64", {"fps": 0.25, "max_frames": 64}),
    ("fps=8", {"fps": 8.0}),
    ("nframes=8", {"nframes": 8}),
    ("nframes=15", {"nframes": 15}),
    ("nframes=64", {"nframes": 64}),
    ("min_frames=16,max_frames=64", {"min_frames": 16, "max_frames": 64}),
    ("min_frames=5,max_frames=257", {"min_frames": 5, "max_frames": 257}),
    ("max_pixels=256 tokens", {"max_pixels": 256 * 784}),
    ("max_pixels=64 tokens", {"max_pixels": 64 * 784}),
    ("max_pixels above the cap", {"max_pixels": 2048 * 784}),
    ("min_pixels=64 tokens", {"min_pixels": 64 * 784}),
    ("min_pixels=128 tokens (reference default)", {"min_pixels": 128 * 784}),
    ("total_pixels=8192 tokens", {"total_pixels": 8192 * 784}),
    ("total_pixels=2048 tokens", {"total_pixels": 2048 * 784}),
    ("max_tokens=4096", {"max_tokens": 4096}),
    ("max_tokens=100000", {"max_tokens": 100000}),
    ("max_tokens=1024,min_pixels=4 tokens", {"max_tokens": 1024, "min_pixels": 4 * 784}),
    ("video_start=2,video_end=5", {"video_start": 2.0, "video_end": 5.0}),
    ("video_end=3", {"video_end": 3.0}),
    ("video_start=1.5", {"video_start": 1.5}),
    ("video_start=0.3,video_end=0.9,fps=4", {"video_start": 0.3, "video_end": 0.9, "fps": 4.0}),
    ("video_end beyond the end", {"video_start": 0.5, "video_end": 100000.0}),
]


def fetch_cases() -> list[dict[str, Any]]:
    cases = []
    for i, seconds in enumerate(DURATIONS):  # vidground defaults over every length
        fps, size = FPS[i % len(FPS)], RESOLUTIONS[(3 * i) % len(RESOLUTIONS)]
        cases.append(
            fetch_case(f"defaults {seconds:g}s@{fps:.3f} {size[0]}x{size[1]}", seconds, fps, size, {})
        )
    for j, (label, options) in enumerate(VARIATIONS):  # each knob on three different videos
        for k in range(3):
            m = 3 * j + k
            seconds = DURATIONS[(m * 5 + 3) % len(DURATIONS)]
            if "video_end" in options and options["video_end"] < 10 and seconds < 7:
                seconds = 7.0
            fps, size = FPS[(m * 2 + 1) % len(FPS)], RESOLUTIONS[(m * 7 + 2) % len(RESOLUTIONS)]
            name = f"{label} on {seconds:g}s@{fps:.3f} {size[0]}x{size[1]}"
            cases.append(fetch_case(name, seconds, fps, size, options))
    specials = [
        ("2h@30 defaults (second_per_grid 18.75)", 7200.0, 30.0, (720, 1280), {}),
        (
            "768 frames, min_pixels=128 tokens: floor breaks the budget",
            1800.0,
            25.0,
            (1080, 1920),
            {"min_pixels": 128 * 784},
        ),
        ("banner 50x9000 (aspect 180), 768 frames", 600.0, 30.0, (50, 9000), {}),
        (
            "banner 28x5000, nframes=8, max_tokens=64",
            10.0,
            30.0,
            (28, 5000),
            {"nframes": 8, "max_tokens": 64},
        ),
        ("portrait odd 1081x607", 12.0, NTSC_30, (1081, 607), {}),
        ("tiny 30x40", 5.0, 25.0, (30, 40), {}),
        ("3 frames", 0.1, 30.0, (360, 640), {}),
        ("1 frame (error)", 0.01, 30.0, (360, 640), {}),
        ("nframes=400 > 300 (error)", 10.0, 30.0, (360, 640), {"nframes": 400}),
        ("nframes=1 -> 0 (error)", 10.0, 30.0, (360, 640), {"nframes": 1}),
        ("max_frames=1 (error)", 10.0, 30.0, (360, 640), {"max_frames": 1}),
        (
            "video_start after video_end in frames (error)",
            10.0,
            30.0,
            (360, 640),
            {"video_start": 5.01, "video_end": 5.02},
        ),
        ("video_start beyond the end (error)", 10.0, 30.0, (360, 640), {"video_start": 20.0}),
        ("aspect 300 (error)", 10.0, 30.0, (10, 3000), {}),
        ("fps=60 on 2s@30 (more than the source)", 2.0, 30.0, (360, 640), {"fps": 60.0}),
        (
            "768 frames of 1 token: smallest grid fits exactly",
            1800.0,
            30.0,
            (28, 28),
            {"max_tokens": 384, "min_pixels": 784},
        ),
    ]
    for name, seconds, fps, size, options in specials:
        cases.append(fetch_case(name, seconds, fps, size, options))
    cases.append(
        fetch_case(
            "negative video_start: the reference clamps",
            10.0,
            30.0,
            (360, 640),
            {"video_start": -1.0, "video_end": 4.0},
            expect="negative_time",
        )
    )
    # Defaults that differ: the reference's min_pixels (128 tokens) and budget (MODEL_SEQ_LEN 128000 * 0.9).
    for name, seconds, fps, size in [
        ("144p 10s", 10.0, 25.0, (144, 256)),
        ("180x320 60s", 60.0, 30.0, (180, 320)),
        ("portrait 200x112 2s", 2.0, NTSC_24, (200, 112)),
    ]:
        ele = {"total_pixels": VIDGROUND_MAX_TOKENS * PIXELS_PER_TOKEN}
        cases.append(
            fetch_case(
                f"reference default min_pixels, {name}",
                seconds,
                fps,
                size,
                {},
                expect="default_min_pixels",
                ele=ele,
            )
        )
    for name, seconds, fps, size in [
        ("1080p 30min", 1800.0, 30.0, (1080, 1920)),
        ("4K 10min", 600.0, 60.0, (2160, 3840)),
        ("720p 1h", 3600.0, NTSC_30, (720, 1280)),
    ]:
        ele = {"min_pixels": VIDGROUND_MIN_PIXELS}
        cases.append(
            fetch_case(
                f"reference default budget, {name}", seconds, fps, size, {}, expect="default_budget", ele=ele
            )
        )
    return cases


def smart_resize_cases() -> list[dict[str, Any]]:
    rows = [
        (1080, 1920, 100352, 602112),
        (1920, 1080, 100352, 602112),
        (360, 640, 100352, 602112),
        (54, 96, 100352, 235200),
        (1080, 1920, 12544, 41812.083333333336),
        (1080, 1920, 3136, 12845056),
        (720, 1280, 100352, 602112),
        (15, 15, 3136, 12845056),
        (100, 30000, 3136, 12845056),
        (10, 3000, 3136, 12845056),
        (50, 9000, 3136, 50176),
        (9000, 50, 3136, 50176),
        (27, 5000, 784, 25088),
        (42, 70, 784, 12845056),
        (1081, 607, 12544, 50176.0),
        (2160, 3840, 12544, 602112),
        (99, 99, 12544, 12544),
        (14, 14, 784, 784),
        (200, 1, 784, 602112),
        (1, 201, 784, 602112),
    ]
    cases = []
    for height, width, min_pixels, max_pixels in rows:
        case: dict[str, Any] = {
            "name": f"smart_resize {height}x{width} [{min_pixels}, {max_pixels}]",
            "kind": "smart_resize",
            "height": height,
            "width": width,
            "min_pixels": min_pixels,
            "max_pixels": max_pixels,
        }
        try:
            case["ref"] = {"resized": list(vp.smart_resize(height, width, 28, min_pixels, max_pixels))}
            case["expect"] = "clamp" if 0 in case["ref"]["resized"] else "equal"
        except (ValueError, AssertionError) as exc:
            case["ref"], case["expect"] = {"error": f"{type(exc).__name__}: {exc}"}, "error"
        cases.append(case)
    return cases


def frame_range_cases() -> list[dict[str, Any]]:
    rows = [
        (300, 30.0, 2.5, 5.0),
        (300, 30.0, None, 5.0),
        (300, 30.0, 2.5, None),
        (300, 30.0, 0.0, 10.0),
        (300, 30.0, 0.0, 99.0),
        (210, NTSC_30, 1.0, 3.0),
        (216000, 30.0, 3600.0, 3660.5),
        (7192, NTSC_24, 10.01, 11.0),
        (300, 30.0, 5.0, 5.0),
        (300, 30.0, 9.99, None),
        (300, 30.0, None, 0.01),
        (300, 30.0, -2.0, 1.0),
    ]
    cases = []
    for total_frames, video_fps, start, end in rows:
        ele = {k: v for k, v in (("video_start", start), ("video_end", end)) if v is not None}
        case: dict[str, Any] = {
            "name": f"frame_range {total_frames}@{video_fps:.3f} {start}..{end}",
            "kind": "frame_range",
            "total_frames": total_frames,
            "video_fps": video_fps,
            "video_start": start,
            "video_end": end,
        }
        try:
            first, last, count = vp.calculate_video_frame_range(ele, total_frames, video_fps)
            case["ref"] = {"start": first, "end": last, "count": count}
            case["expect"] = "negative_time" if (start or 0) < 0 or (end or 0) < 0 else "equal"
        except ValueError as exc:
            case["ref"], case["expect"] = {"error": f"ValueError: {exc}"}, "error"
        cases.append(case)
    return cases


def write_video(path: Path, *, width: int, height: int, rate: Fraction, n_frames: int) -> None:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(n_frames):
            rgb = np.full((height, width, 3), (i * 7) % 256, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def real_video_cases() -> list[dict[str, Any]]:
    videos = [
        # widths are multiples of 32: decord 0.6.0 fails on some narrower row strides
        ("64x48 @25, 75 frames", 64, 48, Fraction(25), 75, {}),
        (
            "64x112 portrait @30, 90 frames, 0.5..2.2 s",
            64,
            112,
            Fraction(30),
            90,
            {"video_start": 0.5, "video_end": 2.2},
        ),
        ("96x64 @29.97, 70 frames, fps=4", 96, 64, Fraction(30000, 1001), 70, {"fps": 4.0}),
        ("128x72 @24, 50 frames, nframes=9", 128, 72, Fraction(24), 50, {"nframes": 9}),
    ]
    cases = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, width, height, rate, n_frames, options in videos:
            path = Path(tmp) / f"v{len(cases)}.mp4"
            write_video(path, width=width, height=height, rate=rate, n_frames=n_frames)
            reader = decord.VideoReader(str(path))
            total_frames, video_fps = len(reader), reader.get_avg_fps()
            ele = to_ele(options)
            (video, meta), sample_fps = vp.fetch_video(
                {"video": str(path), **ele}, return_video_sample_fps=True, return_video_metadata=True
            )
            indices = [int(i) for i in meta["frames_indices"]]
            ref = {
                "nframes": int(video.shape[0]),
                **pack_indices(indices),
                "sample_fps": sample_fps,
                "resized": [int(video.shape[2]), int(video.shape[3])],
            }
            cases.append(
                {
                    "name": f"real video {name}",
                    "kind": "real_video",
                    "total_frames": total_frames,
                    "video_fps": video_fps,
                    "height": height,
                    "width": width,
                    "options": options,
                    "ele": ele,
                    "ref": ref,
                    "expect": "equal",
                }
            )
    return cases


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("tests/data/sampling_vectors.jsonl"))
    args = parser.parse_args()
    import torch

    header = {
        "name": "_versions",
        "kind": "versions",
        "qwen_vl_utils": version("qwen-vl-utils"),
        "torch": torch.__version__,
        "decord": decord.__version__,
        "MODEL_SEQ_LEN": vp.MODEL_SEQ_LEN,
    }
    cases = [header, *fetch_cases(), *smart_resize_cases(), *frame_range_cases(), *real_video_cases()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w") as fh:
        for case in cases:
            fh.write(json.dumps(case, separators=(",", ":")) + "\n")
    counts: dict[str, int] = {}
    for case in cases[1:]:
        counts[case["expect"]] = counts.get(case["expect"], 0) + 1
    print(f"wrote {len(cases) - 1} cases to {args.out}: {counts}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
