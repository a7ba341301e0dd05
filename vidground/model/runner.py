"""The real Qwen2.5-VL runner: load once, encode a video once, answer many prompts about it.

Three things here are ours rather than transformers' (spec 11.1–11.2):

* **Preprocessing** — :func:`vidground.model.preprocess.preprocess_frames` turns the frames into patches.
* **Position ids** — :func:`vidground.model.mrope.rope_index` computes the 3-D MRoPE ids with
  ``second_per_grid_ts = plan.second_per_grid``. The runner drives the language model itself (prefill, then
  one token per step) and passes those ids explicitly at every step, so no version of ``get_rope_index`` /
  ``prepare_inputs_for_generation`` (with its known fps and text-after-video bugs, spec 9) is ever consulted.
  Decoding step at cache position ``c`` uses ``c + rope_delta`` on all three axes.
* **The prompt** — rendered with the checkpoint's own chat template (system turn, then a user turn holding the
  video block and the query), with the one ``<|video_pad|>`` expanded to ``plan.num_tokens`` pads.

Sharing: ``encode_video`` runs the vision tower once and prefills everything before the query text (system
turn + video block) once, keeping that KV cache. ``generate`` copies the cache once per batch of prompts
(``batch_size``, repeated per row), prefills only the prompts' own tokens (right-aligned, gaps masked) and
decodes the batch greedily, giving the same tokens as prefilling each whole prompt afresh. Measured with the
tiny model on a 2-minute video (``benchmarks/multi_query.py``, 2 busy CPU cores): 8 queries batched cost
1.2-1.5x one query, one prompt at a time 2.5-2.9x, 8 independent calls 5-10x.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from vidground.errors import ConfigError, InternalError, ModelNotAvailable, SamplingError
from vidground.model.base import EncodedVideo, Generation, ModelInfo, ProgressFn
from vidground.model.chat_template import QWEN25VL_CHAT_TEMPLATE
from vidground.options import DEFAULT_MODEL_ID, check_device
from vidground.timeline import FramePlan

logger = logging.getLogger(__name__)

_HOW_TO_POINT = (
    "point at a local checkpoint with --model /path/to/Qwen2.5-VL-3B-Instruct "
    "or VIDGROUND_MODEL_ID=/path/to/Qwen2.5-VL-3B-Instruct"
)
_WEIGHT_PATTERNS = ["*.json", "*.safetensors", "*.jinja", "*.txt", "*.model"]
_TRUE_VALUES = {"1", "on", "yes", "true"}


@dataclass(frozen=True)
class _PromptParts:
    """A rendered prompt split at the end of the video block: ``prefix`` is shared by every query."""

    prefix_ids: list[int]  # system turn + user turn up to and including <|vision_end|>, pads expanded
    suffix_ids: list[int]  # the query text + end of turn + assistant header


@dataclass
class _Prefill:
    """The shared prefix of one system prompt, run through the language model once."""

    prefix_ids: list[int]
    cache: Any  # transformers DynamicCache after the prefix; copied, never extended in place


@dataclass
class _VideoState:
    """What ``encode_video`` keeps: vision features and, per system prompt, the prefilled prefix."""

    video_embeds: torch.Tensor  # (num_tokens, hidden) in the model's dtype and device
    video_grid_thw: torch.Tensor  # (1, 3) int64
    second_per_grid: float
    prefills: dict[str | None, _Prefill] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True)
class _Loaded:
    """A model and tokenizer in memory, with the facts the runner reads from their configs."""

    model: Any  # Qwen2_5_VLForConditionalGeneration
    tokenizer: Any
    model_dir: Path
    revision: str
    device: torch.device
    dtype: torch.dtype
    attn_implementation: str
    video_token_id: int
    image_token_id: int
    vision_start_token_id: int
    spatial_merge_size: int
    tokens_per_second: float
    stop_ids: frozenset[int]
    chat_template: str | None
    cache_kwarg: str  # "cache" in transformers ≥ 5.2x, "past_key_values" before


# One model per process and key: a second runner for the same checkpoint shares the weights.
_LOADED: dict[tuple[str, str | None, str, str], _Loaded] = {}
_LOADED_LOCK = threading.Lock()


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE_VALUES


def _hub_cache_dir() -> Path:
    """The Hugging Face hub cache folder as huggingface_hub would resolve it now (env read at call time)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def _hub_offline() -> bool:
    from huggingface_hub import constants

    return _env_flag("HF_HUB_OFFLINE") or _env_flag("TRANSFORMERS_OFFLINE") or bool(constants.HF_HUB_OFFLINE)


def _looks_like_path(model_id: str) -> bool:
    """A local folder (existing, or written like a path) rather than a hub id ``org/name``."""
    return (
        Path(model_id).expanduser().exists()
        or model_id.startswith(("/", "./", "../", "~", "\\"))
        or model_id.count("/") > 1
        or (len(model_id) > 1 and model_id[1] == ":")
    )


def _missing_files(folder: Path) -> list[str]:
    """Names of the files a loadable checkpoint lacks (config, weights including every shard, tokenizer)."""
    import json

    missing: list[str] = []
    if not (folder / "config.json").is_file():
        missing.append("config.json")
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        except (ValueError, KeyError):
            missing.append("a readable model.safetensors.index.json")
            shards = []
        missing.extend(s for s in shards if not (folder / s).is_file())
    elif not (folder / "model.safetensors").is_file():
        missing.append("model.safetensors (or model.safetensors.index.json with its shards)")
    has_tokenizer = (folder / "tokenizer.json").is_file() or (
        (folder / "vocab.json").is_file() and (folder / "merges.txt").is_file()
    )
    if not has_tokenizer:
        missing.append("tokenizer.json")
    return missing


def _weight_files(folder: Path) -> list[Path]:
    """The safetensors files of a checkpoint folder: every shard its index names, else ``model.safetensors``."""
    import json

    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        except (ValueError, KeyError, TypeError, AttributeError):
            return []  # verify_checkpoint reports the index itself
        return [folder / shard for shard in shards]
    return [folder / "model.safetensors"]


# safetensors refuses headers above 100 MB; a larger length in the first 8 bytes means the file is not one.
_MAX_SAFETENSORS_HEADER_BYTES = 100_000_000


def _safetensors_problem(path: Path) -> str | None:
    """What is wrong with a safetensors file, from its header and size alone (no tensor is read); None if fine.

    Layout: 8 bytes little-endian header length N, N bytes of JSON giving each tensor's ``data_offsets``
    ``[begin, end)`` into the data that follows, which must end exactly at the end of the file. E.g. a header
    of N = 96 whose largest end is 4,096 means a file of 8 + 96 + 4,096 = 4,200 bytes; a download cut at
    2,100 bytes is found here instead of inside transformers as "SafetensorError: incomplete metadata".
    """
    import json

    size = path.stat().st_size
    with path.open("rb") as file:
        head = file.read(8)
        if len(head) < 8:
            return f"{size} bytes, too short for a safetensors header"
        n_header = int.from_bytes(head, "little")
        if n_header > min(size - 8, _MAX_SAFETENSORS_HEADER_BYTES):
            return f"{size:,} bytes, but its first 8 bytes announce a {n_header:,}-byte header"
        try:
            header = json.loads(file.read(n_header))
        except ValueError:
            return "its header is not valid JSON"
    try:
        data_end = max(
            (int(entry["data_offsets"][1]) for name, entry in header.items() if name != "__metadata__"), default=0
        )
    except (AttributeError, TypeError, KeyError, IndexError, ValueError):
        return "its header does not list tensor offsets"
    expected = 8 + n_header + data_end
    if size < expected:
        return f"{size:,} of the {expected:,} bytes its header lists"
    if size > expected:
        return f"{size:,} bytes, {size - expected:,} more than its header lists"
    return None


def _json_problem(path: Path) -> str | None:
    """Why a JSON file of a checkpoint does not parse; None if it does."""
    import json

    try:
        json.loads(path.read_bytes())
    except json.JSONDecodeError as exc:
        return f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    except ValueError:  # bytes that are not UTF-8/16/32 text
        return "not valid JSON: not text"
    return None


def verify_checkpoint(folder: Path) -> None:
    """Check that a checkpoint folder's files are whole, reading only JSON files and safetensors headers.

    Catches what a half-finished download or copy leaves: a truncated or garbage ``model.safetensors`` (or
    shard), a ``config.json`` or tokenizer file that is not JSON. Cheap (kilobytes read per weight file), so
    ``vidground doctor`` and every load run it.

    Raises:
        ModelNotAvailable: names the file, says it is incomplete or corrupt and to delete it and download again.
    """
    checks = [(path, _json_problem) for path in sorted(folder.glob("*.json"))]
    checks += [(path, _safetensors_problem) for path in _weight_files(folder) if path.is_file()]
    for path, problem_of in checks:
        try:
            problem = problem_of(path)
        except OSError as exc:
            problem = f"cannot be read: {exc.strerror or type(exc).__name__}"
        if problem is None:
            continue
        target = path.resolve()
        fix = "delete it"
        if target != path:  # a hub cache snapshot links to a blob; re-downloading keeps a corrupt blob
            fix = f"delete it and the file it links to, {target}"
        raise ModelNotAvailable(
            f"checkpoint file {path} is incomplete or corrupt ({problem}); {fix} and download the checkpoint again"
        )


def resolve_checkpoint(
    model_id: str, revision: str | None = None, *, download: bool = True, verify: bool = True
) -> tuple[Path, str]:
    """Find the folder holding a Qwen2.5-VL checkpoint, without loading it.

    Args:
        model_id: a local folder, or a hub id such as ``Qwen/Qwen2.5-VL-3B-Instruct`` (looked up in the
            Hugging Face cache, downloaded when missing unless ``HF_HUB_OFFLINE=1`` or ``download`` is False).
        revision: hub branch, tag or commit; ignored for a local folder.
        download: allow fetching a hub checkpoint that is not cached yet.
        verify: also check that the files are whole (:func:`verify_checkpoint`), not just present.

    Returns:
        ``(folder, resolved_revision)``: the commit hash when the folder is a hub cache snapshot, else
        ``"local:<absolute path>"``.

    Raises:
        ModelNotAvailable: the folder does not exist, is a file or is incomplete, or the hub id is neither cached
            nor downloadable (the message says where it looked and how to point at a local checkpoint); or, with
            ``verify``, a file is truncated or corrupt (the message names it).
    """
    if _looks_like_path(model_id):
        folder = Path(model_id).expanduser().resolve()
        if folder.is_file():
            raise ModelNotAvailable(
                f"model path {folder} is a file; expected a checkpoint folder (config.json, weights, tokenizer); "
                f"{_HOW_TO_POINT}"
            )
        if not folder.is_dir():
            raise ModelNotAvailable(f"model folder {folder} does not exist; {_HOW_TO_POINT}")
        where = f"model folder {folder}"
    else:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import HFValidationError, RevisionResolutionError

        cache_dir = _hub_cache_dir()
        offline = _hub_offline()
        cache_only = offline or not download
        try:
            folder = Path(
                str(
                    snapshot_download(
                        model_id,
                        revision=revision,
                        cache_dir=cache_dir,
                        local_files_only=cache_only,
                        allow_patterns=_WEIGHT_PATTERNS,
                    )
                )
            )
        except (OSError, HFValidationError, RevisionResolutionError) as exc:
            if not download:
                mode = "this check downloads nothing"
            elif offline:
                mode = "HF_HUB_OFFLINE=1, so nothing was downloaded"
            else:
                mode = "the download failed"
            if download and not offline:  # only a failed download has a reason worth showing
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                mode = f"{mode} ({reason})"
            raise ModelNotAvailable(
                f"model {model_id!r} (revision {revision or 'main'}) is not in the Hugging Face cache "
                f"{cache_dir} and {mode}; {_HOW_TO_POINT}"
            ) from None
        where = f"hub model {model_id!r} at {folder}"

    missing = _missing_files(folder)
    if missing:
        raise ModelNotAvailable(f"{where} is incomplete: missing {', '.join(missing)}; {_HOW_TO_POINT}")
    if verify:
        verify_checkpoint(folder)
    if folder.parent.name == "snapshots":
        return folder, folder.name
    return folder, f"local:{folder}"


def _check_device_name(device: str) -> None:
    """Refuse a device name vidground does not know, without asking CUDA anything."""
    try:
        check_device(device)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def pick_device(device: str) -> torch.device:
    """The torch device for ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.

    The runner asks CUDA only here: when it loads (``auto``), or to check a CUDA device asked for.

    Raises:
        ConfigError: an unknown name, or a CUDA device this machine does not have.
    """
    _check_device_name(device)
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    chosen = torch.device(device)
    if chosen.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if (chosen.index or 0) >= count:
            raise ConfigError(
                f"device {device!r}: torch {torch.__version__} sees {count} CUDA device(s) here; "
                "use --device cpu or auto"
            )
    return chosen


def _pick_dtype(dtype: torch.dtype | str | None, device: torch.device | None) -> torch.dtype:
    """The requested dtype, or the default for ``device``: bfloat16 on CUDA, float32 elsewhere.

    Raises:
        ConfigError: ``dtype`` names no torch dtype.
    """
    if dtype is None:
        return torch.bfloat16 if device is not None and device.type == "cuda" else torch.float32
    if isinstance(dtype, str):
        resolved = getattr(torch, dtype.removeprefix("torch."), None)
        if not isinstance(resolved, torch.dtype):
            raise ConfigError(f"dtype {dtype!r} is not a torch dtype; expected e.g. bfloat16 or float32")
        return resolved
    return dtype


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _pick_attention(device: torch.device, dtype: torch.dtype) -> str:
    if device.type == "cuda" and dtype in (torch.bfloat16, torch.float16):  # flash-attention has no fp32 kernels
        import importlib.util

        if importlib.util.find_spec("flash_attn") is not None:
            return "flash_attention_2"
    return "sdpa"


def _load(model_id: str, revision: str | None, device: torch.device, dtype: torch.dtype) -> _Loaded:
    """Resolve, load and describe one checkpoint (the expensive part, done once per process and key)."""
    import inspect

    folder, resolved_revision = resolve_checkpoint(model_id, revision)

    from safetensors import SafetensorError
    from transformers import AutoTokenizer, Qwen2_5_VLForConditionalGeneration
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # the CLI draws its own progress bars
    attn = _pick_attention(device, dtype)
    started = time.perf_counter()
    try:
        model = Qwen2_5_VLForConditionalGeneration.from_pretrained(
            folder, dtype=dtype, attn_implementation=attn, local_files_only=True
        )
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    except SafetensorError as exc:  # what verify_checkpoint cannot see from headers, e.g. a bad dtype name
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelNotAvailable(
            f"a weights file in {folder} is incomplete or corrupt ({reason}); delete the folder's *.safetensors "
            "and download the checkpoint again"
        ) from None
    except (OSError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelNotAvailable(f"model folder {folder} could not be loaded ({reason}); {_HOW_TO_POINT}") from None
    model = model.to(device).eval()  # type: ignore[arg-type]

    config = model.config
    stop_ids: set[int] = set()
    for source in (
        getattr(model.generation_config, "eos_token_id", None),
        config.eos_token_id,
        tokenizer.eos_token_id,
    ):
        if isinstance(source, int):
            stop_ids.add(source)
        elif isinstance(source, list | tuple):
            stop_ids.update(int(i) for i in source)
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    if isinstance(im_end, int) and im_end >= 0:
        stop_ids.add(im_end)

    params = inspect.signature(model.model.language_model.forward).parameters
    cache_kwarg = "cache" if "cache" in params else "past_key_values"
    vision = config.vision_config
    logger.info(
        "model loaded model_id=%s path=%s revision=%s device=%s dtype=%s attn=%s seconds=%.1f",
        model_id, folder, resolved_revision, device, dtype, attn, time.perf_counter() - started,
    )  # fmt: skip
    return _Loaded(
        model=model,
        tokenizer=tokenizer,
        model_dir=folder,
        revision=resolved_revision,
        device=device,
        dtype=dtype,
        attn_implementation=attn,
        video_token_id=int(config.video_token_id),
        image_token_id=int(config.image_token_id),
        vision_start_token_id=int(config.vision_start_token_id),
        spatial_merge_size=int(vision.spatial_merge_size),
        tokens_per_second=float(vision.tokens_per_second),
        stop_ids=frozenset(stop_ids),
        chat_template=getattr(tokenizer, "chat_template", None),
        cache_kwarg=cache_kwarg,
    )


def _token_texts(tokenizer: Any, token_ids: list[int]) -> tuple[str, ...]:
    """Each generated token's share of the answer text, so that the shares concatenate to exactly that text.

    Scores locate a time's digits by character offsets in the text (``span_scores``), so the shares must line
    up. Decoding tokens one by one does not: a character split over byte-level tokens decodes to one U+FFFD
    per token. Here the token that completes such a character carries it and the ones before carry "";
    special tokens carry "" (the text skips them). Example: "It’s" in a vocabulary without "’" is the tokens
    I, t, 0xE2, 0x80, 0x99, s -> shares "I", "t", "", "", "’", "s" (one by one: "I", "t", "�", "�", "�", "s").
    """
    shares: list[str] = []
    start = 0  # first token whose text is not yet in shares
    for end in range(1, len(token_ids) + 1):
        piece = str(tokenizer.decode(token_ids[start:end], skip_special_tokens=True))
        if piece.endswith("\ufffd") and end < len(token_ids):
            shares.append("")  # an unfinished character: the token that completes it carries it
            continue
        shares.append(piece)
        start = end
    return tuple(shares)


class QwenRunner:
    """Qwen2.5-VL via transformers, with vidground's preprocessing and position ids (implements VideoRunner).

    Args:
        model_id: hub id (``Qwen/Qwen2.5-VL-3B-Instruct``) or a local checkpoint folder.
        revision: hub branch, tag or commit; None for the default branch.
        device: ``auto`` (CUDA when available), ``cpu``, ``cuda`` or ``cuda:N``.
        dtype: torch dtype or its name; None picks bfloat16 on CUDA and float32 on CPU.

    Nothing is loaded until first use (``load``, ``encode_video``, ``generate``); loading happens once per process
    for the same checkpoint, under a lock. Missing weights raise :class:`ModelNotAvailable` then. Constructing a
    runner and reading ``info`` load nothing and never touch CUDA, so a worker may do both before it forks.

    Raises:
        ConfigError: ``device`` is not one of those names, or ``dtype`` names no torch dtype.
    """

    def __init__(
        self,
        model_id: str = DEFAULT_MODEL_ID,
        *,
        revision: str | None = None,
        device: str = "auto",
        dtype: torch.dtype | str | None = None,
    ) -> None:
        _check_device_name(device)
        self.model_id = model_id
        self.revision = revision
        self._device_request = device
        self._dtype_request = _pick_dtype(dtype, None) if dtype is not None else None
        self._loaded: _Loaded | None = None
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- loading

    def load(self) -> None:
        """Load the checkpoint now (idempotent). Raises ModelNotAvailable where weights cannot be found."""
        self._model()

    def _model(self) -> _Loaded:
        if self._loaded is not None:
            return self._loaded
        with self._lock:
            if self._loaded is None:
                device = pick_device(self._device_request)
                dtype = _pick_dtype(self._dtype_request, device)
                key = (self.model_id, self.revision, str(device), str(dtype))
                with _LOADED_LOCK:
                    if key not in _LOADED:
                        _LOADED[key] = _load(self.model_id, self.revision, device, dtype)
                    self._loaded = _LOADED[key]
        return self._loaded

    @property
    def info(self) -> ModelInfo:
        """Provenance, without loading anything: what was resolved once loaded, else what was asked for.

        Loaded: the resolved revision (commit hash, or ``local:<path>``), device, dtype, attention and the
        config's tokens_per_second. Not yet: the requested revision and device; dtype and attention where they
        follow from the request alone (``cpu`` -> float32, sdpa; ``cuda`` -> bfloat16 unless asked otherwise),
        None for ``auto``, whose answer needs a CUDA query that only loading may make.
        """
        loaded = self._loaded
        if loaded is not None:
            return ModelInfo(
                model_id=self.model_id,
                revision=loaded.revision,
                device=str(loaded.device),
                dtype=_dtype_name(loaded.dtype),
                tokens_per_second=loaded.tokens_per_second,
                attn_implementation=loaded.attn_implementation,
                loaded=True,
            )
        device: torch.device | None = None
        if self._device_request != "auto":
            device = torch.device(self._device_request)  # parses the name; asks CUDA nothing
        dtype = self._dtype_request
        if dtype is None and device is not None:
            dtype = _pick_dtype(None, device)
        return ModelInfo(
            model_id=self.model_id,
            revision=self.revision,
            device=self._device_request,
            dtype=None if dtype is None else _dtype_name(dtype),
            tokens_per_second=None,
            attn_implementation=None if device is None or dtype is None else _pick_attention(device, dtype),
            loaded=False,
        )

    # ---------------------------------------------------------------- prompt

    def _render(self, loaded: _Loaded, query: str, system_prompt: str | None) -> str:
        messages: list[dict[str, Any]] = []
        if system_prompt is not None:
            messages.append({"role": "system", "content": system_prompt})
        messages.append({"role": "user", "content": [{"type": "video"}, {"type": "text", "text": query}]})
        template = loaded.chat_template
        if template is None:
            template = QWEN25VL_CHAT_TEMPLATE
        text = loaded.tokenizer.apply_chat_template(
            messages, chat_template=template, tokenize=False, add_generation_prompt=True
        )
        return str(text)

    def _prompt_parts(self, loaded: _Loaded, query: str, system_prompt: str | None, num_tokens: int) -> _PromptParts:
        """Render the chat prompt and tokenize it, split after the video block and with the pads expanded.

        The template emits one ``<|video_pad|>``; the model needs ``num_tokens`` of them, e.g. for grid
        (4, 4, 6) num_tokens = 4*4*6/4 = 24, so ``…<|vision_start|><|video_pad|>×24<|vision_end|>`` + query.
        """
        text = self._render(loaded, query, system_prompt)
        marker = "<|vision_end|>"
        cut = text.find(marker)
        if cut < 0 or text[:cut].count("<|video_pad|>") != 1:
            raise ModelNotAvailable(
                f"the chat template of {loaded.model_dir} does not render one <|vision_start|><|video_pad|>"
                f"<|vision_end|> block for a video; expected Qwen2.5-VL's template"
            )
        cut += len(marker)
        tokenizer = loaded.tokenizer
        prefix = list(tokenizer(text[:cut], add_special_tokens=False)["input_ids"])
        rest = text[cut:]
        suffix: list[int] = []
        if query and rest.startswith(query):
            # The query is user text: "<|im_end|>" typed in it stays characters, never a control token.
            suffix = list(tokenizer(query, add_special_tokens=False, split_special_tokens=True)["input_ids"])
            rest = rest[len(query) :]
        suffix += list(tokenizer(rest, add_special_tokens=False)["input_ids"])
        pad_at = prefix.index(loaded.video_token_id)
        prefix[pad_at : pad_at + 1] = [loaded.video_token_id] * num_tokens
        return _PromptParts(prefix_ids=prefix, suffix_ids=suffix)

    # ---------------------------------------------------------------- model steps

    def _positions(self, loaded: _Loaded, ids: list[int], state: _VideoState) -> tuple[torch.Tensor, int]:
        """vidground's MRoPE ids for one prompt: ((3, 1, S) int64 on the model's device, rope_delta)."""
        from vidground.model.mrope import rope_index

        try:
            position_ids, rope_deltas = rope_index(
                torch.tensor([ids], dtype=torch.long),
                video_grid_thw=state.video_grid_thw.cpu(),
                second_per_grid_ts=torch.tensor([state.second_per_grid], dtype=torch.float64),
                spatial_merge_size=loaded.spatial_merge_size,
                tokens_per_second=loaded.tokens_per_second,
                image_token_id=loaded.image_token_id,
                video_token_id=loaded.video_token_id,
                vision_start_token_id=loaded.vision_start_token_id,
            )
        except SamplingError as exc:  # the runner built these ids and grids itself: only a bug gets here
            raise InternalError(f"position ids for a {len(ids)}-token prompt: {exc}") from exc
        return position_ids.to(loaded.device), int(rope_deltas.reshape(-1)[0])

    def _embed(self, loaded: _Loaded, input_ids: torch.Tensor, state: _VideoState) -> torch.Tensor:
        """Token embeddings (B, S, hidden) of int64 ``input_ids`` (B, S), video features in the pad rows."""
        input_ids = input_ids.to(loaded.device)
        embeds: torch.Tensor = loaded.model.get_input_embeddings()(input_ids)
        is_video = input_ids == loaded.video_token_id  # (B, S)
        if bool(is_video.any()):
            n_features = state.video_embeds.shape[0]
            per_row = is_video.sum(dim=1)
            if input_ids.shape[0] != 1 or int(per_row[0]) != n_features:
                raise InternalError(
                    f"prompt holds {per_row.tolist()} <|video_pad|> tokens per row but the video encodes to "
                    f"{n_features} features for one row"
                )
            embeds[is_video] = state.video_embeds.to(embeds.dtype)
        return embeds

    def _forward(
        self,
        loaded: _Loaded,
        embeds: torch.Tensor,
        position_ids: torch.Tensor,
        cache: Any,
        attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Run the language model on new tokens (B, S, hidden), extending ``cache``.

        ``position_ids`` is (3, B, S); ``attention_mask`` (B, cached + S) marks padding with 0 (None: none).
        Returns the float32 logits of each row's last position, (B, vocab).
        """
        kwargs = {loaded.cache_kwarg: cache}
        out = loaded.model.model.language_model(
            inputs_embeds=embeds,
            position_ids=position_ids,
            attention_mask=attention_mask,
            use_cache=True,
            **kwargs,
        )
        logits: torch.Tensor = loaded.model.lm_head(out.last_hidden_state[:, -1, :])
        return logits.float()

    def _new_cache(self, loaded: _Loaded) -> Any:
        from transformers import DynamicCache

        return DynamicCache(config=loaded.model.config.get_text_config())

    def _prefill(self, loaded: _Loaded, state: _VideoState, system_prompt: str | None, num_tokens: int) -> _Prefill:
        """The shared prefix of ``system_prompt`` through the language model, once per encoded video."""
        with state.lock:
            found = state.prefills.get(system_prompt)
            if found is not None:
                return found
            parts = self._prompt_parts(loaded, "", system_prompt, num_tokens)
            position_ids, _ = self._positions(loaded, parts.prefix_ids, state)
            cache = self._new_cache(loaded)
            with torch.no_grad():
                embeds = self._embed(loaded, torch.tensor([parts.prefix_ids]), state)
                self._forward(loaded, embeds, position_ids, cache)
            prefill = _Prefill(prefix_ids=parts.prefix_ids, cache=cache)
            state.prefills[system_prompt] = prefill
            return prefill

    def _decode(
        self,
        loaded: _Loaded,
        logits: torch.Tensor,
        cache: Any,
        attention_mask: torch.Tensor | None,
        prompt_lens: list[int],
        rope_deltas: list[int],
        max_new_tokens: int,
        min_new_tokens: int,
    ) -> list[tuple[list[int], list[float]]]:
        """Greedy decoding of B rows from their prompts' last logits (B, vocab); per row: token ids, logprobs.

        Step ``s`` of a row whose real prompt has ``L`` tokens sits at cache position ``L + s`` and gets MRoPE
        id ``L + s + rope_delta`` on all three axes, e.g. a 33-token prompt with rope_delta -17 (spec 4.4):
        the first new token gets 33 - 17 = 16, the next 17. Padding in a batch shifts the cache, not the ids.
        """
        n_rows = logits.shape[0]
        results: list[tuple[list[int], list[float]]] = [([], []) for _ in range(n_rows)]
        finished = [False] * n_rows
        stop = sorted(loaded.stop_ids)
        first_position = torch.tensor(
            [length + delta for length, delta in zip(prompt_lens, rope_deltas, strict=True)],
            device=loaded.device,
        )
        for step in range(max_new_tokens):
            log_probs = torch.log_softmax(logits, dim=-1)
            if step < min_new_tokens and stop:
                logits = logits.clone()
                logits[:, stop] = -math.inf
            chosen = torch.argmax(logits, dim=-1)  # (B,)
            chosen_logprobs = log_probs.gather(1, chosen[:, None])[:, 0].tolist()  # one device sync per step
            for row, token in enumerate(chosen.tolist()):
                if finished[row]:
                    continue
                if token in loaded.stop_ids:
                    finished[row] = True
                    continue
                results[row][0].append(token)
                results[row][1].append(chosen_logprobs[row])
            if all(finished) or step + 1 == max_new_tokens:
                break
            position_ids = (first_position + step).view(1, n_rows, 1).expand(3, n_rows, 1)
            embeds = loaded.model.get_input_embeddings()(chosen.view(n_rows, 1))
            if attention_mask is not None:
                attention_mask = torch.cat([attention_mask, attention_mask.new_ones(n_rows, 1)], dim=1)
            logits = self._forward(loaded, embeds, position_ids, cache, attention_mask)
        return results

    def _generation(self, loaded: _Loaded, token_ids: list[int], logprobs: list[float], n_prompt: int) -> Generation:
        tokenizer = loaded.tokenizer
        text = str(tokenizer.decode(token_ids, skip_special_tokens=True))
        tokens = _token_texts(tokenizer, token_ids)
        if "".join(tokens) != text:  # a decoder that rewrites text across tokens: keep each token's own decode
            tokens = tuple(str(tokenizer.decode([t])) for t in token_ids)
        return Generation(text=text, tokens=tokens, token_logprobs=tuple(logprobs), n_prompt_tokens=n_prompt)

    def _answer_batch_shared(
        self,
        loaded: _Loaded,
        state: _VideoState,
        prefill: _Prefill,
        prompts: list[_PromptParts],
        max_new_tokens: int,
        min_new_tokens: int,
    ) -> list[tuple[list[int], list[float]]]:
        """Answer B prompts that share ``prefill``'s prefix in one batch, from a copy of its cache.

        The suffixes are right-aligned after the prefix so every row's last prompt token is in the last
        column; the gap is masked out. E.g. prefix P = 40 tokens, suffixes of 7 and 9 tokens: the batch is
        (2, 9) new tokens, row 0 = [pad, pad, s0..s6] with mask [1]*40 + [0, 0] + [1]*7.
        """
        n_rows = len(prompts)
        n_prefix = len(prefill.prefix_ids)
        width = max(len(p.suffix_ids) for p in prompts)
        pad_id = int(loaded.tokenizer.pad_token_id or 0)
        input_ids = torch.full((n_rows, width), pad_id, dtype=torch.long)
        position_ids = torch.zeros((3, n_rows, width), dtype=torch.long, device=loaded.device)
        attention_mask = torch.ones((n_rows, n_prefix + width), dtype=torch.long, device=loaded.device)
        prompt_lens: list[int] = []
        deltas: list[int] = []
        for row, parts in enumerate(prompts):
            if parts.prefix_ids != prefill.prefix_ids:
                raise InternalError("a prompt's system + video prefix differs from the prefilled one")
            full_ids = parts.prefix_ids + parts.suffix_ids
            positions, delta = self._positions(loaded, full_ids, state)
            n_suffix = len(parts.suffix_ids)
            gap = width - n_suffix
            input_ids[row, gap:] = torch.tensor(parts.suffix_ids)
            position_ids[:, row, gap:] = positions[:, 0, n_prefix:]
            position_ids[:, row, :gap] = positions[:, 0, n_prefix : n_prefix + 1]  # any value: masked out
            attention_mask[row, n_prefix : n_prefix + gap] = 0
            prompt_lens.append(len(full_ids))
            deltas.append(delta)

        cache = copy.deepcopy(prefill.cache)
        if n_rows > 1:
            cache.batch_repeat_interleave(n_rows)
        mask = attention_mask if bool((attention_mask == 0).any()) else None
        logits = self._forward(loaded, self._embed(loaded, input_ids, state), position_ids, cache, mask)
        return self._decode(loaded, logits, cache, mask, prompt_lens, deltas, max_new_tokens, min_new_tokens)

    def _answer_fresh(
        self,
        loaded: _Loaded,
        state: _VideoState,
        parts: _PromptParts,
        max_new_tokens: int,
        min_new_tokens: int,
    ) -> tuple[list[int], list[float]]:
        """Answer one prompt by prefilling all of it afresh (the reference the shared path must equal)."""
        full_ids = parts.prefix_ids + parts.suffix_ids
        positions, delta = self._positions(loaded, full_ids, state)
        cache = self._new_cache(loaded)
        logits = self._forward(loaded, self._embed(loaded, torch.tensor([full_ids]), state), positions, cache)
        [result] = self._decode(loaded, logits, cache, None, [len(full_ids)], [delta], max_new_tokens, min_new_tokens)
        return result

    # ---------------------------------------------------------------- public API

    def encode_video(self, frames: torch.Tensor, plan: FramePlan) -> EncodedVideo:
        """Encode uint8 frames (T, 3, H, W) sampled by ``plan``: preprocessing, vision tower, shared prefix.

        Raises:
            SamplingError: the frames do not match the plan (count, size, dtype) or the grid they give
                differs from ``plan.grid_thw``.
            ModelNotAvailable: the model cannot be loaded.
        """
        from vidground.model.preprocess import preprocess_frames

        if frames.dtype != torch.uint8 or frames.ndim != 4 or frames.shape[1] != 3:
            raise SamplingError(
                f"frames must be uint8 (T, 3, H, W), got {frames.dtype} with shape {tuple(frames.shape)}"
            )
        if frames.shape[0] != len(plan.frames) or tuple(frames.shape[2:]) != (plan.height, plan.width):
            raise SamplingError(
                f"frames {tuple(frames.shape)} do not match the plan's {len(plan.frames)} frames of "
                f"{plan.height}x{plan.width}"
            )
        loaded = self._model()
        inputs = preprocess_frames(frames)
        grid = tuple(int(v) for v in inputs.video_grid_thw.reshape(-1).tolist())
        if grid != tuple(plan.grid_thw) or int(inputs.num_tokens) != plan.num_tokens:
            raise SamplingError(
                f"frames give grid {grid} ({inputs.num_tokens} tokens) but the plan says {plan.grid_thw} "
                f"({plan.num_tokens} tokens)"
            )
        started = time.perf_counter()
        visual = loaded.model.model.visual
        with torch.no_grad():
            pixels = inputs.pixel_values_videos.to(device=loaded.device, dtype=loaded.dtype)
            grid_thw = inputs.video_grid_thw.to(device=loaded.device)
            out = visual(pixels, grid_thw=grid_thw)
            # transformers 5 returns an output whose pooler_output is the merged features; 4.x a tensor.
            video_embeds = out.pooler_output if hasattr(out, "pooler_output") else out
        state = _VideoState(
            video_embeds=video_embeds,
            video_grid_thw=inputs.video_grid_thw.cpu(),
            second_per_grid=plan.second_per_grid,
        )
        self._prefill(loaded, state, None, plan.num_tokens)
        logger.info(
            "video encoded n_frames=%d grid=%s num_tokens=%d seconds=%.2f",
            len(plan.frames), grid, plan.num_tokens, time.perf_counter() - started,
        )  # fmt: skip
        return EncodedVideo(plan=plan, num_tokens=plan.num_tokens, state=state)

    def generate(
        self,
        encoded: EncodedVideo,
        prompts: Sequence[str],
        *,
        max_new_tokens: int = 256,
        system_prompt: str | None = None,
        on_progress: ProgressFn | None = None,
        min_new_tokens: int = 0,
        batch_size: int = 8,
        share_prefix: bool = True,
    ) -> list[Generation]:
        """Answer each prompt about the encoded video, greedily; one Generation per prompt, in order.

        Args:
            encoded: from this runner's ``encode_video``.
            prompts: query texts; each becomes the user turn's text after the video.
            max_new_tokens: cap on generated tokens per prompt (a stop token ends earlier).
            system_prompt: system turn text; None uses the chat template's default.
            on_progress: called as ``on_progress(done, total)`` after each batch of prompts.
            min_new_tokens: stop tokens are suppressed for this many steps (tests use it with random weights).
            batch_size: prompts decoded together from the shared prefix (each holds a copy of its KV cache).
            share_prefix: reuse the prefilled system + video prefix (default); False prefills each whole
                prompt afresh, one at a time, which must give the same answers.

        ``token_logprobs`` are the model's log-probabilities of the chosen tokens (log-softmax of the raw
        logits, in float32); the stop token is not part of ``tokens``.

        Raises:
            ModelNotAvailable: ``encoded`` was not made by a QwenRunner.
            ConfigError: ``batch_size`` or ``max_new_tokens`` is below 1.
        """
        state = encoded.state
        if not isinstance(state, _VideoState):
            raise ModelNotAvailable(
                f"encoded video state is {type(state).__name__}, expected one made by QwenRunner.encode_video"
            )
        if batch_size < 1 or max_new_tokens < 1:
            raise ConfigError(f"batch_size and max_new_tokens must be >= 1, got {batch_size} and {max_new_tokens}")
        loaded = self._model()
        parts = [self._prompt_parts(loaded, q, system_prompt, encoded.num_tokens) for q in prompts]
        answers: list[tuple[list[int], list[float]]] = []
        step = batch_size if share_prefix else 1
        with torch.no_grad():
            for start in range(0, len(parts), step):
                chunk = parts[start : start + step]
                if share_prefix:
                    prefill = self._prefill(loaded, state, system_prompt, encoded.num_tokens)
                    answers += self._answer_batch_shared(loaded, state, prefill, chunk, max_new_tokens, min_new_tokens)
                else:
                    answers.append(self._answer_fresh(loaded, state, chunk[0], max_new_tokens, min_new_tokens))
                if on_progress is not None:
                    on_progress(len(answers), len(parts))
        return [
            self._generation(loaded, token_ids, logprobs, len(p.prefix_ids) + len(p.suffix_ids))
            for p, (token_ids, logprobs) in zip(parts, answers, strict=True)
        ]
