"""K queries on one video: shared visual encoding vs K independent calls, with the tiny Qwen2.5-VL, same run.

Makes a 2-minute synthetic video with PyAV, plans 2 fps sampling (240 frames) and decodes it once with
vidground's decoder; then times, on the tiny random checkpoint (real architecture, random weights):

* one query: ``encode_video`` + ``generate([q])``;
* shared: ``encode_video`` once + ``generate(K queries)`` (vision tower and system+video prefix run once);
* independent: K times ``encode_video`` + ``generate([q])`` (what a pipeline without sharing pays);
* shared, one prompt at a time (``batch_size=1``): the prefix cache is copied per prompt, no batching.

Prints the times, ``shared / one`` (target <= 1.5 for K = 8) and ``independent / shared``. Decoding is timed
separately and left out of all of them, since every variant decodes once.

Usage: python benchmarks/multi_query.py [--queries 8] [--size 112] [--new-tokens 20] [--repeats 3]
                                        [--threads 1] [--model DIR]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

QUERIES = [
    "a person opens the door",
    "the dog runs across the park",
    "a car stops at the red light",
    "someone pours water into a glass",
    "the camera pans to the left",
    "a woman throws a ball",
    "the lights turn off",
    "a man cuts the onions",
    "two people shake hands",
    "the screen fades to black",
]


def make_video(path: Path, *, seconds: float, fps: int, size: int) -> Path:
    """Encode a moving-gradient H.264 video of ``seconds`` at ``fps`` and ``size``x``size`` pixels."""
    import av

    n_frames = round(seconds * fps)
    ys, xs = np.mgrid[0:size, 0:size]
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast"}
        for k in range(n_frames):
            shade = (xs * 2 + ys + k * 3) % 256
            rgb = np.stack([shade, (shade + 85) % 256, (255 - shade)], axis=-1).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def best_of(repeats: int, work: Callable[[], object]) -> float:
    """Median wall seconds of ``repeats`` runs of ``work``."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--size", type=int, default=112, help="source frame side in pixels")
    parser.add_argument("--new-tokens", type=int, default=20, help="tokens generated per answer (forced)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the tiny model's ops are small)")
    parser.add_argument("--model", default=None, help="checkpoint folder (default: build the tiny one)")
    args = parser.parse_args()

    from vidground.model.runner import QwenRunner
    from vidground.model.tiny import build_tiny_checkpoint
    from vidground.video.decode import decode_frames
    from vidground.video.probe import probe
    from vidground.video.sampling import SamplingOptions, plan_frames

    torch.set_num_threads(args.threads)
    queries = [QUERIES[k % len(QUERIES)] for k in range(args.queries)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model_dir = args.model or str(build_tiny_checkpoint(folder / "tiny"))
        video = make_video(folder / "two_minutes.mp4", seconds=args.seconds, fps=10, size=args.size)

        started = time.perf_counter()
        info = probe(video)
        plan = plan_frames(info, SamplingOptions(fps=2.0))
        frames = decode_frames(video, plan, probe=info).frames
        decode_s = time.perf_counter() - started

        runner = QwenRunner(model_dir, device="cpu")
        runner.load()
        n = args.new_tokens

        def one() -> None:
            runner.generate(runner.encode_video(frames, plan), queries[:1], max_new_tokens=n, min_new_tokens=n)

        def shared() -> None:
            runner.generate(runner.encode_video(frames, plan), queries, max_new_tokens=n, min_new_tokens=n)

        def shared_sequential() -> None:
            encoded = runner.encode_video(frames, plan)
            runner.generate(encoded, queries, max_new_tokens=n, min_new_tokens=n, batch_size=1)

        def independent() -> None:
            for query in queries:
                runner.generate(runner.encode_video(frames, plan), [query], max_new_tokens=n, min_new_tokens=n)

        one()  # warm-up
        one_s = best_of(args.repeats, one)
        shared_s = best_of(args.repeats, shared)
        sequential_s = best_of(args.repeats, shared_sequential)
        independent_s = best_of(args.repeats, independent)

    print(f"video: {args.seconds:.0f} s, {len(plan.frames)} frames of {plan.height}x{plan.width} at 2 fps")
    print(f"       grid {plan.grid_thw}, {plan.num_tokens} video tokens; decode {decode_s:.2f} s (not counted)")
    print(f"model: {runner.info.model_id} ({runner.info.dtype}, {runner.info.device}, {args.threads} thread(s))")
    print(f"answers: {n} new tokens each, greedy; median of {args.repeats}")
    k = len(queries)
    rows = [
        ("one query", one_s),
        (f"K={k} shared encoding, batched", shared_s),
        (f"K={k} shared, one prompt at a time", sequential_s),
        (f"K={k} independent calls", independent_s),
    ]
    for label, seconds in rows:
        print(f"{label:<36} {seconds:8.3f} s   = {seconds / one_s:5.2f}x one query")
    print(f"{'independent / shared':<36} {independent_s / shared_s:8.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
