"""A tiny random Qwen2.5-VL checkpoint for tests and benchmarks: real architecture and files, random weights.

The folder it writes loads through exactly the ``from_pretrained`` path a downloaded Qwen2.5-VL folder does
(``config.json``, ``generation_config.json``, ``model.safetensors``, tokenizer files, ``chat_template``,
``preprocessor_config.json``), so the runner's loading, prompting and position-id code is exercised end to end
without a network or a GPU. Its answers are random text: tests check plumbing, never content.

Shape choices (Qwen2.5-VL-3B in brackets): text hidden 64 [2048], 2 layers [36], 4 heads [16] of head_dim 16
[128], 2 KV heads [2], ``mrope_section`` (2, 3, 3) summing to head_dim/2 = 8 [(16, 24, 24), 64]; vision
depth 2 [32], hidden 32 [1280], full attention in block 1 [7, 15, 23, 31]. Patch 14, temporal patch 2,
merge 2, window 112 and ``tokens_per_second`` 2 are as released: preprocessing and positions depend on them.
"""

from __future__ import annotations

import json
from pathlib import Path

from vidground.model.chat_template import QWEN25VL_CHAT_TEMPLATE

# Qwen's special tokens, in the order the released vocabulary appends them after the BPE pieces.
QWEN_SPECIAL_TOKENS: tuple[str, ...] = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)

# preprocessor_config.json as the Qwen2.5-VL hub repositories carry it.
PREPROCESSOR_CONFIG: dict[str, object] = {
    "min_pixels": 3136,
    "max_pixels": 12845056,
    "patch_size": 14,
    "temporal_patch_size": 2,
    "merge_size": 2,
    "image_mean": [0.48145466, 0.4578275, 0.40821073],
    "image_std": [0.26862954, 0.26130258, 0.27577711],
    "image_processor_type": "Qwen2VLImageProcessor",
    "processor_class": "Qwen2_5_VLProcessor",
}

# Text the BPE is trained on: the words and number shapes grounding prompts and answers use.
_CORPUS: tuple[str, ...] = (
    "You are a helpful assistant.",
    "Give the query: 'a person opens the door', when does the described content occur in the video?",
    "The given query happens in 64.0 - 72.0 seconds.",
    "The given query happens in 3.5 - 12.25 seconds.",
    "Localize a series of activity events in the video, output the start and end timestamp for each event, "
    "and describe each event with sentences.",
    "Provide the result in json format with 'mm:ss.ff' format for time depiction.",
    '{"start_time": "00:23.90", "end_time": "01:35.60", "description": "a man cuts the onions"}',
    "Describe the video. A dog runs across the park, then a woman throws a ball and the dog catches it.",
    "When does the car stop at the red light? From 0:12 to 0:18. The scene changes at 01:02:03.",
    "Answer with the start and end time in seconds, like 10.5 - 20.0.",
    "0 1 2 3 4 5 6 7 8 9 10 20 30 40 50 60 70 80 90 100 - : . , ' \" ( ) [ ] { } ?",
)

_PRETOKENIZE_PATTERN = r"\p{N}|[^\s\p{L}\p{N}]+|\s?\p{L}+|\s+"  # one digit per piece, as Qwen splits numbers

TEXT_HIDDEN_SIZE = 64
VISION_HIDDEN_SIZE = 32
BPE_VOCAB_SIZE = 384


def _build_tokenizer(out_dir: Path) -> dict[str, int]:
    """Train a byte-level BPE on ``_CORPUS``, append Qwen's special tokens and save it; return their ids."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, trainers
    from tokenizers.models import BPE
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(BPE(unk_token=None, fuse_unk=False, byte_fallback=False))
    bpe.normalizer = normalizers.NFC()
    bpe.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_PRETOKENIZE_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=BPE_VOCAB_SIZE, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    bpe.train_from_iterator(list(_CORPUS) * 4, trainer)
    bpe.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in QWEN_SPECIAL_TOKENS])

    wrapped = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>", unk_token=None
    )
    wrapped.chat_template = QWEN25VL_CHAT_TEMPLATE
    wrapped.model_max_length = 131072
    wrapped.save_pretrained(out_dir)

    # Name Qwen's tokenizer class, as the released checkpoints do, so AutoTokenizer takes the same path.
    config_path = out_dir / "tokenizer_config.json"
    tokenizer_config = json.loads(config_path.read_text())
    tokenizer_config["tokenizer_class"] = "Qwen2Tokenizer"
    tokenizer_config["chat_template"] = QWEN25VL_CHAT_TEMPLATE
    config_path.write_text(json.dumps(tokenizer_config, indent=2))

    ids: dict[str, int] = {}
    for token in QWEN_SPECIAL_TOKENS:
        token_id = bpe.token_to_id(token)
        if token_id is None:
            raise RuntimeError(f"special token {token} missing from the tiny tokenizer after adding it")
        ids[token] = token_id
    ids["__vocab_size__"] = bpe.get_vocab_size(with_added_tokens=True)
    return ids


def build_tiny_checkpoint(out_dir: str | Path, *, seed: int = 0) -> Path:
    """Write a random tiny Qwen2.5-VL checkpoint (about 1 MB) into ``out_dir`` and return its path.

    Args:
        out_dir: folder to create or fill; existing files of the same names are overwritten.
        seed: torch seed for the random weights; the same seed gives the same weights.

    Returns:
        ``out_dir`` as a Path, loadable with ``Qwen2_5_VLForConditionalGeneration.from_pretrained`` and
        ``AutoTokenizer.from_pretrained`` under ``HF_HUB_OFFLINE=1``.
    """
    import torch
    from transformers import GenerationConfig, Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    path = Path(out_dir)
    path.mkdir(parents=True, exist_ok=True)
    ids = _build_tokenizer(path)

    head_dim = 16
    config = Qwen2_5_VLConfig(
        text_config={
            "vocab_size": ids["__vocab_size__"],
            "hidden_size": TEXT_HIDDEN_SIZE,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": TEXT_HIDDEN_SIZE // head_dim,
            "num_key_value_heads": 2,
            "hidden_act": "silu",
            "max_position_embeddings": 128000,
            "rms_norm_eps": 1e-6,
            "use_sliding_window": False,
            "sliding_window": 32768,
            "max_window_layers": 2,
            "rope_scaling": {"type": "mrope", "mrope_section": [2, 3, 3], "rope_theta": 1000000.0},
            "rope_theta": 1000000.0,
            "bos_token_id": ids["<|endoftext|>"],
            "eos_token_id": ids["<|im_end|>"],
            "pad_token_id": ids["<|endoftext|>"],
            # Wider than the released 0.02: greedy picks on random weights then have clear winners.
            "initializer_range": 0.2,
        },
        vision_config={
            "depth": 2,
            "hidden_size": VISION_HIDDEN_SIZE,
            "intermediate_size": 64,
            "num_heads": 2,
            "hidden_act": "silu",
            "in_channels": 3,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "tokens_per_second": 2,
            "window_size": 112,
            "out_hidden_size": TEXT_HIDDEN_SIZE,
            "fullatt_block_indexes": [1],
        },
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=True,
    )
    config.bos_token_id = ids["<|endoftext|>"]
    config.eos_token_id = ids["<|im_end|>"]
    config.pad_token_id = ids["<|endoftext|>"]

    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config).eval()  # type: ignore[no-untyped-call]
    model.generation_config = GenerationConfig(  # type: ignore[no-untyped-call]
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=[ids["<|im_end|>"], ids["<|endoftext|>"]],
        pad_token_id=ids["<|endoftext|>"],
        do_sample=False,
    )
    model.save_pretrained(path, safe_serialization=True)

    (path / "preprocessor_config.json").write_text(json.dumps(PREPROCESSOR_CONFIG, indent=2))
    (path / "chat_template.json").write_text(json.dumps({"chat_template": QWEN25VL_CHAT_TEMPLATE}, indent=2))
    return path
