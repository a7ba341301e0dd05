"""One search query's embedding: vidground's two query runtimes, NumPy and its own ONNX graph under ONNX Runtime
(what the API and ``vidground search`` run when onnxruntime is installed), against the peer: the same weights
exported by ``torch.onnx`` and run by ONNX Runtime, as one would without vidground's graph.

The search's critical path starts with this embedding (benchmarks/search.py). Every side embeds the same five queries
in turn, one thread each, after a check that all give the same vectors; medians over ``--n`` calls, two rounds
alternated.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/query_embed.py [--n 200]

The export uses torch (in the install).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

QUERIES = [
    "painting a wall",
    "where is Montgomery",
    "a person opening a door in the rain",
    "kicks",
    "a chef slices onions in a busy kitchen at night",
]


def onnx_embedder(folder: Path, tokenizer: Any, workdir: Path) -> Callable[[str], np.ndarray] | None:
    """The peer: MiniLM exported by torch.onnx (opset 17), one ORT thread; None when onnxruntime is missing."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(folder), local_files_only=True).eval()

    class Hidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = model

        def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            return self.bert(input_ids=ids, attention_mask=mask).last_hidden_state  # type: ignore[no-any-return]

    path = workdir / "minilm.onnx"
    dummy = torch.ones(1, 8, dtype=torch.long)
    axes = {"ids": {0: "batch", 1: "tokens"}, "mask": {0: "batch", 1: "tokens"}, "hidden": {0: "batch", 1: "tokens"}}
    torch.onnx.export(Hidden(), (dummy, dummy), str(path), input_names=["ids", "mask"], output_names=["hidden"],
                      dynamic_axes=axes, opset_version=17, dynamo=False)  # fmt: skip
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def embed(text: str) -> np.ndarray:
        encoding = tokenizer.encode_batch([text])
        ids = np.array([e.ids for e in encoding], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoding], dtype=np.int64)
        hidden = session.run(None, {"ids": ids, "mask": mask})[0]
        pooled = (hidden * mask[:, :, None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
        return (pooled / np.linalg.norm(pooled, axis=1, keepdims=True))[0]  # type: ignore[no-any-return]

    return embed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200, help="calls per side and round")
    args = parser.parse_args()

    from vidground.index import minilm_numpy
    from vidground.index.embed import MINILM_NAME, EmbedderRuntime, get_embedder, minilm_folder

    numpy_runtime = get_embedder(MINILM_NAME, runtime=EmbedderRuntime.NUMPY)
    onnx_runtime = get_embedder(MINILM_NAME, runtime=EmbedderRuntime.ONNX)
    sides: dict[str, Callable[[str], Any]] = {
        "vidground NumPy": lambda text: numpy_runtime.embed([text])[0],
        "vidground ONNX": lambda text: onnx_runtime.embed([text])[0],
    }
    with tempfile.TemporaryDirectory() as workdir:
        peer = onnx_embedder(minilm_folder(), minilm_numpy._loaded().tokenizer, Path(workdir))
        if peer is not None:
            sides["peer: export"] = peer
        reference = [np.array(sides["vidground NumPy"](q)) for q in QUERIES]
        for name, embed in sides.items():
            gap = max(float(np.abs(np.array(embed(q)) - r).max()) for q, r in zip(QUERIES, reference, strict=True))
            print(f"{name:<16} largest difference from the NumPy runtime's vectors: {gap:.1e}")
        medians: dict[str, list[float]] = {name: [] for name in sides}
        for round_ in range(2):
            for name in sides if round_ == 0 else reversed(list(sides)):
                times = []
                for i in range(args.n):
                    started = time.perf_counter()
                    sides[name](QUERIES[i % len(QUERIES)])
                    times.append(time.perf_counter() - started)
                medians[name].append(statistics.median(times) * 1000)
    means = {name: statistics.mean(values) for name, values in medians.items()}
    for name, values in medians.items():
        print(
            f"{name:<16} p50 per round: {', '.join(f'{v:.2f} ms' for v in values)}"
            f"   {means[name] / means['vidground NumPy']:.2f}x the NumPy runtime's time"
            + (f", {means[name] / means['peer: export']:.2f}x the peer's" if "peer: export" in means else "")
        )


if __name__ == "__main__":
    main()
