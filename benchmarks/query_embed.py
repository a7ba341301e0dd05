"""One search query's embedding: vidground's NumPy MiniLM (what the API and ``vidground search`` run) against the
same weights exported to ONNX and run by ONNX Runtime (the peer; not a vidground dependency).

The search's critical path starts with this embedding (benchmarks/search.py), so this measures what a faster
runtime would take off it. Both sides embed the same five queries in turn, one thread each, after a check that they
give the same vectors; medians over ``--n`` calls, two rounds alternated.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/query_embed.py [--n 200]

The peer needs ``onnxruntime`` and ``onnx`` importable (e.g. ``pip install --target /tmp/ort onnxruntime onnx`` and
``PYTHONPATH=$PWD:/tmp/ort``); without them only vidground's side is timed. The export uses torch (in the install).
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

    vidground = get_embedder(MINILM_NAME, runtime=EmbedderRuntime.NUMPY)
    vidground.embed(["load the weights"])
    sides: dict[str, Callable[[str], Any]] = {"vidground NumPy": lambda text: vidground.embed([text])[0]}
    with tempfile.TemporaryDirectory() as workdir:
        peer = onnx_embedder(minilm_folder(), minilm_numpy._loaded().tokenizer, Path(workdir))
        if peer is None:
            print("onnxruntime is not importable: the peer is left out")
        else:
            sides["ONNX Runtime"] = peer
            gap = max(float(np.abs(np.array(sides["vidground NumPy"](q)) - peer(q)).max()) for q in QUERIES)
            print(f"largest difference between the two sides' vectors over {len(QUERIES)} queries: {gap:.1e}")
        medians: dict[str, list[float]] = {name: [] for name in sides}
        for round_ in range(2):
            for name in sides if round_ == 0 else reversed(list(sides)):
                times = []
                for i in range(args.n):
                    started = time.perf_counter()
                    sides[name](QUERIES[i % len(QUERIES)])
                    times.append(time.perf_counter() - started)
                medians[name].append(statistics.median(times) * 1000)
    for name, values in medians.items():
        print(f"{name:<16} p50 per round: {', '.join(f'{v:.2f} ms' for v in values)}")
    if len(medians) == 2:
        ours, theirs = (statistics.mean(v) for v in medians.values())
        print(f"ONNX Runtime takes {theirs / ours:.2f}x vidground's time for one query")


if __name__ == "__main__":
    main()
