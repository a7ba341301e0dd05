"""Frame preparation benchmark: vidground (probe, plan, decode + resize) vs qwen-vl-utils' fetch_video + decord.

Both sides prepare model-ready frames for the same generated H.264 files with the same parameters (fps 2,
max_frames 768, total_pixels 24576*28*28, min_pixels 16*28*28), each in its own subprocess, in the same run.
Reports wall time of the work (imports excluded), peak RSS of the process, whether the frame indices are equal,
and the ratios (target: >= 2x faster, <= 25 % of the peer's peak memory).

    .venv/bin/python benchmarks/frames.py [--only 5min|1h] [--repeats N] [--peer-python PATH]

The test files are generated once into benchmarks/media/ (gitignored); see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MEDIA_DIR = ROOT / "benchmarks" / "media"
FPS = 2.0
MAX_FRAMES = 768
TOTAL_PIXELS = 24576 * 28 * 28
MIN_PIXELS = 16 * 28 * 28
MEMORY_GUARD_MB = 1200  # kill a side if the machine's available memory drops below this (shared machine)


@dataclass(frozen=True)
class BenchVideo:
    name: str
    file: str
    width: int
    height: int
    fps: int
    seconds: int
    gop: int


VIDEOS = {
    "5min": BenchVideo("5min", "bench_5min_1920x1080_30fps.mp4", 1920, 1080, 30, 300, 60),
    "1h": BenchVideo("1h", "bench_1h_1280x720_30fps_gop60.mp4", 1280, 720, 30, 3600, 60),
}


CLIP_SECONDS = 60  # files longer than this are one encoded clip repeated by remuxing (see tile_clip)


def ensure_media(video: BenchVideo) -> Path:
    """Generate the file once: x264 ultrafast with 2 B-frames; static-ish content (bar code redrawn every 0.5 s).

    Files up to CLIP_SECONDS long are encoded frame by frame. Longer ones (the 1-hour file) are encoded as one
    CLIP_SECONDS clip with the same settings, then its packets are copied ``seconds / CLIP_SECONDS`` times into
    one file with shifted timestamps (no re-encode); the result is checked with vidground's probe.
    """
    sys.path.insert(0, str(ROOT))
    from tests.media import make_video

    path = MEDIA_DIR / video.file
    if path.exists():
        return path
    MEDIA_DIR.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.mp4")
    tiled = video.seconds > CLIP_SECONDS and video.seconds % CLIP_SECONDS == 0
    clip_seconds = CLIP_SECONDS if tiled else video.seconds
    if tiled and (clip_seconds * video.fps) % video.gop:
        raise ValueError(f"{video.name}: a {clip_seconds} s clip must hold whole GOPs of {video.gop} frames")
    how = f"{video.seconds // clip_seconds} copies of a {clip_seconds} s clip" if tiled else "frame by frame"
    print(f"generating {path.name} ({video.seconds} s, {video.width}x{video.height}, {how}) ...", flush=True)
    start = time.perf_counter()
    clip = path.with_suffix(".clip.mp4") if tiled else partial
    make_video(
        clip,
        width=video.width,
        height=video.height,
        fps=video.fps,
        n_frames=clip_seconds * video.fps,
        gop=video.gop,
        preset="ultrafast",
        x264_params="bframes=2",
        index_every=video.fps // 2,
    )
    if tiled:
        tile_clip(clip, partial, copies=video.seconds // clip_seconds)
        clip.unlink()
        check_media(partial, video)
    partial.rename(path)
    print(f"  done in {time.perf_counter() - start:.0f} s", flush=True)
    return path


def tile_clip(clip: Path, out: Path, copies: int) -> None:
    """Write ``copies`` back-to-back copies of ``clip``'s video packets into ``out`` (remux, no re-encode).

    The clip must start with a keyframe and hold whole closed GOPs (x264's default, GOP 60, scene cuts off),
    so every copy decodes on its own; copy k's PTS and DTS are shifted by k × the clip's length. Example: a
    60 s clip at 30 fps in time base 1/15360 has 1,800 packets of 512 ticks, so copy 1's first packet
    (pts 0, dts -1024) becomes pts 921,600, dts 920,576, after copy 0's last dts of 920,064.
    """
    import av

    with av.open(str(clip)) as src:
        stream_in = src.streams.video[0]
        time_base = stream_in.time_base
        packets = [
            (bytes(p), p.pts, p.dts, p.duration, p.is_keyframe)
            for p in src.demux(stream_in)
            if p.size and p.pts is not None
        ]
        if not packets[0][4]:
            raise ValueError(f"{clip}: the clip must start with a keyframe")
        start_pts = min(p[1] for p in packets)
        end_pts = max(p[1] + p[3] for p in packets)
        with av.open(str(out), "w") as dst:
            stream_out = dst.add_stream_from_template(stream_in)
            stream_out.time_base = time_base
            shift = end_pts - start_pts
            for k in range(copies):
                for data, pts, dts, duration, key in packets:
                    packet = av.Packet(data)
                    packet.pts, packet.dts = pts + k * shift, dts + k * shift
                    packet.duration, packet.is_keyframe = duration, key
                    packet.time_base, packet.stream = time_base, stream_out
                    dst.mux(packet)


def check_media(path: Path, video: BenchVideo) -> None:
    """Raise unless vidground's probe sees the expected frame count, duration, CFR and keyframe spacing."""
    from vidground.video.probe import probe

    info = probe(path)
    n_frames = video.seconds * video.fps
    keys = list(info.keyframe_indices)
    problems = []
    if info.n_frames != n_frames:
        problems.append(f"{info.n_frames} frames, expected {n_frames}")
    if abs(info.duration_s - video.seconds) > 1 / video.fps:
        problems.append(f"duration {info.duration_s:.3f} s, expected {video.seconds}")
    if info.vfr:
        problems.append("variable frame rate, expected constant")
    if keys != list(range(0, n_frames, video.gop)):
        problems.append(f"{len(keys)} keyframes, expected one every {video.gop} frames from 0")
    if (info.width, info.height) != (video.width, video.height):
        problems.append(f"size {info.width}x{info.height}, expected {video.width}x{video.height}")
    if problems:
        raise RuntimeError(f"{path.name}: " + "; ".join(problems))
    print(
        f"  checked: {info.n_frames} frames, {info.duration_s:.1f} s, {info.fps:g} fps CFR, "
        f"{len(keys)} keyframes every {video.gop} frames",
        flush=True,
    )


def run_ours(video_path: str, threads: int) -> None:
    """Worker: vidground's probe → plan → decode+resize; prints one JSON line."""
    sys.path.insert(0, str(ROOT))
    from vidground.video.decode import decode_frames
    from vidground.video.probe import probe
    from vidground.video.sampling import SamplingOptions, plan_frames

    start = time.perf_counter()
    info = probe(video_path)
    options = SamplingOptions(fps=FPS, max_frames=MAX_FRAMES, total_pixels=TOTAL_PIXELS, min_pixels=MIN_PIXELS)
    plan = plan_frames(info, options)
    decoded = decode_frames(video_path, plan, backend="pyav", resize="reference", threads=threads, probe=info)
    wall_s = time.perf_counter() - start
    result = {
        "side": "vidground",
        "backend": decoded.backend,
        "wall_s": wall_s,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "indices": [s.index for s in decoded.sampled],
        "n_source_frames": info.n_frames,
        "height": plan.height,
        "width": plan.width,
        "frames_decoded": decoded.frames_decoded,
    }
    sys.stdout.write(json.dumps(result) + "\n")


def run_side(cmd: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run one side in its own process; a watchdog kills it if the machine runs short of memory."""
    import psutil

    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    killed = threading.Event()
    sampled_peak_mb = [0.0]

    def watch() -> None:
        try:
            ps = psutil.Process(proc.pid)
            while proc.poll() is None:
                sampled_peak_mb[0] = max(sampled_peak_mb[0], ps.memory_info().rss / 2**20)
                if psutil.virtual_memory().available / 2**20 < MEMORY_GUARD_MB:
                    killed.set()
                    proc.kill()
                    return
                time.sleep(0.1)
        except psutil.NoSuchProcess:
            return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    start = time.perf_counter()
    stdout, stderr = proc.communicate()
    process_s = time.perf_counter() - start
    watcher.join()
    if killed.is_set():
        return {
            "error": f"killed by the memory guard at {sampled_peak_mb[0]:.0f} MB RSS",
            "process_s": process_s,
        }
    if proc.returncode != 0:
        tail = stderr.strip().splitlines()[-3:]
        return {"error": f"exit {proc.returncode}: {' | '.join(tail)}", "process_s": process_s}
    result: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    result["process_s"] = process_s
    return result


def bench(video: BenchVideo, repeats: int, peer_python: str, threads: int) -> dict[str, Any]:
    path = str(ensure_media(video))
    ours_cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", path, "--threads", str(threads)]
    peer_cmd = [
        peer_python,
        str(ROOT / "benchmarks" / "_peer_frames.py"),
        path,
        "--fps",
        str(FPS),
        "--max-frames",
        str(MAX_FRAMES),
        "--total-pixels",
        str(TOTAL_PIXELS),
        "--min-pixels",
        str(MIN_PIXELS),
    ]
    env = dict(os.environ, FORCE_QWENVL_VIDEO_READER="decord")
    ours, peer = [], []
    for i in range(repeats):
        print(f"[{video.name}] run {i + 1}/{repeats}: vidground ...", flush=True)
        ours.append(run_side(ours_cmd, env))
        print(f"[{video.name}] run {i + 1}/{repeats}: peer ...", flush=True)
        peer.append(run_side(peer_cmd, env))
    return {"video": video, "ours": ours, "peer": peer}


@dataclass(frozen=True)
class SideSummary:
    wall_s: float  # median over the successful runs
    peak_rss_mb: float  # maximum over the successful runs
    indices: list[int]
    size: str
    frames_decoded: int | None


def summarise(runs: list[dict[str, Any]]) -> SideSummary | None:
    good = [r for r in runs if "error" not in r]
    if not good:
        return None
    return SideSummary(
        wall_s=statistics.median(float(r["wall_s"]) for r in good),
        peak_rss_mb=max(float(r["peak_rss_mb"]) for r in good),
        indices=list(good[0]["indices"]),
        size=f"{good[0]['width']}x{good[0]['height']}",
        frames_decoded=good[0]["frames_decoded"],
    )


def print_table(results: list[dict[str, Any]]) -> None:
    header = (
        f"{'video':<6} {'side':<10} {'wall s':>8} {'peak RSS MB':>12} {'frames':>7} {'size':>9} "
        f"{'decoded':>8} {'idx equal':>9} {'speed-up':>9} {'mem ratio':>9}"
    )
    print()
    print(header)
    print("-" * len(header))
    for res in results:
        video: BenchVideo = res["video"]
        ours, peer = summarise(res["ours"]), summarise(res["peer"])
        equal = "-" if not (ours and peer) else ("yes" if ours.indices == peer.indices else "NO")
        for label, summ, runs in (("vidground", ours, res["ours"]), ("peer", peer, res["peer"])):
            if summ is None:
                errors = "; ".join(str(r["error"]) for r in runs)
                print(f"{video.name:<6} {label:<10} failed: {errors}")
                continue
            speed = mem = ""
            if label == "vidground" and peer:
                speed = f"{peer.wall_s / summ.wall_s:.2f}x"
                mem = f"{100 * summ.peak_rss_mb / peer.peak_rss_mb:.1f}%"
            decoded = "-" if summ.frames_decoded is None else str(summ.frames_decoded)
            print(
                f"{video.name:<6} {label:<10} {summ.wall_s:>8.1f} {summ.peak_rss_mb:>12.0f} "
                f"{len(summ.indices):>7} {summ.size:>9} {decoded:>8} {equal:>9} {speed:>9} {mem:>9}"
            )
    print(
        "\nwall s: median of the work inside each process (imports excluded); peak RSS: the process's own "
        "maximum;\nspeed-up = peer / vidground; mem ratio = vidground / peer (targets: >= 2x, <= 25 %)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=sorted(VIDEOS), help="run one file only")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--peer-python", default=str(ROOT / ".peer-venv" / "bin" / "python"))
    parser.add_argument("--threads", type=int, default=2, help="vidground decoder threads")
    parser.add_argument("--generate-only", action="store_true", help="make the media files and stop")
    parser.add_argument("--worker", metavar="VIDEO", help=argparse.SUPPRESS)
    parser.add_argument("--json", metavar="PATH", help="also write the raw results as JSON")
    args = parser.parse_args()
    if args.worker:
        run_ours(args.worker, args.threads)
        return
    chosen = [VIDEOS[args.only]] if args.only else list(VIDEOS.values())
    if args.generate_only:
        for video in chosen:
            ensure_media(video)
        return
    if not Path(args.peer_python).exists():
        sys.exit(f"peer python {args.peer_python} not found; run benchmarks/setup_peer_env.sh first")
    results = [bench(video, args.repeats, args.peer_python, args.threads) for video in chosen]
    print_table(results)
    if args.json:
        raw = [{"video": r["video"].name, "ours": r["ours"], "peer": r["peer"]} for r in results]
        Path(args.json).write_text(json.dumps(raw, indent=1))


if __name__ == "__main__":
    main()
