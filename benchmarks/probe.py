"""Probe benchmark: vidground's probe against its floor (a bare PyAV demux of the same packets) and decord's open.

vidground's probe reads every video packet's PTS (no decoding) so that frame times, keyframes, VFR and damage come
from the stream itself; its floor is the same demux with nothing kept. decord (the peer, under .peer-venv) builds
its frame index when a ``VideoReader`` opens the file. Each side runs ``--repeats`` times in its own subprocess,
after an untimed run that warms the page cache; medians are printed with the ratios.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/probe.py [--only 5min|1h] [--repeats 5]

The files are benchmarks/frames.py's (``--generate-only`` makes them).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from frames import MEDIA_DIR, VIDEOS, machine_line  # noqa: E402

WORKER = """
import json, sys, time
side, path, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3])
if side == "vidground":
    from vidground.video.probe import probe
    def run():
        return probe(path).n_frames
elif side == "floor":
    import av
    def run():
        with av.open(path) as container:
            stream = container.streams.video[0]
            return sum(1 for packet in container.demux(stream) if packet.size)
else:
    import decord
    def run():
        return len(decord.VideoReader(path, num_threads=1))
frames = run()
times = []
for _ in range(repeats):
    started = time.perf_counter()
    assert run() == frames
    times.append(time.perf_counter() - started)
print(json.dumps({"frames": frames, "times": times}))
"""


def side_times(side: str, python: str, path: Path, repeats: int) -> dict[str, object]:
    done = subprocess.run(
        [python, "-c", WORKER, side, str(path), str(repeats)], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=sorted(VIDEOS), help="one file only")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--peer-python", default=str(ROOT / ".peer-venv" / "bin" / "python"))
    args = parser.parse_args()
    chosen = [VIDEOS[args.only]] if args.only else list(VIDEOS.values())
    print(f"before: {machine_line()}")
    print(f"{'video':<6} {'side':<10} {'frames':>7} {'median s':>9} {'min s':>7} {'x floor':>8} {'x peer':>7}")
    for video in chosen:
        path = MEDIA_DIR / video.file
        if not path.exists():
            sys.exit(f"{path} is missing; run benchmarks/frames.py --generate-only first")
        sides = {"floor": sys.executable}
        if Path(args.peer_python).exists():
            sides["decord"] = args.peer_python
        sides["vidground"] = sys.executable
        medians = {}
        for side, python in sides.items():
            out = side_times(side, python, path, args.repeats)
            times = [float(t) for t in out["times"]]  # type: ignore[union-attr]
            medians[side] = statistics.median(times)
            floor = medians[side] / medians["floor"]
            peer = f"{medians['decord'] / medians[side]:.2f}" if "decord" in medians and side != "decord" else ""
            print(
                f"{video.name:<6} {side:<10} {out['frames']:>7} {medians[side]:>9.3f} {min(times):>7.3f} "
                f"{floor:>8.2f} {peer:>7}"
            )
    print(f"after: {machine_line()}")
    print("x floor: median / the bare demux's median; x peer: decord's median / the side's (above 1: faster).")


if __name__ == "__main__":
    main()
