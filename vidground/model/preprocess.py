"""Frames -> ``pixel_values_videos`` for Qwen2.5-VL, in plain torch (no torchvision; spec 3 and 11.2).

The frames arrive already resized to the plan's size (a multiple of 28, see :mod:`vidground.video.resize`);
this module only rescales, normalises with the CLIP mean/std and cuts the stack into the vision encoder's
patch rows. Applied to frames resized with ``fast`` it equals the official HF video processor on the raw
frames within 1e-5; applied to frames resized with ``reference`` it equals qwen-vl-utils + the processor
(the reference pipeline). On the recorded test frames both are bit-identical.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from vidground.errors import SamplingError
from vidground.options import ResizeMode
from vidground.video.resize import resize_frames

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class VideoInputs:
    """What the model's vision tower takes for one video.

    ``pixel_values_videos`` is float32 (N, C * temporal_patch_size * patch_size**2) = (N, 1176) with
    N = t * h * w patch rows; ``video_grid_thw`` is int64 (1, 3) = [[T/2, H/14, W/14]] in patch units.
    """

    pixel_values_videos: torch.Tensor
    video_grid_thw: torch.Tensor
    merge_size: int = 2

    @property
    def num_tokens(self) -> int:
        """LLM tokens the video takes: t*h*w / merge_size**2 (e.g. grid (10, 26, 46) -> 2990)."""
        grid = self.video_grid_thw.to(torch.int64)
        return int((grid[:, 0] * grid[:, 1] * grid[:, 2]).sum().item()) // (self.merge_size**2)


def preprocess_frames(
    frames: torch.Tensor, *, patch_size: int = 14, temporal_patch_size: int = 2, merge_size: int = 2
) -> VideoInputs:
    """Rescale, normalise and patchify a stack of resized RGB frames.

    Rows are ordered temporal group, merged row (H/28), merged column (W/28), then the 2x2 position inside
    the merge window (dy, dx); each row holds (channel, temporal, py, px). Worked example for T=4, H=56,
    W=84: the grid is (2, 4, 6), there are 2*4*6 = 48 rows; row 5 is temporal group 0, merged row 0,
    merged column 1, (dy, dx) = (0, 1), i.e. the 14x14 patch at pixel rows 0..13, columns 42..55 of
    frames 0 and 1; element 1*196 + 3*14 + 2 = 240 of that row is channel 0 of frame 1 at pixel (3, 44).

    Args:
        frames: uint8 (T, 3, H, W), T >= 1, H and W multiples of ``patch_size * merge_size`` (28). An odd T is
            padded by repeating the last frame, as the HF processor does (5 frames -> grid t 3).
        patch_size, temporal_patch_size, merge_size: the vision encoder's geometry (Qwen2.5-VL: 14, 2, 2).

    Returns:
        :class:`VideoInputs`: float32 (t*h*w, 3*temporal_patch_size*patch_size**2) rows, the (1, 3) grid.

    Raises:
        SamplingError: ``frames`` is not uint8 (T, 3, H, W) with T >= 1, or H / W is not a multiple of 28.
    """
    if frames.dtype != torch.uint8 or frames.ndim != 4 or frames.shape[1] != 3 or frames.shape[0] < 1:
        raise SamplingError(
            f"frames to preprocess must be uint8 (T>=1, 3, H, W), got {frames.dtype} {tuple(frames.shape)}"
        )
    n_frames, channels, height, width = frames.shape
    factor = patch_size * merge_size
    if height % factor or width % factor or height == 0 or width == 0:
        raise SamplingError(f"frame size must be a positive multiple of {factor} px, got {height}x{width}")

    if pad := -n_frames % temporal_patch_size:
        frames = torch.cat([frames, frames[-1:].expand(pad, -1, -1, -1)])  # (T', C, H, W), T' even
        n_frames += pad

    # The processor fuses x/255 and (x - mean)/std into (x - 255*mean) / (255*std); doing the same in float32
    # gives the same floats, not merely close ones.
    mean = torch.tensor(CLIP_MEAN, dtype=torch.float32) * 255.0
    std = torch.tensor(CLIP_STD, dtype=torch.float32) * 255.0
    pixels = frames.to(torch.float32)  # (T', C, H, W)
    pixels.sub_(mean.view(1, channels, 1, 1)).div_(std.view(1, channels, 1, 1))

    grid_t, grid_h, grid_w = n_frames // temporal_patch_size, height // patch_size, width // patch_size
    patches = pixels.view(
        grid_t, temporal_patch_size, channels,
        grid_h // merge_size, merge_size, patch_size,
        grid_w // merge_size, merge_size, patch_size,
    )  # (gt, tp, C, Hm, dy, py, Wm, dx, px)
    patches = patches.permute(0, 3, 6, 4, 7, 2, 1, 5, 8)  # (gt, Hm, Wm, dy, dx, C, tp, py, px)
    rows = patches.reshape(
        grid_t * grid_h * grid_w, channels * temporal_patch_size * patch_size * patch_size
    )  # (N, 1176)
    grid = torch.tensor([[grid_t, grid_h, grid_w]], dtype=torch.int64)  # (1, 3)
    return VideoInputs(pixel_values_videos=rows, video_grid_thw=grid, merge_size=merge_size)


def resize_and_preprocess(
    raw_frames: torch.Tensor, height: int, width: int, mode: ResizeMode | str = ResizeMode.REFERENCE
) -> VideoInputs:
    """Resize raw RGB frames to the plan's size, then :func:`preprocess_frames` them.

    Args:
        raw_frames: uint8 (T, 3, H, W) at the decoded size (a permuted (T, H, W, 3) view is fine).
        height, width: target size in pixels, multiples of 28.
        mode: ``reference`` (qwen-vl-utils' pixels) or ``fast`` (the HF processor's pixels).

    Raises:
        SamplingError: bad frame stack or a target size that is not a multiple of 28.
        ConfigError: unknown ``mode``.
    """
    return preprocess_frames(resize_frames(raw_frames, height, width, mode))
