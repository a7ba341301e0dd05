"""Record reference pixels for vidground's preprocessing tests (run once, under the peer venv).

    .peer-venv/bin/python scripts/record_processor_reference.py [OUT]
    (OUT defaults to tests/data/processor_reference.pt)

For a few deterministic raw uint8 frame stacks this saves:

- the official HF video processor's output (transformers' ``Qwen2VLVideoProcessor``, built offline from a
  ``preprocessor_config.json`` written here with the hub values min_pixels=3136, max_pixels=12845056)
  applied to the raw frames with ``do_sample_frames=False``: ``pixel_values_videos`` and ``video_grid_thw``.
  It picks the target size itself (its ``smart_resize``); vidground's ``fast`` resize to that size +
  ``preprocess_frames`` must match it.
- qwen-vl-utils' resize of the same raw frames to the same size: torchvision's tensor ``resize`` with BICUBIC
  and antialias on the uint8 (T, C, H, W) stack (a permuted view of (T, H, W, C), as decord hands it over),
  then ``.float()``. vidground's ``reference`` resize must equal it exactly. Stored as uint8 (integer values).
- for one case, the whole reference pipeline: the processor applied to qwen-vl-utils' resized frames.

The product never imports this environment; only this script and the benchmark's peer side run there.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import qwen_vl_utils
import torch
import torchvision
import transformers
from torchvision.transforms import InterpolationMode
from torchvision.transforms import functional as tv_functional
from transformers import AutoVideoProcessor

HUB_PREPROCESSOR_CONFIG = {
    "min_pixels": 3136,
    "max_pixels": 12845056,
    "patch_size": 14,
    "temporal_patch_size": 2,
    "merge_size": 2,
    "image_mean": [0.48145466, 0.4578275, 0.40821073],
    "image_std": [0.26862954, 0.26130258, 0.27577711],
    "image_processor_type": "Qwen2VLImageProcessor",
    "video_processor_type": "Qwen2VLVideoProcessor",
    "processor_class": "Qwen2_5_VLProcessor",
}


def _noise(seed: int, shape: tuple[int, int, int, int]) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=shape, dtype=np.uint8)


def _gradient(shape: tuple[int, int, int, int]) -> np.ndarray:
    """Smooth ramps with a sharp edge per frame: the content where resize kernels differ least and most."""
    t, h, w, c = shape
    tt, yy, xx, cc = np.meshgrid(np.arange(t), np.arange(h), np.arange(w), np.arange(c), indexing="ij")
    ramp = (xx * 255.0 / max(w - 1, 1) * (cc + 1) / 3 + yy * 97.0 / max(h - 1, 1) + tt * 11) % 256
    edge = np.where(xx > (w // 3 + tt * 3), 60, 0)
    return np.clip(ramp + edge, 0, 255).astype(np.uint8)


# name, raw (T, H, W, C) uint8, optional per-call size override for a strong downscale
CASES: list[tuple[str, np.ndarray, dict[str, int] | None]] = [
    ("noise_4x45x80_upscale", _noise(1, (4, 45, 80, 3)), None),
    ("gradient_6x56x56_unchanged", _gradient((6, 56, 56, 3)), None),
    ("gradient_odd_t5_50x60", _gradient((5, 50, 60, 3)), None),
    ("noise_2x30x40_min_pixels", _noise(2, (2, 30, 40, 3)), None),
    ("mixed_2x150x200_downscale", (_noise(3, (2, 150, 200, 3)) // 2 + _gradient((2, 150, 200, 3)) // 2),
     {"shortest_edge": 3136, "longest_edge": 56 * 84}),
]
PIPELINE_CASE = "noise_4x45x80_upscale"


def _qwen_vl_utils_resize(video_tchw: torch.Tensor, height: int, width: int) -> torch.Tensor:
    # The exact call qwen-vl-utils 0.0.14 makes in fetch_video.
    return tv_functional.resize(
        video_tchw, [height, width], interpolation=InterpolationMode.BICUBIC, antialias=True
    ).float()


def main(out_path: Path) -> None:
    with tempfile.TemporaryDirectory() as config_dir:
        (Path(config_dir) / "preprocessor_config.json").write_text(json.dumps(HUB_PREPROCESSOR_CONFIG))
        processor = AutoVideoProcessor.from_pretrained(config_dir)
    print(type(processor).__name__, dict(processor.size), file=sys.stderr)

    records = []
    for name, raw_thwc, size_override in CASES:
        video_tchw = torch.from_numpy(raw_thwc).permute(0, 3, 1, 2)  # (T, C, H, W) view, channels-last
        extra = {} if size_override is None else {"size": size_override}
        out = processor(
            videos=[video_tchw.contiguous()], do_sample_frames=False, cap_pixels_per_frame=False,
            return_tensors="pt", **extra,
        )
        grid = out["video_grid_thw"]
        height, width = int(grid[0, 1]) * 14, int(grid[0, 2]) * 14
        resized = _qwen_vl_utils_resize(video_tchw, height, width)
        if not torch.equal(resized, resized.round()) or resized.min() < 0 or resized.max() > 255:
            raise RuntimeError(f"{name}: qwen-vl-utils resize output is not integral 0..255")
        record = {
            "name": name,
            "raw_thwc": torch.from_numpy(raw_thwc.copy()),
            "height": height,
            "width": width,
            "pixel_values_videos": out["pixel_values_videos"].to(torch.float32).contiguous(),
            "video_grid_thw": grid.to(torch.int64),
            "qwen_vl_utils_resized": resized.to(torch.uint8).contiguous(),
        }
        if name == PIPELINE_CASE:
            pipeline = processor(
                videos=[resized], do_sample_frames=False, cap_pixels_per_frame=False, return_tensors="pt"
            )
            if not torch.equal(pipeline["video_grid_thw"], grid):
                raise RuntimeError(f"{name}: processor re-resized qwen-vl-utils' frames")
            record["pipeline_pixel_values_videos"] = pipeline["pixel_values_videos"].to(torch.float32)
        print(name, tuple(raw_thwc.shape), "->", (height, width), "grid", grid.tolist(), file=sys.stderr)
        records.append(record)

    payload = {
        "versions": {
            "torch": str(torch.__version__),
            "torchvision": str(torchvision.__version__),
            "transformers": str(transformers.__version__),
            "qwen_vl_utils": str(getattr(qwen_vl_utils, "__version__", "0.0.14")),
        },
        "preprocessor_config": HUB_PREPROCESSOR_CONFIG,
        "cases": records,
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(payload, out_path)
    print(f"wrote {out_path} ({out_path.stat().st_size} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("tests/data/processor_reference.pt"))
