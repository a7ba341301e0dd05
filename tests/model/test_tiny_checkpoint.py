"""The tiny checkpoint has Qwen2.5-VL's layout, ids and chat format, and loads like real weights, offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from vidground.model.tiny import PREPROCESSOR_CONFIG, QWEN_SPECIAL_TOKENS, build_tiny_checkpoint


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


def test_folder_has_the_files_of_a_hub_checkpoint_and_is_small(tiny_model_dir: Path) -> None:
    names = {p.name for p in tiny_model_dir.iterdir()}
    expected = {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json"}
    expected |= {"tokenizer_config.json", "preprocessor_config.json", "chat_template.json"}
    assert expected <= names
    size = sum(p.stat().st_size for p in tiny_model_dir.iterdir())
    assert 100_000 < size < 3_000_000


def test_config_shapes_and_token_ids_match_the_tokenizer(tiny_model_dir: Path) -> None:
    from transformers import AutoConfig, AutoTokenizer

    config = AutoConfig.from_pretrained(tiny_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    text, vision = config.text_config, config.vision_config
    assert config.model_type == "qwen2_5_vl"
    assert (text.hidden_size, text.num_hidden_layers, vision.depth) == (64, 2, 2)
    head_dim = text.hidden_size // text.num_attention_heads
    assert sum(text.rope_parameters["mrope_section"]) == head_dim // 2
    assert vision.tokens_per_second == 2
    assert all(0 <= i < vision.depth for i in vision.fullatt_block_indexes)
    assert vision.out_hidden_size == text.hidden_size
    assert (vision.patch_size, vision.temporal_patch_size, vision.spatial_merge_size) == (14, 2, 2)

    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in QWEN_SPECIAL_TOKENS}
    assert len(set(ids.values())) == len(QWEN_SPECIAL_TOKENS)
    assert config.video_token_id == ids["<|video_pad|>"]
    assert config.image_token_id == ids["<|image_pad|>"]
    assert config.vision_start_token_id == ids["<|vision_start|>"]
    assert config.vision_end_token_id == ids["<|vision_end|>"]
    assert text.eos_token_id == ids["<|im_end|>"] == tokenizer.eos_token_id
    assert text.bos_token_id == ids["<|endoftext|>"] == tokenizer.pad_token_id
    assert text.vocab_size == len(tokenizer)
    generation = json.loads((tiny_model_dir / "generation_config.json").read_text())
    assert set(generation["eos_token_id"]) == {ids["<|im_end|>"], ids["<|endoftext|>"]}


def test_special_tokens_stay_whole_and_text_round_trips(tiny_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    text = "<|vision_start|><|video_pad|><|video_pad|><|vision_end|>The query happens in 12.5 - 20.0 seconds."
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    pad = tokenizer.convert_tokens_to_ids("<|video_pad|>")
    start, end = (tokenizer.convert_tokens_to_ids(t) for t in ("<|vision_start|>", "<|vision_end|>"))
    assert ids[:4] == [start, pad, pad, end]
    assert tokenizer.decode(ids) == text
    # Qwen splits numbers into single digits.
    assert tokenizer.tokenize("2024") == ["2", "0", "2", "4"]


def test_chat_template_renders_qwen25vl_format(tiny_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    messages = [{"role": "user", "content": [{"type": "video", "video": "x.mp4"}, {"type": "text", "text": "When?"}]}]
    rendered = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert rendered == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\n<|vision_start|><|video_pad|><|vision_end|>When?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    with_system = [{"role": "system", "content": "Be brief."}, *messages]
    rendered = tokenizer.apply_chat_template(with_system, tokenize=False, add_generation_prompt=False)
    assert rendered.startswith("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n")
    assert "You are a helpful assistant." not in rendered
    assert rendered.endswith("When?<|im_end|>\n")


def test_preprocessor_config_is_the_hubs(tiny_model_dir: Path) -> None:
    written = json.loads((tiny_model_dir / "preprocessor_config.json").read_text())
    assert written == PREPROCESSOR_CONFIG
    assert (written["patch_size"], written["temporal_patch_size"], written["merge_size"]) == (14, 2, 2)
    assert written["image_mean"][0] == pytest.approx(0.48145466)


def test_loads_with_from_pretrained_offline_and_runs_a_video_forward(tiny_model_dir: Path) -> None:
    from transformers import Qwen2_5_VLForConditionalGeneration

    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(tiny_model_dir, local_files_only=True).eval()
    config = model.config
    grid = torch.tensor([[2, 4, 4]])  # 4 frames of 56x56 -> 2*4*4/4 = 8 LLM tokens
    n_tokens = 8
    ids = [config.vision_start_token_id] + [config.video_token_id] * n_tokens + [config.vision_end_token_id, 5, 6]
    input_ids = torch.tensor([ids])
    types = (input_ids == config.video_token_id).long() * 2
    pixels = torch.randn(2 * 4 * 4, 3 * 2 * 14 * 14)
    with torch.no_grad():
        out = model(input_ids=input_ids, pixel_values_videos=pixels, video_grid_thw=grid, mm_token_type_ids=types)
    assert out.logits.shape == (1, len(ids), config.text_config.vocab_size)
    assert torch.isfinite(out.logits).all()


def test_same_seed_same_weights_other_seed_other_weights(tiny_model_dir: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    reference = load_file(tiny_model_dir / "model.safetensors")
    again = load_file(build_tiny_checkpoint(tmp_path / "again", seed=0) / "model.safetensors")
    other = load_file(build_tiny_checkpoint(tmp_path / "other", seed=1) / "model.safetensors")
    assert reference.keys() == again.keys() == other.keys()
    assert all(torch.equal(reference[k], again[k]) for k in reference)
    assert not all(torch.equal(reference[k], other[k]) for k in reference)


def test_script_writes_a_checkpoint(tmp_path: Path) -> None:
    import runpy
    import sys

    script = Path(__file__).resolve().parents[2] / "scripts" / "make_tiny_model.py"
    argv = sys.argv
    sys.argv = [str(script), str(tmp_path / "out")]
    try:
        with pytest.raises(SystemExit) as exit_info:
            runpy.run_path(str(script), run_name="__main__")
    finally:
        sys.argv = argv
    assert exit_info.value.code == 0
    assert (tmp_path / "out" / "model.safetensors").is_file()
    assert (tmp_path / "out" / "tokenizer.json").is_file()
