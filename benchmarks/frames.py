"""Frame preparation benchmark: vidground (probe, plan, decode + resize) against the decode floor and the peer.

Sides, each in its own subprocess, in the same run, on the same generated H.264 files with the same parameters
(fps 2, max_frames 768, total_pixels 24576*28*28, min_pixels 16*28*28):

- floor: plain PyAV decoding exactly the packets vidground sends, the planned pictures converted to RGB, no resize;
- reference and fast: vidground's ``decode_frames`` with each resize path;
- peer: qwen-vl-utils' fetch_video + decord (under .peer-venv).

Reports wall and CPU seconds of the work (imports excluded), how busy the cores were, peak RSS, whether the frame
indices are equal, the ratios and the issue-13 targets; then ten runs back to back in one process. The table is
printed and written to benchmarks/results/frames-<date>-<HHMM>.txt.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/frames.py [--only 5min|1h] [--repeats N] [--skip-peer]

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
RESULTS_DIR = ROOT / "benchmarks" / "results"
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


# -- the sides, each run in its own process -------------------------------------------------------------------


def _sampling() -> Any:
    from vidground.video.sampling import SamplingOptions

    return SamplingOptions(fps=FPS, max_frames=MAX_FRAMES, total_pixels=TOTAL_PIXELS, min_pixels=MIN_PIXELS)


def _usage() -> tuple[float, float]:
    """(wall seconds, CPU seconds of every thread of this process) now."""
    return time.perf_counter(), time.process_time()


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def prepare_frames(video_path: str, resize: str, threads: int, resize_threads: int) -> dict[str, Any]:
    """vidground's probe → plan → decode + resize, timed; what the table needs."""
    from vidground.video.decode import decode_frames
    from vidground.video.probe import probe
    from vidground.video.sampling import plan_frames

    wall0, cpu0 = _usage()
    info = probe(video_path)
    plan = plan_frames(info, _sampling())
    decoded = decode_frames(
        video_path, plan, resize=resize, threads=threads, resize_threads=resize_threads, probe=info
    )
    wall1, cpu1 = _usage()
    return {
        "wall_s": wall1 - wall0,
        "cpu_s": cpu1 - cpu0,
        "indices": [s.index for s in decoded.sampled],
        "height": plan.height,
        "width": plan.width,
        "frames_decoded": decoded.frames_decoded,
    }


def run_vidground(video_path: str, resize: str, threads: int, resize_threads: int) -> dict[str, Any]:
    """Worker: one vidground run."""
    result = prepare_frames(video_path, resize, threads, resize_threads)
    return {**result, "peak_rss_mb": _peak_rss_mb()}


def run_back_to_back(video_path: str, resize: str, threads: int, resize_threads: int, n: int) -> dict[str, Any]:
    """Worker: ``n`` vidground runs one after another in this process; each run's time and the RSS after it."""
    runs = []
    for _ in range(n):
        result = prepare_frames(video_path, resize, threads, resize_threads)
        runs.append({"wall_s": result["wall_s"], "cpu_s": result["cpu_s"], "rss_mb": _rss_mb()})
    return {"runs": runs, "peak_rss_mb": _peak_rss_mb(), "height": result["height"], "width": result["width"]}


def run_floor(video_path: str, threads: int) -> dict[str, Any]:
    """Worker: the decode floor. Plain PyAV decodes exactly the packets vidground sends and converts exactly
    the pictures it keeps to RGB (full size, no resize, no rotation, no bookkeeping).

    An untimed first pass runs vidground's decoder and records the packets it sends to FFmpeg (PTS, keyframe
    flag); the timed pass demuxes the file, seeks where vidground seeks (a wanted keyframe past the next one),
    skips the packets vidground skips, and converts the planned frames with ``to_ndarray(format="rgb24")``.
    Raises if it does not replay the same packets and pictures.
    """
    import av

    from vidground.options import ResizeMode
    from vidground.video.decode import PyAVDecoder
    from vidground.video.probe import probe, pts_to_seconds, stream_origin_pts
    from vidground.video.sampling import plan_frames

    by_decoder: dict[int, list[tuple[int | None, bool]]] = {}

    class RecordingDecoder(PyAVDecoder):
        def _decode(self, ctx: Any, packet: Any, *args: Any) -> list[Any]:
            if packet is not None:
                by_decoder.setdefault(id(ctx), []).append((packet.pts, bool(packet.is_keyframe)))
            return super()._decode(ctx, packet, *args)

    info = probe(video_path)
    plan = plan_frames(info, _sampling())
    RecordingDecoder().decode(
        Path(video_path), plan, info, resize=ResizeMode.FAST, threads=threads, resize_threads=1, on_progress=None
    )
    targets_s = {info.frame_times_s[i] for i in plan.indices}
    # vidground's decoders each take a run of GOPs, in parallel; one after the other, in file order, their packets
    # are one forward pass with seeks, which the floor replays with one decoder.
    sent = [p for run in sorted(by_decoder.values(), key=lambda r: r[0][0] or 0) for p in run]

    wall0, cpu0 = _usage()
    converted = replayed = 0
    with av.open(video_path) as container:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        ctx.thread_type = "AUTO"
        ctx.thread_count = threads
        origin, time_base = stream_origin_pts(stream), stream.time_base

        def keep(frames: list[Any]) -> None:
            nonlocal converted
            for frame in frames:
                if frame.pts is not None and pts_to_seconds(frame.pts, origin, time_base) in targets_s:
                    frame.to_ndarray(format="rgb24")
                    converted += 1

        packets = container.demux(stream)
        while replayed < len(sent):
            packet = next(packets, None)
            if packet is None:
                break
            want_pts, want_key = sent[replayed]
            if packet.pts == want_pts:
                keep(ctx.decode(packet))
                replayed += 1
            elif want_key and packet.is_keyframe:  # vidground jumped over this GOP: seek as it did
                keep(ctx.decode(None))  # a frame-threaded decoder still holds pictures of the packets sent
                ctx.flush_buffers()
                container.seek(want_pts, backward=True, any_frame=False, stream=stream)
                packets = container.demux(stream)
        keep(ctx.decode(None))
    wall1, cpu1 = _usage()
    if replayed != len(sent) or converted != len(targets_s):
        raise RuntimeError(
            f"floor replay: {replayed} of {len(sent)} packets, {converted} of {len(targets_s)} pictures"
        )
    return {
        "wall_s": wall1 - wall0,
        "cpu_s": cpu1 - cpu0,
        "peak_rss_mb": _peak_rss_mb(),
        "indices": list(plan.indices),
        "height": info.height,
        "width": info.width,
        "frames_decoded": len(sent),
    }


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


# -- the run --------------------------------------------------------------------------------------------------

SIDES = ("floor", "reference", "fast", "peer")  # in the order they run; the peer, the memory-hungry one, last


@dataclass(frozen=True)
class RunConfig:
    repeats: int
    peer_python: str | None  # None: --skip-peer
    threads: int
    resize_threads: int
    back_to_back: int


def _worker_cmd(config: RunConfig, *args: str) -> list[str]:
    threads = ["--threads", str(config.threads), "--resize-threads", str(config.resize_threads)]
    return [sys.executable, str(Path(__file__).resolve()), *threads, *args]


def bench(video: BenchVideo, config: RunConfig) -> dict[str, list[dict[str, Any]]]:
    path = str(ensure_media(video))
    cmds = {
        "floor": _worker_cmd(config, "--worker", "floor", path),
        "reference": _worker_cmd(config, "--worker", "reference", path),
        "fast": _worker_cmd(config, "--worker", "fast", path),
    }
    if config.peer_python is not None:
        cmds["peer"] = [
            config.peer_python,
            str(ROOT / "benchmarks" / "_peer_frames.py"),
            path,
            *("--fps", str(FPS), "--max-frames", str(MAX_FRAMES)),
            *("--total-pixels", str(TOTAL_PIXELS), "--min-pixels", str(MIN_PIXELS)),
        ]
    env = dict(os.environ, FORCE_QWENVL_VIDEO_READER="decord")
    runs: dict[str, list[dict[str, Any]]] = {side: [] for side in cmds}
    for i in range(config.repeats):
        for side, cmd in cmds.items():
            print(f"[{video.name}] run {i + 1}/{config.repeats}: {side} ...", flush=True)
            runs[side].append(run_side(cmd, env))
    return runs


@dataclass(frozen=True)
class SideSummary:
    wall_s: float  # median over the successful runs
    cpu_s: float  # median over the successful runs
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
        cpu_s=statistics.median(float(r.get("cpu_s", "nan")) for r in good),
        peak_rss_mb=max(float(r["peak_rss_mb"]) for r in good),
        indices=list(good[0]["indices"]),
        size=f"{good[0]['width']}x{good[0]['height']}",
        frames_decoded=good[0]["frames_decoded"],
    )


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def table(results: dict[str, dict[str, list[dict[str, Any]]]], cores: int) -> list[str]:
    """The per-file table, then the targets with met / MISSED."""
    header = (
        f"{'video':<6} {'side':<10} {'wall s':>7} {'CPU s':>7} {'busy':>5} {'peak MB':>8} {'frames':>6} "
        f"{'size':>9} {'decoded':>7} {'same idx':>8} {'x peer':>7} {'/ floor':>7} {'mem %':>6}"
    )
    lines = [header, "-" * len(header)]
    checks: list[str] = []
    for name, runs in results.items():
        summary = {side: summarise(side_runs) for side, side_runs in runs.items()}
        peer, floor = summary.get("peer"), summary.get("floor")
        for side, summ in summary.items():
            if summ is None:
                errors = "; ".join(str(r["error"]) for r in runs[side])
                lines.append(f"{name:<6} {side:<10} failed: {errors}")
                continue
            busy = summ.cpu_s / (summ.wall_s * cores)
            same = "-" if peer is None or side == "peer" else ("yes" if summ.indices == peer.indices else "NO")
            speed = f"{peer.wall_s / summ.wall_s:.2f}x" if peer and side != "peer" else ""
            over_floor = f"{summ.wall_s / floor.wall_s:.2f}" if floor and side in ("reference", "fast") else ""
            mem = f"{100 * summ.peak_rss_mb / peer.peak_rss_mb:.1f}" if peer and side != "peer" else ""
            decoded = "-" if summ.frames_decoded is None else str(summ.frames_decoded)
            lines.append(
                f"{name:<6} {side:<10} {summ.wall_s:>7.1f} {summ.cpu_s:>7.1f} {100 * busy:>4.0f}% "
                f"{summ.peak_rss_mb:>8.0f} {len(summ.indices):>6} {summ.size:>9} {decoded:>7} {same:>8} "
                f"{speed:>7} {over_floor:>7} {mem:>6}"
            )
        fast, ref = summary.get("fast"), summary.get("reference")
        if fast and floor:
            checks.append(f"{name}: fast within 1.3x of the floor: {fast.wall_s / floor.wall_s:.2f}x "
                          f"{_verdict(fast.wall_s <= 1.3 * floor.wall_s)}")  # fmt: skip
        if ref:
            ideal_s = ref.cpu_s / cores
            busy_ok = ref.wall_s <= 1.15 * ideal_s
            checks.append(f"{name}: reference keeps {cores} cores busy (wall <= 1.15 x CPU / cores): "
                          f"{ref.wall_s:.1f} s vs {ideal_s:.1f} s, {_verdict(busy_ok)}")  # fmt: skip
        if peer:
            for side, summ, target in (("fast", fast, 3.5), ("reference", ref, 2.5)):
                if summ:
                    speed = peer.wall_s / summ.wall_s
                    checks.append(f"{name}: {side} >= {target}x the peer: {speed:.2f}x {_verdict(speed >= target)}")
            for side, summ in (("fast", fast), ("reference", ref)):
                if summ:
                    share = summ.peak_rss_mb / peer.peak_rss_mb
                    checks.append(f"{name}: {side} memory <= 5 % of the peer's: {100 * share:.1f} % "
                                  f"{_verdict(share <= 0.05)}")  # fmt: skip
    lines += [
        "",
        "wall s / CPU s: medians of the work inside each process (interpreter start and imports excluded); CPU s",
        f"counts every thread; busy = CPU s / (wall s x {cores} cores); peak MB: the process's own peak RSS;",
        "x peer = peer wall / side wall; / floor = side wall / floor wall; mem % = side peak / peer peak.",
        "floor: plain PyAV decoding the packets vidground sends and converting the same pictures to RGB.",
        "",
        "targets:",
        *(f"  {c}" for c in checks),
    ]
    return lines


def back_to_back_lines(video: BenchVideo, config: RunConfig, resize: str) -> list[str]:
    """Run ``config.back_to_back`` analyses of ``video`` in one process; one row: first, median, last, RSS."""
    path = str(ensure_media(video))
    n = config.back_to_back
    print(f"[{video.name}] {n} runs back to back in one process ({resize}) ...", flush=True)
    result = run_side(
        _worker_cmd(config, "--worker", "back-to-back", path, "--resize", resize, "--n", str(n)), dict(os.environ)
    )
    label = f"{n} x {video.name}, {resize}, one process"
    if "error" in result:
        return [f"{label}: failed: {result['error']}"]
    walls = [r["wall_s"] for r in result["runs"]]
    rss = [r["rss_mb"] for r in result["runs"]]
    return [
        f"{label}: wall s first {walls[0]:.1f}, median {statistics.median(walls):.1f}, last {walls[-1]:.1f} "
        f"(all: {', '.join(f'{w:.1f}' for w in walls)})",
        f"{' ' * len(label)}  RSS after run 1 {rss[0]:.0f} MB, after run {n} {rss[-1]:.0f} MB, "
        f"peak {result['peak_rss_mb']:.0f} MB",
    ]


def machine_line() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    now = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return f"{len(os.sched_getaffinity(0))} cores, load average {load} ({now})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=sorted(VIDEOS), help="run one file only")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--peer-python", default=str(ROOT / ".peer-venv" / "bin" / "python"))
    parser.add_argument("--skip-peer", action="store_true", help="leave the peer out (quick checks only)")
    parser.add_argument("--threads", type=int, default=2, help="decoder threads (vidground and the floor)")
    parser.add_argument("--resize-threads", type=int, default=2, help="vidground's torch threads for the resize")
    parser.add_argument("--back-to-back", type=int, default=10, metavar="N", help="runs in one process (0: skip)")
    parser.add_argument("--generate-only", action="store_true", help="make the media files and stop")
    parser.add_argument("--out", help="write the table here too (default benchmarks/results/frames-DATE.txt)")
    parser.add_argument("--json", metavar="PATH", help="also write the raw results as JSON")
    parser.add_argument("--worker", nargs=2, metavar=("SIDE", "VIDEO"), help=argparse.SUPPRESS)
    parser.add_argument("--resize", default="fast", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        sys.path.insert(0, str(ROOT))
        side, path = args.worker
        if side == "floor":
            out = run_floor(path, args.threads)
        elif side == "back-to-back":
            out = run_back_to_back(path, args.resize, args.threads, args.resize_threads, args.n)
        else:
            out = run_vidground(path, side, args.threads, args.resize_threads)
        sys.stdout.write(json.dumps(out) + "\n")
        return
    chosen = [VIDEOS[args.only]] if args.only else list(VIDEOS.values())
    if args.generate_only:
        for video in chosen:
            ensure_media(video)
        return
    if not args.skip_peer and not Path(args.peer_python).exists():
        sys.exit(f"peer python {args.peer_python} not found; run benchmarks/setup_peer_env.sh first")
    config = RunConfig(
        repeats=args.repeats,
        peer_python=None if args.skip_peer else args.peer_python,
        threads=args.threads,
        resize_threads=args.resize_threads,
        back_to_back=args.back_to_back,
    )
    started = time.perf_counter()
    lines = [f"$ {' '.join([Path(sys.executable).name, *sys.argv])}", f"before: {machine_line()}"]
    results = {video.name: bench(video, config) for video in chosen}
    cores = len(os.sched_getaffinity(0))
    lines += ["", *table(results, cores)]
    if config.back_to_back:
        lines += ["", *back_to_back_lines(VIDEOS["5min"], config, "fast")]
    lines += ["", f"after: {machine_line()}; the whole run took {time.perf_counter() - started:.0f} s"]
    text = "\n".join(lines) + "\n"
    print("\n" + text, end="")
    stamp = time.strftime("%Y-%m-%d-%H%M", time.gmtime())
    out_path = Path(args.out) if args.out else RESULTS_DIR / f"frames-{stamp}.txt"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(text)
    print(f"written to {out_path}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
