"""all-MiniLM-L6-v2 in NumPy: the same vectors as the torch embedder, for processes that must not import torch.

The API embeds one search query per request. Loading torch and transformers for that would put a gigabyte of
libraries and ~400 MB of memory into a process whose other routes only move files and rows, so the API runs the
model here instead: a BERT encoder of six layers, 384 wide, 12 heads of 32, written out in NumPy over the weights
of the same ``model.safetensors`` (read by ``safetensors.numpy``), with the same ``tokenizer.json`` (read by the
Rust ``tokenizers`` library). Neither package imports torch. Where ONNX Runtime is installed (a dependency), the
API runs the same forward pass as an ONNX graph instead (:mod:`vidground.index.minilm_onnx`, about twice as fast
for one query), with this module's tokenising, batching and pooling.

The forward pass is BertModel's, in float32, per layer::

    h = LayerNorm(h + Wo · softmax(Q Kᵀ / √32 + mask) V)      attention, 12 heads of 32 columns
    h = LayerNorm(h + W2 · gelu(W1 · h))                      feed-forward, 384 -> 1536 -> 384

then the mean of the real tokens' rows, L2-normalised: sentence-transformers' pooling for this model. Vectors agree
with :class:`~vidground.index.embed.MiniLMEmbedder` to about 1e-6 per component (tested), so rows written by a
worker with torch and a query embedded here by the API are comparable; both carry the embedder name
``all-MiniLM-L6-v2``.

A 10-word query takes a few milliseconds once loaded; for bulk ingest the torch embedder batches better and can use
a GPU, so workers keep it. Texts are embedded one call at a time per process, with the BLAS library held to one
thread for the call (threadpoolctl): these matrices are tiny, and OpenBLAS's threads spinning against a busy machine
made a query 20-30 times slower (16 ms against 330-450 ms measured under load 6 on 2 cores). The limit is lifted
when the call returns, so the process's other NumPy work keeps its threads.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from vidground.errors import ConfigError, ModelNotAvailable

logger = logging.getLogger(__name__)

Array = npt.NDArray[np.float32]

_HEADS = 12
_LAYERS = 6
_LAYER_NORM_EPS = 1e-12
# Added to the attention scores of padding keys: exp() of it is 0 in float32, as BERT's own mask value is.
_MASKED = np.float32(-1e9)


def _erf(x: Array) -> Array:
    """Error function, elementwise, to within 1.2e-7 (Numerical Recipes' ``erfc`` Chebyshev fit; NumPy has no erf).

    Example: ``_erf([0.0, 0.5, 1.0])`` ≈ ``[0.0, 0.5205, 0.8427]``.
    """
    z = np.abs(x).astype(np.float64)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = (
        -z * z
        - 1.26551223
        + t
        * (
            1.00002368
            + t
            * (
                0.37409196
                + t
                * (
                    0.09678418
                    + t
                    * (
                        -0.18628806
                        + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))
                    )
                )
            )
        )
    )
    erfc = t * np.exp(poly)
    return np.where(x >= 0, 1.0 - erfc, erfc - 1.0).astype(np.float32)


def _gelu(x: Array) -> Array:
    """BERT's exact GELU: x · Φ(x) = x/2 · (1 + erf(x/√2))."""
    return (0.5 * x * (1.0 + _erf(x / np.float32(math.sqrt(2.0))))).astype(np.float32)


def _layer_norm(x: Array, weight: Array, bias: Array) -> Array:
    """LayerNorm over the last axis with BERT's epsilon: (..., D) -> (..., D)."""
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    normed: Array = ((x - mean) / np.sqrt(var + _LAYER_NORM_EPS) * weight + bias).astype(np.float32)
    return normed


class _Weights:
    """The encoder's tensors by BertModel's names, linear weights pre-transposed to (in, out) for ``x @ w``."""

    def __init__(self, tensors: dict[str, Any]) -> None:
        self._t = {
            k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items() if k != "embeddings.position_ids"
        }
        for name in [k for k in self._t if k.endswith(".weight") and self._t[k].ndim == 2 and "embeddings" not in k]:
            self._t[name] = np.ascontiguousarray(self._t[name].T)

    def __getitem__(self, name: str) -> Array:
        return self._t[name]


def encode(weights: _Weights, input_ids: npt.NDArray[np.int64], attention_mask: npt.NDArray[np.int64]) -> Array:
    """BertModel's last hidden state: ids and mask (B, T) -> (B, T, 384) float32."""
    batch, length = input_ids.shape
    h = (
        weights["embeddings.word_embeddings.weight"][input_ids]
        + weights["embeddings.position_embeddings.weight"][:length][None, :, :]
        + weights["embeddings.token_type_embeddings.weight"][0]
    )
    h = _layer_norm(h, weights["embeddings.LayerNorm.weight"], weights["embeddings.LayerNorm.bias"])
    width = h.shape[-1]
    head = width // _HEADS
    scale = np.float32(1.0 / math.sqrt(head))
    key_bias = np.where(attention_mask[:, None, None, :] > 0, np.float32(0.0), _MASKED)  # (B, 1, 1, T)

    def heads(x: Array) -> Array:  # (B, T, D) -> (B, H, T, D/H)
        return x.reshape(batch, length, _HEADS, head).transpose(0, 2, 1, 3)

    for i in range(_LAYERS):
        p = f"encoder.layer.{i}."
        q = heads(h @ weights[p + "attention.self.query.weight"] + weights[p + "attention.self.query.bias"])
        k = heads(h @ weights[p + "attention.self.key.weight"] + weights[p + "attention.self.key.bias"])
        v = heads(h @ weights[p + "attention.self.value.weight"] + weights[p + "attention.self.value.bias"])
        scores = (q @ k.transpose(0, 1, 3, 2)) * scale + key_bias  # (B, H, T, T)
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        probs = scores / scores.sum(axis=-1, keepdims=True)
        context = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, length, width)  # (B, T, D)
        attended = context @ weights[p + "attention.output.dense.weight"] + weights[p + "attention.output.dense.bias"]
        h = _layer_norm(
            h + attended,
            weights[p + "attention.output.LayerNorm.weight"],
            weights[p + "attention.output.LayerNorm.bias"],
        )
        inner = _gelu(h @ weights[p + "intermediate.dense.weight"] + weights[p + "intermediate.dense.bias"])
        out = inner @ weights[p + "output.dense.weight"] + weights[p + "output.dense.bias"]
        h = _layer_norm(h + out, weights[p + "output.LayerNorm.weight"], weights[p + "output.LayerNorm.bias"])
    return h.astype(np.float32)


def mean_pool_normalised(tokens: Array, attention_mask: npt.NDArray[np.int64]) -> Array:
    """Mean of the real tokens' rows, scaled to unit length: (B, T, D), (B, T) -> (B, D)."""
    mask = attention_mask[:, :, None].astype(np.float32)
    pooled = (tokens * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
    norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    unit: Array = (pooled / norms).astype(np.float32)
    return unit


class _Loaded:
    def __init__(self, tokenizer: Any, weights: _Weights) -> None:
        from threadpoolctl import ThreadpoolController

        self.tokenizer = tokenizer
        self.weights = weights
        self.blas = ThreadpoolController()  # found once: inspecting the loaded libraries costs a few milliseconds
        # One call at a time: the BLAS limit is process-wide, so overlapping calls would restore each other's
        # limits out of order; and on a few cores one query after another is also the fastest schedule.
        self.lock = threading.Lock()


_LOADED: _Loaded | None = None
_LOADED_LOCK = threading.Lock()


class NumpyMiniLMEmbedder:
    """all-MiniLM-L6-v2 without torch: 384 dimensions, mean pooling, L2 normalised; the same rows as the torch one.

    Args:
        batch_size: texts per forward pass (sorted by length first, so a batch pads little).
    """

    name = "all-MiniLM-L6-v2"
    dim = 384

    def __init__(self, *, batch_size: int = 32) -> None:
        if batch_size < 1:
            raise ConfigError(f"embedder batch_size must be at least 1, got {batch_size}; use e.g. 32")
        self.batch_size = batch_size

    def load(self) -> None:
        """Load the tokenizer and weights now (idempotent; ``embed`` does it on first use). Raises ModelNotAvailable."""
        _loaded()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit-length row of 384 floats per text, in input order; ``[]`` for no texts.

        Raises:
            TypeError: ``texts`` is a single string.
            ModelNotAvailable: the MiniLM wheel, ``tokenizers`` or ``safetensors`` is missing or its files do not load.
        """
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not one string; wrap it in a list")
        if not texts:
            return []
        loaded = _loaded()
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        rows: list[list[float]] = [[] for _ in texts]
        for begin in range(0, len(order), self.batch_size):
            batch = order[begin : begin + self.batch_size]
            with loaded.lock, loaded.blas.limit(limits=1, user_api="blas"):
                encodings = loaded.tokenizer.encode_batch([texts[i] for i in batch])
                ids = np.array([e.ids for e in encodings], dtype=np.int64)
                mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
                vectors = mean_pool_normalised(self._encode(loaded, ids, mask), mask)
            for i, row in zip(batch, vectors.tolist(), strict=True):
                rows[i] = row
        return rows

    def _encode(self, loaded: _Loaded, ids: npt.NDArray[np.int64], mask: npt.NDArray[np.int64]) -> Array:
        """The last hidden state (B, T, 384) of a padded batch (B, T); the ONNX runtime runs another engine here."""
        return encode(loaded.weights, ids, mask)


def _loaded() -> _Loaded:
    global _LOADED
    if _LOADED is None:
        with _LOADED_LOCK:
            if _LOADED is None:
                _LOADED = _load()
    return _LOADED


def _load() -> _Loaded:
    from vidground.index.embed import MINILM_MAX_TOKENS, MINILM_NAME, MINILM_PACKAGE, minilm_folder

    folder: Path = minilm_folder()
    try:
        from safetensors import SafetensorError
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer
    except ImportError as exc:
        raise ModelNotAvailable(
            f"sentence embedder {MINILM_NAME!r} needs the packages tokenizers and safetensors ({exc}); "
            "install them with: pip install tokenizers safetensors"
        ) from None
    started = time.perf_counter()
    try:
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        weights = _Weights(load_file(str(folder / "model.safetensors")))
    except (SafetensorError, OSError, ValueError, Exception) as exc:  # tokenizers raises a bare Exception on bad JSON
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelNotAvailable(
            f"sentence embedder {MINILM_NAME!r} could not be loaded from {folder} ({reason}); "
            f"reinstall with: pip install --force-reinstall {MINILM_PACKAGE}"
        ) from None
    tokenizer.enable_truncation(max_length=MINILM_MAX_TOKENS)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    logger.info(
        "embedder loaded name=%s runtime=numpy path=%s seconds=%.1f", MINILM_NAME, folder, time.perf_counter() - started
    )
    return _Loaded(tokenizer, weights)
