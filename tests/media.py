"""Test media made with PyAV: videos whose frames encode their own index, plus deliberately broken files.

Every generated video frame carries its source frame number as a 4×4 grid of big black/white cells (12 data
bits and four corner markers), so a test can read back which frame a decoder really returned, after
compression, resizing and rotation. The grid is drawn in the *displayed* orientation; for a rotated video the
stored picture is turned the other way, so only a decoder that applies the rotation metadata gets a readable
frame back.

Used by ``tests/conftest.py`` and by ``benchmarks/frames.py``; no network, no system ffmpeg.
"""

from __future__ import annotations

import itertools
import os
from fractions import Fraction
from pathlib import Path

import numpy as np

GRID = 4
# Corner cells: top-left white, the other three black. Any rotation or flip moves the white corner, so a frame
# read in the wrong orientation fails the marker check instead of yielding a wrong number.
_MARKERS = {(0, 0): 1, (0, GRID - 1): 0, (GRID - 1, 0): 0, (GRID - 1, GRID - 1): 0}
_DATA_CELLS = [(r, c) for r in range(GRID) for c in range(GRID) if (r, c) not in _MARKERS]
MAX_INDEX = 2 ** len(_DATA_CELLS) - 1  # 4095


def _cell_edges(size: int) -> list[int]:
    return [round(i * size / GRID) for i in range(GRID + 1)]


def render_index_frame(index: int, width: int, height: int) -> np.ndarray:
    """Draw frame ``index`` as an RGB picture.

    Args:
        index: frame number to encode, 0..4095.
        width, height: picture size in pixels (at least 16×16).

    Returns:
        uint8 array (height, width, 3): each grid cell's centre is white (bit 1) or black (bit 0); the cell
        borders carry a gradient that moves with ``index``, so consecutive frames differ like real motion
        does.
    """
    if not 0 <= index <= MAX_INDEX:
        raise ValueError(f"frame index must be in 0..{MAX_INDEX}, got {index}")
    bits = {cell: (index >> k) & 1 for k, cell in enumerate(_DATA_CELLS)}
    bits.update(_MARKERS)
    xs = np.arange(width)[None, :]
    ys = np.arange(height)[:, None]
    texture = ((xs * 3 + ys * 2 + index * 5) % 256).astype(np.uint8)  # (H, W)
    out = np.repeat(texture[:, :, None], 3, axis=2)
    out[:, :, 1] = 255 - texture
    rows, cols = _cell_edges(height), _cell_edges(width)
    for (r, c), bit in bits.items():
        y0, y1, x0, x1 = rows[r], rows[r + 1], cols[c], cols[c + 1]
        my, mx = (y1 - y0) // 6, (x1 - x0) // 6  # keep a thin moving border around each cell's centre
        out[y0 + my : y1 - my, x0 + mx : x1 - mx] = 255 if bit else 0
    return out


def read_frame_index(frame: object) -> int:
    """Read back the index drawn by :func:`render_index_frame`.

    Args:
        frame: uint8 (3, H, W) tensor or array (CHW, as decode returns), or an (H, W, 3) array.

    Returns:
        The frame number.

    Raises:
        ValueError: the corner markers do not match (wrong orientation, wrong colours, or not an index frame).
    """
    arr = np.asarray(frame.numpy() if hasattr(frame, "numpy") else frame)
    if arr.ndim != 3:
        raise ValueError(f"expected a 3-D frame, got shape {arr.shape}")
    hwc = arr if arr.shape[-1] == 3 and arr.shape[0] != 3 else arr.transpose(1, 2, 0)
    gray = hwc.astype(np.float32).mean(axis=2)
    rows, cols = _cell_edges(gray.shape[0]), _cell_edges(gray.shape[1])
    values: dict[tuple[int, int], int] = {}
    for r in range(GRID):
        for c in range(GRID):
            y0, y1, x0, x1 = rows[r], rows[r + 1], cols[c], cols[c + 1]
            qy, qx = max((y1 - y0) // 3, 0), max((x1 - x0) // 3, 0)
            centre = gray[y0 + qy : max(y1 - qy, y0 + qy + 1), x0 + qx : max(x1 - qx, x0 + qx + 1)]
            values[(r, c)] = int(centre.mean() > 127.5)
    if any(values[cell] != bit for cell, bit in _MARKERS.items()):
        raise ValueError(f"corner markers {[values[c] for c in _MARKERS]} != {list(_MARKERS.values())}")
    return sum(values[cell] << k for k, cell in enumerate(_DATA_CELLS))


def vfr_durations_ms(n_frames: int, seed: int = 7) -> list[int]:
    """Irregular frame durations in milliseconds (20..80 ms), reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    return [int(d) for d in rng.choice([20, 33, 40, 50, 80], size=n_frames)]


def make_video(
    path: str | os.PathLike[str],
    *,
    width: int,
    height: int,
    fps: float,
    n_frames: int,
    gop: int | None = None,
    vfr: bool = False,
    rotate: int = 0,
    audio: bool = False,
    codec: str = "libx264",
    preset: str = "veryfast",
    pix_fmt: str | None = None,
    faststart: bool = False,
    index_every: int = 1,
    x264_params: str = "",
) -> Path:
    """Encode a video whose frames show their own index (see :func:`render_index_frame`).

    Args:
        path: output file; the container follows the extension (``.mp4``, ``.mkv``, ...).
        width, height: *displayed* size in pixels. Odd sizes are stored as yuv444p (x264 needs even sizes for
            4:2:0).
        fps: nominal frame rate; with ``vfr`` the frame durations are irregular instead
            (``vfr_durations_ms``).
        n_frames: number of frames (at most 4096, the bar code's range, unless ``index_every`` > 1).
        gop: keyframe interval in frames (scene-cut keyframes off); None = the encoder's default.
        rotate: clockwise degrees the stored picture must be turned for display (0, 90, 180, 270), written as
            a display matrix; the stored picture is drawn turned the other way so the displayed one is
            upright.
        audio: add a mono AAC track (a quiet tone) covering the video.
        preset: x264 preset; ``veryfast`` keeps B-frames (non-reference pictures), ``ultrafast`` has none.
        pix_fmt: override the stored pixel format.
        faststart: put the MP4 index (moov) before the media data.
        x264_params: extra libx264 options, ``key=value`` joined by ``:`` (e.g. ``bframes=2``).
        index_every: redraw the bar code only every this many frames (the benchmark's long files reuse
            pictures).

    Returns:
        ``path`` as a Path.
    """
    import av

    path = Path(path)
    if rotate % 90 or rotate not in (0, 90, 180, 270):
        raise ValueError(f"rotate must be 0, 90, 180 or 270, got {rotate}")
    stored_w, stored_h = (height, width) if rotate in (90, 270) else (width, height)
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as container:
        rate = Fraction(fps).limit_denominator(1001)
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height = stored_w, stored_h
        stream.pix_fmt = pix_fmt or ("yuv444p" if stored_w % 2 or stored_h % 2 else "yuv420p")
        if codec == "libx264":
            params = ":".join(p for p in ("scenecut=0" if gop else "", x264_params) if p)
            stream.options = {"preset": preset, **({"x264-params": params} if params else {})}
        if gop:
            stream.codec_context.gop_size = gop
        if rotate:
            stream.set_display_rotation(-rotate)  # PyAV takes counter-clockwise degrees
        time_base = Fraction(1, 1000) if vfr else 1 / rate
        stream.codec_context.time_base = time_base
        durations = vfr_durations_ms(n_frames) if vfr else [1] * n_frames
        audio_stream = container.add_stream("aac", rate=16000, layout="mono") if audio else None

        pts = 0
        frame = None
        for i in range(n_frames):
            if frame is None or i % index_every == 0:
                display = render_index_frame(i // index_every % (MAX_INDEX + 1), width, height)
                picture = np.ascontiguousarray(np.rot90(display, k=rotate // 90))
                # Converted once per picture: the encoder copies frames, so repeats reuse it with a new PTS.
                frame = av.VideoFrame.from_ndarray(picture, format="rgb24").reformat(format=stream.pix_fmt)
            frame.pts, frame.time_base = pts, time_base
            pts += durations[i]
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)

        if audio_stream is not None:
            seconds = float(pts * time_base)
            n_chunks = int(seconds * 16000 / 1024) + 1
            t = np.arange(1024, dtype=np.float32) / 16000
            for k in range(n_chunks):
                samples = 0.1 * np.sin(2 * np.pi * 440 * (t + k * 1024 / 16000), dtype=np.float32)
                aframe = av.AudioFrame.from_ndarray(samples[None, :], format="fltp", layout="mono")
                aframe.sample_rate, aframe.pts = 16000, k * 1024
                for packet in audio_stream.encode(aframe):
                    container.mux(packet)
            for packet in audio_stream.encode():
                container.mux(packet)
    return path


def make_audio_only(path: str | os.PathLike[str], seconds: float = 1.0) -> Path:
    """An MP4 with one AAC track and no video."""
    import av

    path = Path(path)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=16000, layout="mono")
        for k in range(int(seconds * 16000 / 1024) + 1):
            aframe = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            aframe.sample_rate, aframe.pts = 16000, k * 1024
            for packet in stream.encode(aframe):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def make_broken_files(folder: str | os.PathLike[str]) -> dict[str, Path]:
    """Write the broken inputs probe must refuse, plus a valid single-frame video.

    Returns:
        name → path for ``empty`` (0 bytes), ``truncated`` (first half of an MP4 whose index is at the end),
        ``truncated_faststart`` (first half of an MP4 whose index is at the front), ``truncated_99`` (the
        same MP4 cut at 99 % of its bytes: readable but for its last frames), ``random_bytes`` (.mp4),
        ``text`` (a .txt file), ``audio_only``, ``absurd_size`` (a Y4M header claiming 20000×16) and
        ``single_frame`` (valid; probe accepts it, sampling refuses it later).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    out["empty"] = folder / "empty.mp4"
    out["empty"].write_bytes(b"")

    whole = make_video(folder / "whole.mp4", width=64, height=48, fps=30, n_frames=60)
    data = whole.read_bytes()
    out["truncated"] = folder / "truncated.mp4"
    out["truncated"].write_bytes(data[: len(data) // 2])
    whole_fs = make_video(folder / "whole_fs.mp4", width=64, height=48, fps=30, n_frames=60, faststart=True)
    data = whole_fs.read_bytes()
    out["truncated_faststart"] = folder / "truncated_faststart.mp4"
    out["truncated_faststart"].write_bytes(data[: len(data) // 2])
    out["truncated_99"] = folder / "truncated_99.mp4"  # a download stopped just before the end
    out["truncated_99"].write_bytes(data[: len(data) * 99 // 100])

    out["random_bytes"] = folder / "random.mp4"
    out["random_bytes"].write_bytes(
        np.random.default_rng(3).integers(0, 256, 20_000, dtype=np.uint8).tobytes()
    )
    out["text"] = folder / "notes.txt"
    out["text"].write_text("This is not a video.\nJust some notes about one.\n" * 20)
    out["audio_only"] = make_audio_only(folder / "audio_only.mp4")
    out["absurd_size"] = folder / "absurd_size.y4m"
    out["absurd_size"].write_bytes(b"YUV4MPEG2 W20000 H16 F30:1 Ip A1:1 C420jpeg\n")
    out["single_frame"] = make_video(folder / "single_frame.mp4", width=64, height=48, fps=30, n_frames=1)
    return out


def remux_cut(
    src: str | os.PathLike[str], dst: str | os.PathLike[str], *, from_packet: int = 0, zero_frame: int = 0
) -> Path:
    """Stream-copy ``src``'s video into ``dst`` the way cutting tools do, without re-encoding.

    Args:
        src: a video from :func:`make_video` (constant frame rate).
        dst: output file; ``.mp4`` writes an edit list, ``.ts`` an MPEG-TS.
        from_packet: drop the packets before this one in decode order. A non-keyframe here makes a stream
            that starts mid-GOP, as a recording joined late does: its first pictures cannot be decoded.
        zero_frame: shift timestamps so source frame ``zero_frame`` is shown at time 0, as ``ffmpeg -ss``
            with ``-c copy`` does: the packets before it (back to the keyframe) become edit-list pre-roll
            that decoders use as references but never show.

    Returns:
        ``dst`` as a Path. The bar codes still show ``src``'s frame numbers.
    """
    import av

    dst = Path(dst)
    with av.open(str(src)) as source, av.open(str(dst), "w") as target:
        stream = source.streams.video[0]
        out_stream = target.add_stream_from_template(stream)
        packets = [p for p in source.demux(stream) if p.dts is not None]
        step = packets[0].duration
        for packet in packets[from_packet:]:
            packet.pts -= zero_frame * step
            packet.dts -= zero_frame * step
            packet.stream = out_stream
            target.mux(packet)
    return dst


def retime(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    pts: list[int],
    time_base: Fraction,
) -> Path:
    """Stream-copy ``src``'s video into ``dst`` with new per-frame timestamps, without re-encoding.

    Args:
        src: a video from :func:`make_video` without B-frames (``preset="ultrafast"``), so packet ``i`` is
            frame ``i`` in both decode and presentation order.
        dst: output file; the container follows the extension.
        pts: one presentation time per packet, in ``time_base`` ticks (repeats make duplicate timestamps).
        time_base: the unit of ``pts``.

    The container keeps stating ``src``'s frame rate (e.g. as Matroska's default duration), true or not.

    Returns:
        ``dst`` as a Path. The bar codes still show ``src``'s frame numbers.
    """
    import av

    dst = Path(dst)
    with av.open(str(src)) as source, av.open(str(dst), "w") as target:
        stream = source.streams.video[0]
        out_stream = target.add_stream_from_template(stream)
        out_stream.time_base = time_base
        packets = [p for p in source.demux(stream) if p.size]
        if len(packets) != len(pts):
            raise ValueError(f"{src} has {len(packets)} packets, got {len(pts)} timestamps")
        steps = [b - a for a, b in itertools.pairwise(pts)]
        for i, packet in enumerate(packets):
            packet.pts = packet.dts = pts[i]
            packet.time_base = time_base
            # the last frame lasts as long as the step before it
            packet.duration = next((s for s in steps[i:] if s > 0), next((s for s in reversed(steps) if s > 0), 1))
            packet.stream = out_stream
            target.mux(packet)
    return dst


def make_rate_change_video(
    path: str | os.PathLike[str], *, slow_fps: int = 15, fast_fps: int = 30, seconds: int = 4
) -> Path:
    """``seconds`` at ``slow_fps``, then ``seconds`` at ``fast_fps`` (a phone's VFR): frame ``i`` shows ``i``.

    Example (defaults): frames 0..59 at 0, 1/15, ... 59/15 s; frames 60..179 at 4, 4 + 1/30, ... 7.967 s.
    """
    path = Path(path)
    n_slow, n_fast = slow_fps * seconds, fast_fps * seconds
    source = make_video(
        path.with_name(path.stem + "_cfr.mp4"), width=64, height=48, fps=fast_fps, n_frames=n_slow + n_fast,
        preset="ultrafast",
    )
    step = fast_fps // slow_fps
    pts = [i * step for i in range(n_slow)] + [n_slow * step + i for i in range(n_fast)]
    return retime(source, path, pts=pts, time_base=Fraction(1, fast_fps))


def make_sparse_mkv(
    path: str | os.PathLike[str], *, n_frames: int = 20, every_s: int = 3, claimed_fps: int = 24
) -> Path:
    """A Matroska file with one frame every ``every_s`` seconds whose header claims ``claimed_fps``.

    Example (defaults): 20 frames at 0, 3, ..., 57 s (60 s of video) that the container says are 24 fps,
    i.e. 0.833 s if one believed it.
    """
    path = Path(path)
    source = make_video(
        path.with_name(path.stem + "_cfr.mp4"), width=64, height=48, fps=claimed_fps, n_frames=n_frames,
        preset="ultrafast",
    )
    pts = [i * every_s * 1000 for i in range(n_frames)]
    return retime(source, path, pts=pts, time_base=Fraction(1, 1000))


def make_duplicate_timestamps_mkv(path: str | os.PathLike[str], *, n_frames: int = 30) -> Path:
    """A Matroska file whose frames come in pairs that share a timestamp (some muxers write this).

    Example: frames 0 and 1 at 0 s, 2 and 3 at 0.067 s, ...; every frame is decodable and shows its index.
    """
    path = Path(path)
    source = make_video(
        path.with_name(path.stem + "_cfr.mp4"), width=64, height=48, fps=30, n_frames=n_frames, preset="ultrafast"
    )
    return retime(source, path, pts=[(i // 2) * 67 for i in range(n_frames)], time_base=Fraction(1, 1000))


def spoken(text: str, folder: Path) -> np.ndarray:
    """``text`` spoken by ``espeak-ng`` as float32 mono samples at 16 kHz (the test is skipped without it)."""
    import shutil
    import subprocess
    import wave

    import av
    import pytest

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (scripts/setup installs it)")
    wav = folder / f"said-{abs(hash(text))}.wav"
    subprocess.run(["espeak-ng", "-s", "150", "-w", str(wav), text], check=True, capture_output=True)
    with wave.open(str(wav)) as reader:
        rate = reader.getframerate()
        pcm = np.frombuffer(reader.readframes(reader.getnframes()), dtype=np.int16)
    frame = av.AudioFrame.from_ndarray(pcm[None, :], format="s16", layout="mono")
    frame.sample_rate = rate
    resampler = av.AudioResampler(format="flt", layout="mono", rate=16000)
    chunks = [f.to_ndarray().reshape(-1) for f in [*resampler.resample(frame), *resampler.resample(None)]]
    return np.concatenate(chunks).astype(np.float32)


def make_talking_video(
    path: str | os.PathLike[str],
    said: list[tuple[float, np.ndarray]],
    *,
    seconds: float,
    fps: float = 10.0,
    width: int = 160,
    height: int = 96,
    audio_tracks: int = 1,
    speech_track: int = 0,
) -> Path:
    """A video of index frames with ``said`` (start second, 16 kHz samples) in its audio; with ``audio_tracks``
    above one, the other tracks are silent and carry no samples at all (they end at once)."""
    import av

    path = Path(path)
    track = np.zeros(int(seconds * 16000), np.float32)
    for start_s, samples in said:
        at = int(start_s * 16000)
        piece = samples[: max(0, len(track) - at)]
        track[at : at + len(piece)] += piece
    with av.open(str(path), "w") as container:
        rate = Fraction(fps).limit_denominator(1001)
        video = container.add_stream("libx264", rate=rate)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audios = [container.add_stream("aac", rate=16000, layout="mono") for _ in range(audio_tracks)]
        for i in range(int(seconds * fps)):
            frame = av.VideoFrame.from_ndarray(render_index_frame(i, width, height), format="rgb24")
            frame.pts, frame.time_base = i, 1 / rate
            for packet in video.encode(frame.reformat(format="yuv420p")):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        for number, stream in enumerate(audios):
            if number == speech_track:
                for k in range(0, len(track), 1024):
                    chunk = track[k : k + 1024]
                    aframe = av.AudioFrame.from_ndarray(chunk[None, :], format="fltp", layout="mono")
                    aframe.sample_rate, aframe.pts = 16000, k
                    for packet in stream.encode(aframe):
                        container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
    return path
