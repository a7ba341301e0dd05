"""Peer side of benchmarks/frames.py: qwen-vl-utils' ``fetch_video`` with decord, run under ``.peer-venv``.

Usage (the benchmark calls it; it sets FORCE_QWENVL_VIDEO_READER=decord):
    .peer-venv/bin/python benchmarks/_peer_frames.py VIDEO --fps 2 --max-frames 768 \
        --total-pixels N --min-pixels N

Prints one JSON line: work wall and CPU time, own peak RSS, frame indices, output size.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("video")
    parser.add_argument("--fps", type=float, required=True)
    parser.add_argument("--max-frames", type=int, required=True)
    parser.add_argument("--total-pixels", type=int, required=True)
    parser.add_argument("--min-pixels", type=int, required=True)
    args = parser.parse_args()
    os.environ.setdefault("FORCE_QWENVL_VIDEO_READER", "decord")

    from qwen_vl_utils import vision_process

    element = {
        "video": args.video,
        "fps": args.fps,
        "max_frames": args.max_frames,
        "total_pixels": args.total_pixels,
        "min_pixels": args.min_pixels,
    }
    start, cpu_start = time.perf_counter(), time.process_time()
    (video, metadata), _sample_fps = vision_process.fetch_video(
        element, return_video_sample_fps=True, return_video_metadata=True
    )
    wall_s, cpu_s = time.perf_counter() - start, time.process_time() - cpu_start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = {
        "side": "peer",
        "backend": vision_process.get_video_reader_backend(),
        "wall_s": wall_s,
        "cpu_s": cpu_s,
        "peak_rss_mb": peak_kb / 1024,
        "indices": [int(i) for i in metadata["frames_indices"]],
        "n_source_frames": int(metadata["total_num_frames"]),
        "height": int(video.shape[2]),
        "width": int(video.shape[3]),
        "frames_decoded": None,
    }
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
