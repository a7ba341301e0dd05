"""Per-frame resize to the plan's size, done right after each frame is decoded.

Two paths (spec section 11.2):

- ``reference``: what qwen-vl-utils does through torchvision's tensor resize: cast the uint8 frame to float, bicubic
  with antialias, clamp to 0..255, round back to uint8. These are the pixels Qwen evaluated with; the default.
- ``fast``: torch's native uint8 antialiased bicubic kernel; equal to the official HF video processor applied to raw
  frames, faster, but differs from ``reference`` by a few levels on some pixels.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from vidground.settings import ResizeMode


def resize_frame(frame_hwc: np.ndarray, height: int, width: int, mode: ResizeMode | str) -> torch.Tensor:
    """Resize one decoded RGB frame.

    Args:
        frame_hwc: uint8 array (H, W, 3) as decoders return it.
        height, width: target size in pixels (multiples of 28 from the plan).
        mode: ``reference`` or ``fast`` (see the module docstring).

    Returns:
        uint8 tensor (3, height, width).
    """
    chw = torch.from_numpy(np.ascontiguousarray(frame_hwc)).permute(2, 0, 1).unsqueeze(0)  # (1, C, H, W)
    if chw.shape[-2:] == (height, width):
        return chw[0].contiguous()
    if ResizeMode(mode) is ResizeMode.FAST:
        out = F.interpolate(chw, size=(height, width), mode="bicubic", antialias=True, align_corners=False)
        return out[0]
    out = F.interpolate(chw.float(), size=(height, width), mode="bicubic", antialias=True, align_corners=False)
    return out.clamp_(0, 255).round_().to(torch.uint8)[0]
