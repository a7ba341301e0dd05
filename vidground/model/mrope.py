"""Absolute-time 3-D MRoPE position ids for Qwen2.5-VL (spec section 4.1, vidground's choice 11.1).

vidground computes these itself instead of trusting the installed transformers: 4.5x truncates
``second_per_grid_t`` to an integer (fps > 2 collapses time), and 5.24 starts the text after a video at
``off + max(H/2, W/2)`` instead of after the video's last temporal id (spec 4.3). Here the temporal id of a
video's k-th temporal group is ``off + floor(k * second_per_grid_t * tokens_per_second)``, computed in float64
and floored after multiplying, and every text run starts one past the largest id so far.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from vidground.errors import SamplingError

IMAGE_TOKEN_ID = 151655
VIDEO_TOKEN_ID = 151656
VISION_START_TOKEN_ID = 151652


class _VisionItems:
    """Grids (and seconds per temporal step) of the images and videos, consumed in order across the batch."""

    def __init__(
        self,
        image_grid_thw: torch.Tensor | None,
        video_grid_thw: torch.Tensor | None,
        second_per_grid_ts: Sequence[float] | None,
    ) -> None:
        self.images = _grid_rows("image_grid_thw", image_grid_thw)
        self.videos = _grid_rows("video_grid_thw", video_grid_thw)
        self.seconds = None if second_per_grid_ts is None else [float(s) for s in second_per_grid_ts]
        if self.seconds is not None and len(self.seconds) < len(self.videos):
            raise SamplingError(
                f"second_per_grid_ts has {len(self.seconds)} values, "
                f"expected one per video ({len(self.videos)})"
            )
        self.next_image = 0
        self.next_video = 0

    def take(self, is_video: bool, batch_index: int) -> tuple[tuple[int, int, int], float]:
        """The next item's (T, H, W) grid and seconds per temporal step (images 0, videos default 1.0)."""
        rows, used, kind = (
            (self.videos, self.next_video, "video") if is_video else (self.images, self.next_image, "image")
        )
        if used >= len(rows):
            raise SamplingError(
                f"sequence {batch_index} has more {kind} blocks than {kind}_grid_thw rows ({len(rows)})"
            )
        if is_video:
            self.next_video += 1
            seconds = 1.0 if self.seconds is None else self.seconds[used]
        else:
            self.next_image += 1
            seconds = 0.0
        return rows[used], seconds

    def check_all_used(self) -> None:
        counts = (("image", self.images, self.next_image), ("video", self.videos, self.next_video))
        for kind, rows, used in counts:
            if used != len(rows):
                raise SamplingError(
                    f"{kind}_grid_thw has {len(rows)} rows but the input_ids hold {used} {kind} blocks"
                )


def _grid_rows(name: str, grid_thw: torch.Tensor | None) -> list[tuple[int, int, int]]:
    if grid_thw is None:
        return []
    if grid_thw.ndim != 2 or grid_thw.shape[1] != 3:
        raise SamplingError(f"{name} must have shape (n, 3), got {tuple(grid_thw.shape)}")
    rows = [(int(t), int(h), int(w)) for t, h, w in grid_thw.tolist()]
    if any(min(row) < 1 for row in rows):
        raise SamplingError(f"{name} rows must be positive, got {rows}")
    return rows


def _sequence_positions(
    tokens: torch.Tensor,
    items: _VisionItems,
    *,
    batch_index: int,
    spatial_merge_size: int,
    tokens_per_second: float,
    image_token_id: int,
    video_token_id: int,
    vision_start_token_id: int,
) -> torch.Tensor:
    """(3, L) int64 ids for one unpadded sequence of L tokens (see :func:`rope_index`)."""
    chunks: list[torch.Tensor] = []
    next_id = 0  # one past the largest id so far; where the next text run starts
    cursor = 0  # first token not yet given an id
    n_vision_tokens = 0
    starts = (tokens[:-1] == vision_start_token_id).nonzero().flatten().tolist()
    for start in starts:
        if start < cursor:  # a <|vision_start|> inside a previous block cannot happen: blocks hold only pads
            continue
        pad_id = int(tokens[start + 1])
        if pad_id not in (image_token_id, video_token_id):
            continue  # a stray <|vision_start|> is text, as in the reference
        (grid_t, grid_h, grid_w), seconds = items.take(pad_id == video_token_id, batch_index)
        if grid_h % spatial_merge_size or grid_w % spatial_merge_size:
            raise SamplingError(
                f"grid (t, h, w) = {(grid_t, grid_h, grid_w)}: "
                f"h and w must be multiples of {spatial_merge_size}"
            )
        rows, cols = grid_h // spatial_merge_size, grid_w // spatial_merge_size
        n_block = grid_t * rows * cols
        block = tokens[start + 1 : start + 1 + n_block]
        if block.numel() != n_block or not bool((block == pad_id).all()):
            raise SamplingError(
                f"sequence {batch_index}: the block at token {start + 1} should be {n_block} pad tokens "
                f"(grid {(grid_t, grid_h, grid_w)}), got {int((block == pad_id).sum())} of {block.numel()}"
            )

        text_len = start + 1 - cursor  # the text run includes <|vision_start|>
        chunks.append((torch.arange(text_len, dtype=torch.int64) + next_id).expand(3, -1))
        offset = next_id + text_len

        # Float64 seconds, floored only after multiplying: spg 0.5 at 2 tokens/s -> steps 0, 1, 2, 3.
        t_steps = [math.floor(k * seconds * tokens_per_second) for k in range(grid_t)]
        t_ids = torch.tensor(t_steps, dtype=torch.int64).repeat_interleave(rows * cols)  # (n_block,)
        h_ids = torch.arange(rows, dtype=torch.int64).repeat_interleave(cols).repeat(grid_t)  # (n_block,)
        w_ids = torch.arange(cols, dtype=torch.int64).repeat(grid_t * rows)  # (n_block,)
        chunks.append(torch.stack([t_ids, h_ids, w_ids]) + offset)  # (3, n_block)

        next_id = offset + max(t_steps[-1], rows - 1, cols - 1) + 1
        cursor = start + 1 + n_block
        n_vision_tokens += n_block

    chunks.append((torch.arange(tokens.numel() - cursor, dtype=torch.int64) + next_id).expand(3, -1))
    n_pads = int(((tokens == image_token_id) | (tokens == video_token_id)).sum())
    if n_pads != n_vision_tokens:
        raise SamplingError(
            f"sequence {batch_index}: {n_pads - n_vision_tokens} image/video pad tokens lie outside "
            "<|vision_start|> blocks; every pad must follow its block's <|vision_start|>"
        )
    return torch.cat(chunks, dim=1)  # (3, L)


def rope_index(
    input_ids: torch.Tensor,
    *,
    image_grid_thw: torch.Tensor | None = None,
    video_grid_thw: torch.Tensor | None = None,
    second_per_grid_ts: torch.Tensor | list[float] | None = None,
    attention_mask: torch.Tensor | None = None,
    spatial_merge_size: int = 2,
    tokens_per_second: float = 2,
    image_token_id: int = IMAGE_TOKEN_ID,
    video_token_id: int = VIDEO_TOKEN_ID,
    vision_start_token_id: int = VISION_START_TOKEN_ID,
) -> tuple[torch.Tensor, torch.Tensor]:
    """3-D (temporal, height, width) position ids of a batch of prompts holding images and videos.

    Per sequence, only tokens with ``attention_mask == 1`` take part; they are walked in order:

    - a text run of L tokens (including the ``<|vision_start|>`` that opens a block) gets ``st + arange(L)``
      on all three axes, ``st`` = 0 for the first run, else one past the largest id so far;
    - the block after it (the token after ``<|vision_start|>`` says image or video) with grid (T, H, W) holds
      T * H/2 * W/2 pad tokens in raster order (t, then row, then column); with ``off`` = the next free id,
      they get t = ``off + floor(k * spg * tokens_per_second)`` (k = temporal group, float64 product, floor
      after multiplying), h = ``off + row``, w = ``off + col``. ``spg`` is the video's ``second_per_grid_ts``
      entry (1.0 when none is given); images use 0;
    - text after the last block continues from the largest id + 1.

    Masked (padding) positions get 1, as transformers 4.57.1 does. ``rope_delta = max id + 1 - S`` with S the
    full, padded length, so the token generated at cache position c gets ``c + rope_delta``
    (:func:`decode_positions`). transformers 5.24's ``generate`` instead decodes at
    ``cumsum(attention_mask) - 1 + rope_delta`` (padding not counted): when handing these deltas to it, add
    each row's number of padding tokens (no change for unpadded rows).

    Worked example (spec 4.4, vector R1): 3 text tokens, ``<|vision_start|>``, a video with grid (4, 4, 6)
    and spg 1.0 (2 fps sampling), ``<|vision_end|>``, 4 text tokens; S = 3 + 1 + 24 + 1 + 4 = 33,
    tokens_per_second 2.

        tokens   txt txt txt vs | 24 video pads: 4 groups x 2 rows x 3 cols        | ve  txt txt txt txt
        t        0   1   2   3  | 4 (x6)  6 (x6)  8 (x6)  10 (x6)                   | 11  12  13  14  15
        h        0   1   2   3  | 4 4 4 5 5 5, repeated per group                   | 11  12  13  14  15
        w        0   1   2   3  | 4 5 6 4 5 6, repeated                             | 11  12  13  14  15

    off = 4; t steps floor(k * 1.0 * 2) = 0, 2, 4, 6; ``<|vision_end|>`` gets max(10, 5, 6) + 1 = 11;
    rope_delta = 15 + 1 - 33 = -17, so the first generated token (cache position 33) gets 16.
    With spg 0.5 (4 fps) the t ids are 4, 5, 6, 7 and ``<|vision_end|>`` gets max(7, 5, 6) + 1 = 8.

    Args:
        input_ids: int (B, S) token ids; left padding allowed with ``attention_mask``.
        image_grid_thw: int (n_images, 3) patch grids of all images in the batch, in order of appearance.
        video_grid_thw: int (n_videos, 3) patch grids [T/2, H/14, W/14] of all videos in the batch, in order.
        second_per_grid_ts: seconds of video per temporal grid step, one per video (2 / sample_fps).
        attention_mask: (B, S) with 1 for real tokens and 0 for padding; None means all real.
        spatial_merge_size: patches merged per side into one LLM token (2).
        tokens_per_second: temporal ids per second of video (2 in every released config).
        image_token_id, video_token_id, vision_start_token_id: Qwen2.5-VL's special token ids.

    Returns:
        ``(position_ids, rope_deltas)``: int64 (3, B, S) and int64 (B, 1), on ``input_ids``' device.

    Raises:
        SamplingError: shapes disagree, a block is not made of exactly T*H*W/4 pads of its kind, pads lie
            outside blocks, the grids or ``second_per_grid_ts`` run out, or grid rows are left over.
    """
    if input_ids.ndim != 2:
        raise SamplingError(f"input_ids must have shape (batch, seq_len), got {tuple(input_ids.shape)}")
    if attention_mask is not None and attention_mask.shape != input_ids.shape:
        raise SamplingError(
            f"attention_mask shape {tuple(attention_mask.shape)} "
            f"must equal input_ids shape {tuple(input_ids.shape)}"
        )
    seconds = (
        second_per_grid_ts.tolist() if isinstance(second_per_grid_ts, torch.Tensor) else second_per_grid_ts
    )
    items = _VisionItems(image_grid_thw, video_grid_thw, seconds)

    device = input_ids.device
    ids_cpu = input_ids.detach().to("cpu", torch.int64)
    mask_cpu = None if attention_mask is None else attention_mask.detach().to("cpu").bool()
    batch, seq_len = ids_cpu.shape
    position_ids = torch.ones(3, batch, seq_len, dtype=torch.int64)
    deltas = torch.zeros(batch, 1, dtype=torch.int64)
    for b in range(batch):
        keep = None if mask_cpu is None else mask_cpu[b]
        tokens = ids_cpu[b] if keep is None else ids_cpu[b][keep]
        positions = _sequence_positions(
            tokens,
            items,
            batch_index=b,
            spatial_merge_size=spatial_merge_size,
            tokens_per_second=tokens_per_second,
            image_token_id=image_token_id,
            video_token_id=video_token_id,
            vision_start_token_id=vision_start_token_id,
        )  # (3, L)
        if keep is None:
            position_ids[:, b] = positions
        else:
            position_ids[:, b, keep] = positions
        largest = int(positions.max()) if positions.numel() else -1
        deltas[b, 0] = largest + 1 - seq_len
    items.check_all_used()
    return position_ids.to(device), deltas.to(device)


def decode_positions(cache_position: torch.Tensor, rope_deltas: torch.Tensor) -> torch.Tensor:
    """Position ids of generated tokens: every axis gets ``cache_position + rope_delta`` (spec 4.1 item 5).

    Example: a 33-token prompt with rope_delta -17 -> the first generated token (cache position 33) gets 16
    on all three axes, the next 17.

    Args:
        cache_position: int (L,) positions in the padded cache of the tokens being decoded.
        rope_deltas: int (B, 1) from :func:`rope_index`.

    Returns:
        int64 (3, B, L).

    Raises:
        SamplingError: ``cache_position`` is not 1-D or ``rope_deltas`` is not (B, 1).
    """
    if cache_position.ndim != 1 or rope_deltas.ndim != 2 or rope_deltas.shape[1] != 1:
        raise SamplingError(
            f"decode_positions takes cache_position (L,) and rope_deltas (B, 1), got "
            f"{tuple(cache_position.shape)} and {tuple(rope_deltas.shape)}"
        )
    positions = cache_position.to(torch.int64).view(1, -1) + rope_deltas.to(torch.int64)  # (B, L)
    return positions.unsqueeze(0).expand(3, -1, -1).contiguous()  # (3, B, L)
