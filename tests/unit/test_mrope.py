"""Absolute-time MRoPE position ids: spec vectors E, hand-computed cases, a brute-force cross-check and
transformers 5.24.0's own ``get_rope_index`` where the two agree (spec 4.1, 4.3, 4.4)."""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from vidground.errors import SamplingError
from vidground.model.mrope import (
    IMAGE_TOKEN_ID,
    VIDEO_TOKEN_ID,
    VISION_START_TOKEN_ID,
    decode_positions,
    rope_index,
)

VISION_END = 151653
PAD_TEXT = 151643  # what a tokenizer pads with; any id works since the mask decides

# A segment is ("t", n) for n text tokens, ("v", (t, h, w)) a video, ("i", (t, h, w)) an image; a vision
# segment is <|vision_start|>, t*h*w/4 pads, <|vision_end|> (start and end are text), as in spec vectors E.
Segment = tuple[str, object]


def build_ids(
    segments: list[Segment],
) -> tuple[list[int], list[tuple[int, int, int]], list[tuple[int, int, int]]]:
    ids: list[int] = []
    images: list[tuple[int, int, int]] = []
    videos: list[tuple[int, int, int]] = []
    for kind, value in segments:
        if kind == "t":
            assert isinstance(value, int)
            ids.extend(1000 + (len(ids) + i) % 500 for i in range(value))
        else:
            t, h, w = value  # type: ignore[misc]
            pad = VIDEO_TOKEN_ID if kind == "v" else IMAGE_TOKEN_ID
            (videos if kind == "v" else images).append((t, h, w))
            ids.extend([VISION_START_TOKEN_ID, *([pad] * (t * h * w // 4)), VISION_END])
    return ids, images, videos


def grid_tensor(rows: list[tuple[int, int, int]]) -> torch.Tensor | None:
    return torch.tensor(rows, dtype=torch.int64) if rows else None


def run_segments(segments: list[Segment], spg: list[float] | None) -> tuple[torch.Tensor, int]:
    ids, images, videos = build_ids(segments)
    pos, delta = rope_index(
        torch.tensor([ids]),
        image_grid_thw=grid_tensor(images),
        video_grid_thw=grid_tensor(videos),
        second_per_grid_ts=spg,
    )
    return pos[:, 0], int(delta[0, 0])


# ------------------------------------------------------- brute force (independent, plain Python loops)


def brute_force(
    batch_ids: list[list[int]],
    mask: list[list[int]],
    images: list[tuple[int, int, int]],
    videos: list[tuple[int, int, int]],
    spg: list[float] | None,
    *,
    text_after: str = "reference",
    fill: int = 1,
    delta_length: str = "padded",
) -> tuple[list[list[list[int]]], list[int]]:
    """Reference semantics of spec 4.1 token by token; ``text_after="v5_24"`` mimics transformers 5.24.0."""
    seq_len = len(batch_ids[0])
    out = [[[fill] * seq_len for _ in batch_ids] for _ in range(3)]
    deltas = []
    next_image = next_video = 0
    for b, row in enumerate(batch_ids):
        kept = [j for j in range(seq_len) if mask[b][j]]
        toks = [row[j] for j in kept]
        ids: list[tuple[int, int, int]] = []
        counter = 0
        j = 0
        while j < len(toks):
            is_block = (
                toks[j] == VISION_START_TOKEN_ID
                and j + 1 < len(toks)
                and toks[j + 1] in (IMAGE_TOKEN_ID, VIDEO_TOKEN_ID)
            )
            ids.append((counter, counter, counter))
            counter += 1
            j += 1
            if not is_block:
                continue
            if toks[j] == VIDEO_TOKEN_ID:
                t, h, w = videos[next_video]
                seconds = 1.0 if spg is None else spg[next_video]
                next_video += 1
            else:
                t, h, w = images[next_image]
                seconds = 0.0
                next_image += 1
            off = counter
            for k in range(t):
                for r in range(h // 2):
                    for c in range(w // 2):
                        ids.append((off + math.floor(k * seconds * 2), off + r, off + c))
            j += t * (h // 2) * (w // 2)
            if text_after == "reference":
                counter = max(max(p) for p in ids) + 1
            else:
                counter = off + max(h // 2, w // 2)
        for n, j_full in enumerate(kept):
            for axis in range(3):
                out[axis][b][j_full] = ids[n][axis]
        largest = max((max(p) for p in ids), default=-1)
        deltas.append(largest + 1 - (seq_len if delta_length == "padded" else len(toks)))
    return out, deltas


# ------------------------------------------------------- spec vectors E (R1, R2, R4) and the worked example


R1_T = [0, 1, 2, 3] + [4] * 6 + [6] * 6 + [8] * 6 + [10] * 6 + [11, 12, 13, 14, 15]
R1_H = [0, 1, 2, 3] + [4, 4, 4, 5, 5, 5] * 4 + [11, 12, 13, 14, 15]
R1_W = [0, 1, 2, 3] + [4, 5, 6, 4, 5, 6] * 4 + [11, 12, 13, 14, 15]
R1_SEGMENTS: list[Segment] = [("t", 3), ("v", (4, 4, 6)), ("t", 4)]


def test_r1_matches_spec_vector_and_worked_example() -> None:
    pos, delta = run_segments(R1_SEGMENTS, [1.0])
    assert pos.tolist() == [R1_T, R1_H, R1_W]
    assert delta == -17
    assert pos.dtype == torch.int64


def test_r1_without_second_per_grid_uses_one_second() -> None:
    pos, delta = run_segments(R1_SEGMENTS, None)
    assert pos.tolist() == [R1_T, R1_H, R1_W]
    assert delta == -17


def test_r2_fractional_seconds_step_by_one_not_collapsed() -> None:
    # Reference ids by hand (neither transformers version gives them): spg 0.5 * 2 tokens/s -> step 1;
    # <|vision_end|> at max(7, 5, 6) + 1 = 8, the text 9..12; delta = 12 + 1 - 33 = -20.
    pos, delta = run_segments(R1_SEGMENTS, [0.5])
    assert pos[0].tolist() == [0, 1, 2, 3] + [4] * 6 + [5] * 6 + [6] * 6 + [7] * 6 + [8, 9, 10, 11, 12]
    assert pos[1].tolist() == [0, 1, 2, 3] + [4, 4, 4, 5, 5, 5] * 4 + [8, 9, 10, 11, 12]
    assert pos[2].tolist() == [0, 1, 2, 3] + [4, 5, 6, 4, 5, 6] * 4 + [8, 9, 10, 11, 12]
    assert delta == -20


R4_T = [0, 1, 2] + [v for k in range(10) for v in [3 + 4 * k] * 4] + [40, 41, 42, 43]


def test_r4_text_after_long_video_starts_after_its_last_temporal_id() -> None:
    pos, delta = run_segments([("t", 2), ("v", (10, 4, 4)), ("t", 3)], [2.0])
    assert pos[0].tolist() == R4_T
    assert pos[1].tolist() == [0, 1, 2] + [3, 3, 4, 4] * 10 + [40, 41, 42, 43]
    assert pos[2].tolist() == [0, 1, 2] + [3, 4, 3, 4] * 10 + [40, 41, 42, 43]
    assert delta == -3


@pytest.mark.parametrize(
    ("spg", "steps"),
    [
        (0.5, [0, 1, 2, 3]),  # fps 4
        (1.001, [0, 2, 4, 6]),  # fps 1.998 (29.97 fps source): 2.002 * k floored
        (1.5, [0, 3, 6, 9]),  # 4.57.1 would give 0, 2, 4, 6
        (18.75, [0, 37, 75, 112]),  # 2-hour clip: floor(k * 37.5)
        (0.0833, [0, 0, 0, 0]),  # 5.x's 24-fps fallback nearly collapses time
        (2 / 3, [0, 1, 2, 4]),  # floor(4/3), floor(8/3), floor(12/3 = 4.0 in float64)
    ],
)
def test_temporal_steps_floor_the_float_product(spg: float, steps: list[int]) -> None:
    pos, delta = run_segments([("t", 2), ("v", (4, 2, 2)), ("t", 1)], [spg])
    # text 0, 1, <|vision_start|> 2, so off = 3; one token per temporal group (grid 2x2 -> 1x1 merged)
    assert pos[0, 3:7].tolist() == [3 + s for s in steps]
    assert pos[1, 3:7].tolist() == [3] * 4 and pos[2, 3:7].tolist() == [3] * 4
    tail = 3 + steps[-1] + 1 + 1  # <|vision_end|> then one text token
    assert pos[0, -1].item() == tail
    assert delta == tail + 1 - pos.shape[1]


SPEC_VECTORS = json.loads((Path(__file__).parents[1] / "data" / "rope_vectors.json").read_text())["vectors"]


def _segments(vector: dict) -> list[Segment]:  # type: ignore[type-arg]
    return [(kind, value if kind == "t" else tuple(value)) for kind, value in vector["segments"]]


@pytest.mark.parametrize("vector", SPEC_VECTORS, ids=[v["name"][:2] for v in SPEC_VECTORS])
def test_spec_vectors_reference_values(vector: dict) -> None:  # type: ignore[type-arg]
    pos, delta = run_segments(_segments(vector), vector["second_per_grid_ts"])
    assert pos.shape[1] == vector["seq_len"]
    assert pos.tolist() == vector["reference"]["pos"]
    assert delta == vector["reference"]["delta"]


@pytest.mark.parametrize("vector", SPEC_VECTORS, ids=[v["name"][:2] for v in SPEC_VECTORS])
def test_spec_vectors_installed_transformers_still_gives_v5_24_values(vector: dict) -> None:  # type: ignore[type-arg]
    ids, images, videos = build_ids(_segments(vector))
    pos, delta = run_transformers([ids], [[1] * len(ids)], images, videos, vector["second_per_grid_ts"])
    assert pos[:, 0].tolist() == vector["v5_24_0"]["pos"]
    assert delta.item() == vector["v5_24_0"]["delta"]


def test_spg_as_tensor_equals_list() -> None:
    ids, _, videos = build_ids(R1_SEGMENTS)
    from_list = rope_index(torch.tensor([ids]), video_grid_thw=grid_tensor(videos), second_per_grid_ts=[0.5])
    from_tensor = rope_index(
        torch.tensor([ids]), video_grid_thw=grid_tensor(videos), second_per_grid_ts=torch.tensor([0.5])
    )
    assert torch.equal(from_list[0], from_tensor[0]) and torch.equal(from_list[1], from_tensor[1])


# ---------------------------------------------------------------- several items, batches, padding


def test_images_and_two_videos_in_one_sequence() -> None:
    segments: list[Segment] = [
        ("t", 2),
        ("i", (1, 4, 4)),
        ("t", 1),
        ("v", (2, 2, 4)),
        ("v", (3, 2, 2)),
        ("t", 2),
    ]
    pos, delta = run_segments(segments, [2.0, 0.5])
    t = pos[0].tolist()
    # text 0,1; <|vision_start|> 2; image 2x2 at off 3: t 3, h 3,3,4,4, w 3,4,3,4;
    # <|vision_end|> 5, text 6, <|vision_start|> 7
    assert t[:8] == [0, 1, 2, 3, 3, 3, 3, 5]
    assert pos[1, 3:7].tolist() == [3, 3, 4, 4] and pos[2, 3:7].tolist() == [3, 4, 3, 4]
    assert t[8:10] == [6, 7]
    # first video off 8, grid 2x1x2 spg 2 -> t 8, 12; then <|vision_end|> 13, <|vision_start|> 14
    assert t[10:14] == [8, 8, 12, 12] and t[14:16] == [13, 14]
    # second video off 15, grid 3x1x1 spg 0.5 -> t 15, 16, 17; then 18, 19, 20
    assert t[16:19] == [15, 16, 17] and t[19:] == [18, 19, 20]
    assert delta == 21 - len(t)


def test_batch_with_left_padding_consumes_items_in_order() -> None:
    first, _, v1 = build_ids([("t", 2), ("v", (2, 2, 2)), ("t", 1)])
    second, _, v2 = build_ids([("t", 3), ("v", (2, 4, 2)), ("t", 2)])
    seq_len = max(len(first), len(second))
    pad_first = seq_len - len(first)
    ids = torch.tensor([[PAD_TEXT] * pad_first + first, second])
    mask = torch.tensor([[0] * pad_first + [1] * len(first), [1] * seq_len])
    grids = grid_tensor(v1 + v2)
    pos, delta = rope_index(ids, video_grid_thw=grids, second_per_grid_ts=[1.0, 3.0], attention_mask=mask)
    alone0, d0 = rope_index(torch.tensor([first]), video_grid_thw=grid_tensor(v1), second_per_grid_ts=[1.0])
    alone1, d1 = rope_index(torch.tensor([second]), video_grid_thw=grid_tensor(v2), second_per_grid_ts=[3.0])
    assert pos.shape == (3, 2, seq_len) and delta.shape == (2, 1)
    assert (pos[:, 0, :pad_first] == 1).all()  # masked slots are filled with 1, as in 4.57.1
    assert torch.equal(pos[:, 0, pad_first:], alone0[:, 0])
    assert torch.equal(pos[:, 1], alone1[:, 0])
    # The delta counts the padded length, so decoding at cache position seq_len continues after the prompt.
    assert delta[0, 0].item() == d0.item() - pad_first
    assert delta[1, 0].item() == d1.item()
    next_ids = decode_positions(torch.tensor([seq_len]), delta)
    assert next_ids[:, 0, 0].tolist() == [int(alone0.max()) + 1] * 3
    assert next_ids[:, 1, 0].tolist() == [int(alone1.max()) + 1] * 3


def test_text_only_is_arange_and_respects_mask() -> None:
    ids = torch.tensor([[5, 6, 7, 8, 9], [0, 0, 6, 7, 8]], dtype=torch.int32)
    mask = torch.tensor([[1, 1, 1, 1, 1], [0, 0, 1, 1, 1]])
    pos, delta = rope_index(ids, attention_mask=mask)
    assert pos.dtype == torch.int64
    assert pos[:, 0].tolist() == [[0, 1, 2, 3, 4]] * 3
    assert pos[:, 1].tolist() == [[1, 1, 0, 1, 2]] * 3
    assert delta.tolist() == [[0], [-2]]
    plain, plain_delta = rope_index(ids[:1])
    assert torch.equal(plain, pos[:, :1]) and plain_delta.tolist() == [[0]]


def test_stray_vision_start_without_pad_is_text() -> None:
    ids = torch.tensor([[1, VISION_START_TOKEN_ID, 2, 3, VISION_START_TOKEN_ID]])
    pos, delta = rope_index(ids)
    assert pos[0, 0].tolist() == [0, 1, 2, 3, 4] and delta.item() == 0


def test_decode_positions_worked_example() -> None:
    out = decode_positions(torch.tensor([33, 34]), torch.tensor([[-17]]))
    assert out.shape == (3, 1, 2)
    assert out[:, 0].tolist() == [[16, 17]] * 3


# ---------------------------------------------------------------- errors


def test_more_blocks_than_grid_rows_is_an_error() -> None:
    ids, _, videos = build_ids([("v", (2, 2, 2)), ("v", (2, 2, 2))])
    with pytest.raises(SamplingError, match="more video blocks"):
        rope_index(torch.tensor([ids]), video_grid_thw=grid_tensor(videos[:1]))


def test_unused_grid_rows_are_an_error() -> None:
    ids, _, videos = build_ids([("v", (2, 2, 2))])
    with pytest.raises(SamplingError, match="2 rows but the input_ids hold 1"):
        rope_index(torch.tensor([ids]), video_grid_thw=grid_tensor(videos * 2))


def test_block_shorter_than_grid_is_an_error() -> None:
    ids, _, _ = build_ids([("v", (2, 2, 2))])
    with pytest.raises(SamplingError, match="should be 8 pad tokens"):
        rope_index(torch.tensor([ids]), video_grid_thw=torch.tensor([[4, 2, 4]]))


def test_pads_outside_blocks_are_an_error() -> None:
    ids, _, videos = build_ids([("v", (2, 2, 2)), ("t", 1)])
    with pytest.raises(SamplingError, match="outside"):
        rope_index(torch.tensor([[*ids, VIDEO_TOKEN_ID]]), video_grid_thw=grid_tensor(videos))


def test_too_few_second_per_grid_values_is_an_error() -> None:
    ids, _, videos = build_ids([("v", (2, 2, 2)), ("v", (2, 2, 2))])
    with pytest.raises(SamplingError, match="second_per_grid_ts has 1 values"):
        rope_index(torch.tensor([ids]), video_grid_thw=grid_tensor(videos), second_per_grid_ts=[1.0])


def test_bad_shapes_are_errors() -> None:
    with pytest.raises(SamplingError, match="batch, seq_len"):
        rope_index(torch.tensor([1, 2, 3]))
    with pytest.raises(SamplingError, match="attention_mask shape"):
        rope_index(torch.tensor([[1, 2, 3]]), attention_mask=torch.ones(1, 2))
    with pytest.raises(SamplingError, match=r"\(n, 3\)"):
        rope_index(torch.tensor([[1, 2, 3]]), video_grid_thw=torch.tensor([1, 2, 2]))
    ids, _, _ = build_ids([("v", (1, 3, 2))])
    with pytest.raises(SamplingError, match="multiples of 2"):
        rope_index(torch.tensor([ids]), video_grid_thw=torch.tensor([[1, 3, 2]]))


# ------------------------------------------------------- random layouts: brute force and transformers 5.24


grids = st.tuples(st.integers(1, 4), st.sampled_from([2, 4, 6]), st.sampled_from([2, 4, 6]))
segment = st.one_of(
    st.tuples(st.just("t"), st.integers(1, 4)),
    st.tuples(st.just("v"), grids),
    st.tuples(st.just("i"), grids.map(lambda g: (1, g[1], g[2]))),
)
layout = st.lists(st.lists(segment, min_size=1, max_size=5), min_size=1, max_size=3)


def batch_from(
    layouts: list[list[Segment]], pads: list[int]
) -> tuple[list[list[int]], list[list[int]], list, list]:
    rows, images, videos = [], [], []
    for segments in layouts:
        ids, im, vi = build_ids(segments)
        rows.append(ids)
        images += im
        videos += vi
    seq_len = max(len(r) + p for r, p in zip(rows, pads, strict=True))
    batch_ids, mask = [], []
    for r in rows:
        lead = seq_len - len(r)  # left padding up to the longest row plus its drawn extra
        batch_ids.append([PAD_TEXT] * lead + r)
        mask.append([0] * lead + [1] * len(r))
    return batch_ids, mask, images, videos


@settings(max_examples=120, deadline=None)
@given(
    layouts=layout,
    data=st.data(),
)
def test_random_layouts_match_brute_force(layouts: list[list[Segment]], data: st.DataObject) -> None:
    pads = data.draw(st.lists(st.integers(0, 3), min_size=len(layouts), max_size=len(layouts)))
    batch_ids, mask, images, videos = batch_from(layouts, pads)
    spg_choices = st.one_of(
        st.sampled_from([0.5, 1.0, 1.001, 1.5, 2.0, 18.75, 2 / 3, 0.0833]),
        st.floats(0.01, 40.0, allow_nan=False),
    )
    spg = data.draw(st.one_of(st.none(), st.lists(spg_choices, min_size=len(videos), max_size=len(videos))))
    pos, delta = rope_index(
        torch.tensor(batch_ids),
        image_grid_thw=grid_tensor(images),
        video_grid_thw=grid_tensor(videos),
        second_per_grid_ts=spg,
        attention_mask=torch.tensor(mask),
    )
    expected, expected_delta = brute_force(batch_ids, mask, images, videos, spg)
    assert pos.tolist() == expected
    assert delta.flatten().tolist() == expected_delta


@functools.cache
def transformers_rope_index() -> object:
    modeling = pytest.importorskip("transformers.models.qwen2_5_vl.modeling_qwen2_5_vl")
    model_cls = modeling.Qwen2_5_VLModel
    # get_rope_index only reads these two config values and calls get_vision_position_ids, which ignores self.
    fake_model = SimpleNamespace(
        config=SimpleNamespace(vision_config=SimpleNamespace(spatial_merge_size=2, tokens_per_second=2)),
        get_vision_position_ids=functools.partial(model_cls.get_vision_position_ids, None),
    )
    return functools.partial(model_cls.get_rope_index, fake_model)


def run_transformers(batch_ids, mask, images, videos, spg):  # type: ignore[no-untyped-def]
    ids = torch.tensor(batch_ids)
    token_types = torch.zeros_like(ids)
    token_types[ids == IMAGE_TOKEN_ID] = 1
    token_types[ids == VIDEO_TOKEN_ID] = 2
    fn = transformers_rope_index()
    return fn(  # type: ignore[operator]
        ids,
        mm_token_type_ids=token_types,
        image_grid_thw=grid_tensor(images),
        video_grid_thw=grid_tensor(videos),
        second_per_grid_ts=None if spg is None else torch.tensor(spg),
        attention_mask=torch.tensor(mask),
    )


def test_transformers_5_24_r4_documented_difference() -> None:
    ids, _, videos = build_ids([("t", 2), ("v", (10, 4, 4)), ("t", 3)])
    their_pos, their_delta = run_transformers([ids], [[1] * len(ids)], [], videos, [2.0])
    ours, our_delta = rope_index(
        torch.tensor([ids]), video_grid_thw=grid_tensor(videos), second_per_grid_ts=[2.0]
    )
    # Same up to the end of the video; 5.24.0 restarts the text at off + max(H/2, W/2) = 3 + 2 (spec 4.3, R4).
    assert torch.equal(their_pos[:, 0, :43], ours[:, 0, :43])
    assert their_pos[0, 0, 43:].tolist() == [5, 6, 7, 8]
    assert ours[0, 0, 43:].tolist() == [40, 41, 42, 43]
    assert their_delta.item() == -7 and our_delta.item() == -3


@settings(max_examples=60, deadline=None)
@given(layouts=layout, data=st.data())
def test_random_layouts_against_transformers_5_24(layouts: list[list[Segment]], data: st.DataObject) -> None:
    pads = data.draw(st.lists(st.integers(0, 3), min_size=len(layouts), max_size=len(layouts)))
    batch_ids, mask, images, videos = batch_from(layouts, pads)
    spg = data.draw(st.lists(st.sampled_from([1.0, 2.0, 3.0]), min_size=len(videos), max_size=len(videos)))
    their_pos, their_delta = run_transformers(batch_ids, mask, images, videos, spg)
    ours, our_delta = rope_index(
        torch.tensor(batch_ids),
        image_grid_thw=grid_tensor(images),
        video_grid_thw=grid_tensor(videos),
        second_per_grid_ts=spg,
        attention_mask=torch.tensor(mask),
    )
    # 5.24.0 is the brute force with its own rule for text after a video, 0-filled padding, unpadded deltas.
    v524, v524_delta = brute_force(
        batch_ids, mask, images, videos, spg, text_after="v5_24", fill=0, delta_length="unpadded"
    )
    assert their_pos.tolist() == v524
    assert their_delta.flatten().tolist() == v524_delta
    # Where no video runs longer in time than its side (t_last <= max(H/2, W/2) - 1), the two rules agree.
    agree = all(
        math.floor((t - 1) * s * 2) <= max(h, w) // 2 - 1 for (t, h, w), s in zip(videos, spg, strict=True)
    )
    keep = torch.tensor(mask).bool()
    if agree:
        assert torch.equal(ours[:, keep], their_pos[:, keep])
        n_pad = (~keep).sum(dim=1, keepdim=True)
        assert torch.equal(our_delta, their_delta - n_pad)
