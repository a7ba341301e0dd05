"""Decode a :class:`FramePlan`'s frames into a model-ready uint8 tensor, through a backend chosen by name.

Two backends, picked explicitly (``pyav`` or ``decord``); an unknown or failing backend raises
:class:`DecoderBackendError` naming it and the file — never a silent switch to the other one. Both return the
same frame numbers, the same PTS and the same pixels for the same plan on MP4/MKV files; decord's seeking is
wrong on some files (MPEG-TS; spec section 9.9) and it reports no PTS per decoded frame, so PyAV is the default.
Each frame is rotated upright and
resized to the plan's size as soon as it is decoded, so a full-resolution array of all sampled frames never
exists. With PyAV, decoding runs in its own thread and the conversion to RGB and the resize in others,
overlapping (:func:`overlapped`): at most :data:`QUEUE_FRAMES` decoded pictures wait between them. A plan
spanning several GOPs is split into :data:`DECODERS` runs of GOPs decoded in parallel, each by its own
single-threaded decoder on its own demuxer (:func:`split_at_keyframes`): after every seek a frame-threaded decoder
waits on the one chain of reference pictures, while independent GOPs keep every core busy.

The PyAV path is the fast one (spec section 12): one forward pass; a seek only when the next target lies in a
later GOP than the packets already sent; frame threading; and H.264 packets that no other picture references
(``nal_ref_idc == 0`` in every NAL unit) are not sent to the decoder unless they are targets themselves.
Dropping them cannot change any other picture, because no other picture predicts from them.
"""

from __future__ import annotations

import bisect
import logging
import os
import queue
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from fractions import Fraction
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from vidground.errors import ConfigError, DecoderBackendError, SamplingError
from vidground.options import DecoderName, ResizeMode
from vidground.timeline import FramePlan, SampledFrame, VideoProbe
from vidground.video.probe import probe as probe_video
from vidground.video.probe import pts_to_seconds, stream_origin_pts
from vidground.video.resize import resize_frame

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class DecodedVideo:
    """The plan's frames, decoded, upright and resized.

    ``frames`` is uint8 (T, 3, H, W) at the plan's size, in plan order. ``sampled[i]`` is frame ``i``'s source
    index and its PTS in seconds (PyAV: read from the decoded frame itself; decord, which gives no PTS per
    decoded frame: the probe's time for that index). ``frames_decoded`` counts the pictures
    the decoder had to decode to produce them (None where the backend does not say, as with decord).
    """

    frames: torch.Tensor
    sampled: tuple[SampledFrame, ...]
    backend: str
    frames_decoded: int | None = None


class FrameDecoder(Protocol):
    """A decoding backend: turns a plan into upright, resized frames."""

    name: str

    def decode(
        self,
        path: Path,
        plan: FramePlan,
        probe: VideoProbe,
        *,
        resize: ResizeMode,
        threads: int,
        resize_threads: int,
        on_progress: ProgressCallback | None,
    ) -> DecodedVideo:
        """Decode ``plan``'s frames of ``path`` (``probe`` is its probe). Raises DecoderBackendError."""
        ...


def decode_frames(
    path: str | os.PathLike[str],
    plan: FramePlan,
    *,
    backend: DecoderName | str = DecoderName.PYAV,
    resize: ResizeMode | str = ResizeMode.REFERENCE,
    threads: int = 2,
    resize_threads: int = 2,
    probe: VideoProbe | None = None,
    on_progress: ProgressCallback | None = None,
) -> DecodedVideo:
    """Decode the frames a plan picked, rotated upright and resized to the plan's size.

    Args:
        path: the video file the plan was made for.
        plan: which source frames (``plan.indices``, presentation order) and the target ``height``×``width``.
        backend: ``pyav`` or ``decord``.
        resize: ``reference`` (qwen-vl-utils' pixels) or ``fast`` (see :mod:`vidground.video.resize`).
        threads: decoding threads in all, shared by the parallel PyAV decoders (0 = FFmpeg's choice for each).
        resize_threads: threads resizing frames while the decoder runs, each on one torch thread; torch's
            own setting is restored afterwards (see :func:`torch_threads`).
        probe: the file's probe if already made (saves a demux pass).
        on_progress: called as ``on_progress(done, total)`` after each decoded target frame.

    Returns:
        A :class:`DecodedVideo` with ``frames`` uint8 (T, 3, plan.height, plan.width).

    Raises:
        DecoderBackendError: unknown backend, or the backend failed on this file.
        VideoDecodeError: the file cannot be probed (missing, corrupt, not a video).
        ConfigError: unknown resize mode.
        SamplingError: the plan does not fit this video (index out of range, empty plan, bad size).
    """
    decoder = get_decoder(backend, path)
    try:
        resize_mode = ResizeMode(resize)
    except ValueError:
        choices = ", ".join(m.value for m in ResizeMode)
        raise ConfigError(f"resize mode must be one of {choices}, got {resize!r}") from None
    file = Path(path)
    info = probe if probe is not None else probe_video(file)
    _check_plan(file, plan, info)
    return decoder.decode(
        file,
        plan,
        info,
        resize=resize_mode,
        threads=threads,
        resize_threads=resize_threads,
        on_progress=on_progress,
    )


def get_decoder(name: DecoderName | str, path: object | None = None) -> FrameDecoder:
    """The backend registered under ``name``. Raises DecoderBackendError for an unknown name."""
    factory = _BACKENDS.get(str(name))
    if factory is None:
        known = ", ".join(sorted(_BACKENDS))
        raise DecoderBackendError(str(name), path, f"unknown decoder backend; expected one of {known}")
    return factory()


def _check_plan(file: Path, plan: FramePlan, info: VideoProbe) -> None:
    if not plan.frames:
        raise SamplingError(f"{file}: the frame plan is empty; expected at least one frame")
    if plan.height <= 0 or plan.width <= 0:
        raise SamplingError(f"{file}: plan size {plan.width}x{plan.height} must be positive")
    if len(info.frame_times_s) != info.n_frames:
        raise SamplingError(
            f"{file}: the probe has {len(info.frame_times_s)} frame times for {info.n_frames} frames; "
            "expected one per frame (pass a probe made by vidground.video.probe.probe)"
        )
    bad = [i for i in plan.indices if not 0 <= i < info.n_frames]
    if bad:
        raise SamplingError(
            f"{file}: plan frame index {bad[0]} is outside the video's 0..{info.n_frames - 1}; "
            "was the plan made for another file?"
        )


def _upright(frame_hwc: np.ndarray, rotation_deg: int) -> np.ndarray:
    """Turn a stored (H, W, 3) picture clockwise by ``rotation_deg`` (np.rot90 turns counter-clockwise)."""
    return np.rot90(frame_hwc, k=-(rotation_deg // 90)) if rotation_deg else frame_hwc


def _slots(plan: FramePlan) -> dict[int, list[int]]:
    """Source index → positions in the plan (a plan may repeat an index)."""
    slots: dict[int, list[int]] = {}
    for pos, idx in enumerate(plan.indices):
        slots.setdefault(idx, []).append(pos)
    return slots


class _Output:
    """Preallocated (T, 3, H, W) result, filled frame by frame."""

    def __init__(self, plan: FramePlan, resize: ResizeMode, rotation_deg: int, on_progress: ProgressCallback | None):
        self.plan, self.resize, self.rotation_deg, self.on_progress = plan, resize, rotation_deg, on_progress
        self.frames = torch.empty((len(plan.frames), 3, plan.height, plan.width), dtype=torch.uint8)
        self.slots = _slots(plan)
        self.times_s: dict[int, float] = {}
        self.done = 0

    def resized(self, frame_hwc: np.ndarray) -> torch.Tensor:
        """The picture upright at the plan's size, (3, H, W) uint8. Pure: any thread may call it."""
        return resize_frame(_upright(frame_hwc, self.rotation_deg), self.plan.height, self.plan.width, self.resize)

    def store(self, index: int, chw: torch.Tensor, time_s: float) -> None:
        """Put a resized frame in every slot that asked for it and report progress (the calling thread only)."""
        for pos in self.slots[index]:
            self.frames[pos] = chw
        self.times_s[index] = time_s
        self.done += 1
        if self.on_progress is not None:
            self.on_progress(self.done, len(self.slots))

    def put(self, index: int, frame_hwc: np.ndarray, time_s: float) -> None:
        self.store(index, self.resized(frame_hwc), time_s)

    def result(self, backend: str, frames_decoded: int | None) -> DecodedVideo:
        sampled = tuple(SampledFrame(index=i, time_s=self.times_s[i]) for i in self.plan.indices)
        return DecodedVideo(frames=self.frames, sampled=sampled, backend=backend, frames_decoded=frames_decoded)


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with torch's intra-op threads set to ``n``, then put torch's setting back.

    torch's OpenMP workers spin between operations: at torch's default (one per core) they take the cores
    FFmpeg's decode threads need (measured on 2 cores: the exact resize of the 5-minute 1080p benchmark file
    took twice as long next to decoding at 2 torch threads as at 1). With 1, each resize runs inline on its own
    thread and nothing spins. Only this process's torch setting changes, only inside the block, and threads
    that already ran torch work keep theirs; no environment variable is touched.
    """
    before = torch.get_num_threads()
    if n != before:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


QUEUE_FRAMES = 4
"""Decoded full-size pictures waiting for a resizer: what bounds the memory (4 × 3 MB of YUV 4:2:0 at 1080p)."""

_POLL_S = 0.1  # how often a waiting thread looks whether the others have stopped


class _Stopped(Exception):
    """Raised in a worker thread when another side failed and the work is being called off."""


Picture = Any  # an (H, W, 3) uint8 RGB array, or a decoded av.VideoFrame not yet converted


class _RGB:
    """Turns a handed-over :data:`Picture` into an (H, W, 3) uint8 RGB array on the calling thread.

    A PyAV frame is converted here, in a resize thread, not in the decode thread, so the conversion overlaps
    decoding instead of delaying the next packet. One swscale context per thread, reused, on one thread of its
    own (PyAV's default makes a context per frame with a pool of one thread per core). On the 5-minute 1080p
    benchmark file ``fast`` went from 13.0 to 9.1 CPU-s and from 1.32x to 1.15x the decode floor. The pixels are
    the same as ``frame.to_ndarray(format="rgb24")``'s (the parity tests hold them to qwen-vl-utils and the HF
    processor).
    """

    def __init__(self) -> None:
        self._reformatter: Any = None

    def __call__(self, picture: Picture) -> np.ndarray:
        if isinstance(picture, np.ndarray):
            return picture
        if self._reformatter is None:
            from av.video.reformatter import VideoReformatter

            self._reformatter = VideoReformatter()
        rgb: np.ndarray = self._reformatter.reformat(picture, format="rgb24", threads=1).to_ndarray()
        return rgb


class _Handoff:
    """What the decode thread fills: a bounded queue of decoded pictures, for the resize threads.

    Carries the plan's ``slots`` so a decoder can tell targets from other pictures, as :class:`_Output` does.
    """

    def __init__(self, slots: dict[int, list[int]], max_frames: int):
        self.slots = slots
        self.pictures: queue.Queue[tuple[int, Picture, float]] = queue.Queue(maxsize=max_frames)
        self.stop = threading.Event()  # set when any side failed
        self.decoded = threading.Event()  # set when the decoder has handed over all it will

    def put(self, index: int, picture: Picture, time_s: float) -> None:
        """Hand over one decoded picture; waits while the queue is full. Raises _Stopped when called off."""
        while not self.stop.is_set():
            try:
                self.pictures.put((index, picture, time_s), timeout=_POLL_S)
                return
            except queue.Full:
                continue
        raise _Stopped

    def take(self) -> tuple[int, Picture, float] | None:
        """The next picture; None once the decoder is done and the queue is empty, or when called off."""
        while not self.stop.is_set():
            try:
                return self.pictures.get(timeout=_POLL_S)
            except queue.Empty:
                if self.decoded.is_set() and self.pictures.empty():
                    return None
        return None


def overlapped(decoders: Sequence[Callable[[_Handoff], int]], out: _Output, *, resize_threads: int) -> int:
    """Run each ``decoder(handoff)`` in its own thread while ``resize_threads`` threads resize their pictures.

    Decoding (FFmpeg's own threads; PyAV releases the GIL) and converting + resizing (swscale and torch, which
    release it too) overlap; at most :data:`QUEUE_FRAMES` decoded pictures wait between them. Each resize thread
    runs torch on one intra-op thread (see :func:`torch_threads`). The calling thread stores the frames and
    reports progress. The first exception of any side stops them all and is raised here once every thread has
    ended, so the caller may close the containers. Returns the sum of the decoders' results.
    """
    handoff = _Handoff(out.slots, QUEUE_FRAMES)
    done: queue.Queue[tuple[int, torch.Tensor, float]] = queue.Queue()
    failures: list[BaseException] = []
    outcome: list[int] = []
    running = [len(decoders)]
    running_lock = threading.Lock()

    def guarded(work: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                work()
            except _Stopped:
                pass
            except BaseException as exc:  # raised in the calling thread below
                failures.append(exc)
                handoff.stop.set()

        return run

    def decoding(decode: Callable[[_Handoff], int]) -> Callable[[], None]:
        def run() -> None:
            try:
                outcome.append(decode(handoff))
            finally:
                with running_lock:
                    running[0] -= 1
                    if running[0] == 0:
                        handoff.decoded.set()

        return run

    def resizing() -> None:
        rgb = _RGB()
        while (item := handoff.take()) is not None:
            index, picture, time_s = item
            done.put((index, out.resized(rgb(picture)), time_s))

    with torch_threads(1):
        threads = [
            threading.Thread(target=guarded(decoding(decode)), name=f"vidground-decode-{i}", daemon=True)
            for i, decode in enumerate(decoders)
        ]
        n_decoders = len(threads)
        threads += [
            threading.Thread(target=guarded(resizing), name=f"vidground-resize-{i}", daemon=True)
            for i in range(max(1, resize_threads))
        ]
        for thread in threads:
            thread.start()
        try:
            while any(t.is_alive() for t in threads[n_decoders:]) or not done.empty():
                try:
                    out.store(*done.get(timeout=_POLL_S))
                except queue.Empty:
                    continue
        finally:
            handoff.stop.set()  # a no-op after a clean run; ends the threads when storing failed
            for thread in threads:
                thread.join()
    if failures:
        raise failures[0]
    return sum(outcome)


# ---------------------------------------------------------------------------------------------------------
# PyAV


def h264_is_disposable(data: bytes, length_size: int) -> bool:
    """True when an AVCC (length-prefixed) H.264 access unit holds only ``nal_ref_idc == 0`` NAL units.

    Such a picture is never used to predict another, so skipping it leaves every other picture bit-exact.
    The NAL header byte is ``forbidden_zero(1) | nal_ref_idc(2) | nal_unit_type(5)``.
    Example (length_size 4): ``00 00 00 02 | 01 9e`` is one non-reference slice (0x01 → ref_idc 0, type 1) →
    True; ``00 00 00 02 | 41 9a`` is a reference slice (0x41 → ref_idc 2) → False. Malformed data → False.
    """
    pos, n = 0, len(data)
    seen = False
    while pos + length_size < n:
        size = int.from_bytes(data[pos : pos + length_size], "big")
        header = data[pos + length_size]
        if size == 0 or pos + length_size + size > n or header & 0x80:
            return False
        if (header >> 5) & 0x3:
            return False
        seen = True
        pos += length_size + size
    return seen and pos == n


def _avcc_length_size(stream: Any) -> int | None:
    """NAL length-prefix size of an H.264 stream stored as AVCC (MP4/MKV), or None (Annex B, other codecs)."""
    extradata = stream.codec_context.extradata
    if stream.codec_context.name != "h264" or not extradata or len(extradata) < 7 or extradata[0] != 1:
        return None
    return int(extradata[4] & 0x3) + 1


DECODERS = 2
"""PyAV decoders working on one plan at once, each on its own run of GOPs (see :func:`split_at_keyframes`)."""


def split_at_keyframes(targets: list[int], keyframes: Sequence[int], parts: int) -> list[list[int]]:
    """Split sorted target frames into up to ``parts`` runs that each start a GOP, for decoders working in parallel.

    Run ``i`` begins at the keyframe at or before the target ``i/parts`` of the way through, so a run's decoder
    seeks there and no picture is decoded twice: the runs' GOPs do not overlap. A plan whose targets share one
    GOP (or a file without listed keyframes) stays one run. Example: targets ``[0, 10, 70, 130]``, keyframes
    every 60 frames, 2 parts: the middle target is 70, whose keyframe is 60, so ``[[0, 10], [70, 130]]``.
    """
    bounds: list[int] = []
    for i in range(1, parts):
        middle = targets[i * len(targets) // parts]
        pos = bisect.bisect_right(keyframes, middle) - 1
        if pos >= 0 and keyframes[pos] > targets[0] and (not bounds or keyframes[pos] > bounds[-1]):
            bounds.append(keyframes[pos])
    runs: list[list[int]] = []
    start = 0
    for bound in bounds:
        end = bisect.bisect_left(targets, bound)
        runs.append(targets[start:end])
        start = end
    runs.append(targets[start:])
    return [run for run in runs if run]


class PyAVDecoder:
    """Forward decoding with GOP-aware seeks and non-reference packet skipping (the fast path)."""

    name = DecoderName.PYAV.value

    def decode(
        self,
        path: Path,
        plan: FramePlan,
        probe: VideoProbe,
        *,
        resize: ResizeMode,
        threads: int,
        resize_threads: int,
        on_progress: ProgressCallback | None,
    ) -> DecodedVideo:
        import av

        out = _Output(plan, resize, probe.rotation_deg, on_progress)
        parts = split_at_keyframes(sorted(out.slots), probe.keyframe_indices, DECODERS)
        # ``threads`` is what decoding may use in all: each decoder gets its share (0: FFmpeg picks for each).
        per_decoder = threads if threads == 0 else max(1, threads // len(parts))
        try:
            with ExitStack() as stack:
                containers = [stack.enter_context(av.open(str(path))) for _ in parts]
                frames_decoded = overlapped(
                    [
                        partial(self._run, container, path, probe, threads=per_decoder, targets=targets)
                        for container, targets in zip(containers, parts, strict=True)
                    ],
                    out,
                    resize_threads=resize_threads,
                )
        except av.error.FFmpegError as exc:
            raise DecoderBackendError(
                self.name, path, f"cannot open or read the file ({_ffmpeg_reason(exc)}){_damage_note(probe)}"
            ) from exc
        missing = [i for i in sorted(out.slots) if i not in out.times_s]
        if missing:
            raise DecoderBackendError(
                self.name,
                path,
                f"frame {missing[0]} ({probe.frame_times_s[missing[0]]:.3f} s) could not be decoded; "
                f"the file is damaged there{_damage_note(probe)}",
            )
        logger.debug("pyav decoded path=%s targets=%d frames_decoded=%d", path, len(out.slots), frames_decoded)
        return out.result(self.name, frames_decoded)

    def _run(
        self, container: Any, path: Path, probe: VideoProbe, out: _Handoff, *, threads: int, targets: list[int]
    ) -> int:
        """Decode ``targets`` (sorted source indices) and hand each picture over; the number of packets sent."""
        stream = container.streams.video[0]
        ctx = stream.codec_context
        ctx.thread_type = "AUTO"
        ctx.thread_count = max(0, threads)
        time_base: Fraction = stream.time_base
        origin = stream_origin_pts(stream)
        # A time may belong to several frames (duplicate timestamps, as some muxers write): the decoder shows
        # them in order, so the k-th picture with that time since the last seek is the k-th frame with it.
        indices_of_time: dict[float, list[int]] = {}
        for i, t in enumerate(probe.frame_times_s):
            indices_of_time.setdefault(t, []).append(i)
        # Only shared times need counting after a seek; a full scan per seek cost 5 s on the 1-hour benchmark
        # file (108,000 frames, 767 seeks).
        shared_times = {t: c for t, c in indices_of_time.items() if len(c) > 1}
        shown: dict[float, int] = {}  # time -> pictures with that time seen since the last seek
        keyframes = list(probe.keyframe_indices) or [0]
        length_size = _avcc_length_size(stream)
        wanted = set(targets)
        next_t = 0  # position in targets of the next frame still to emit
        max_sent = -1  # highest presentation index sent to the decoder since the last seek
        sought: set[int] = set()
        check_landing: int | None = None  # after a seek: the keyframe the demuxer should have landed on (or before)
        sent = 0

        def keyframe_at_or_before(index: int) -> int:
            # 0 (decode from the start, never seek) when no listed keyframe precedes ``index``: a frame shown
            # before the first listed keyframe (edit-list pre-roll keyframe) is only reached from the start.
            pos = bisect.bisect_right(keyframes, index) - 1
            return keyframes[pos] if pos >= 0 else 0

        def emit(frames: list[Any]) -> None:
            nonlocal next_t
            for frame in frames:
                if frame.pts is None:
                    continue
                time_s = pts_to_seconds(frame.pts, origin, time_base)
                candidates = indices_of_time.get(time_s)
                index = None
                if candidates is not None:
                    index = candidates[min(shown.get(time_s, 0), len(candidates) - 1)]
                    shown[time_s] = shown.get(time_s, 0) + 1
                if index is None or next_t >= len(targets) or index < targets[next_t]:
                    continue
                if index > targets[next_t]:
                    raise DecoderBackendError(
                        self.name,
                        path,
                        f"frame {targets[next_t]} was skipped by the decoder (got {index} after it)",
                    )
                out.put(index, frame, time_s)  # converted to RGB by a resize thread
                next_t += 1

        def seek_to(index: int) -> Iterator[Any]:
            ctx.flush_buffers()
            # Decoding restarts at frame ``index``: frames before it that share a time with later ones are
            # not shown again.
            shown.clear()
            for t, candidates in shared_times.items():
                before = bisect.bisect_left(candidates, index)
                if before and before < len(candidates):
                    shown[t] = before
            seek_pts = origin + round(Fraction(probe.frame_times_s[index]) / time_base)
            container.seek(seek_pts, backward=True, any_frame=False, stream=stream)
            demuxed: Iterator[Any] = container.demux(stream)
            return demuxed

        packets = container.demux(stream)
        start_key = keyframe_at_or_before(targets[0])
        if start_key > 0:
            sought.add(start_key)
            check_landing = start_key
            packets = seek_to(start_key)
        while next_t < len(targets):
            packet = next(packets, None)
            if packet is None:
                break
            if packet.size == 0 or packet.is_corrupt:
                # A cut-off or corrupt packet only breaks the decoder; the probe left its frames out.
                continue
            candidates = (
                None if packet.pts is None else indices_of_time.get(pts_to_seconds(packet.pts, origin, time_base))
            )
            # the lowest frame a packet can be (for seeks) and the highest (for what has been sent)
            index = None if candidates is None else candidates[0]
            if index is not None and check_landing is not None:
                landed_past = index > check_landing
                check_landing = None
                if landed_past:
                    # The container's index put us after the keyframe we asked for: restart from the
                    # beginning.
                    max_sent = -1
                    packets = seek_to(0)
                    continue
            if index is not None:
                key = keyframe_at_or_before(targets[next_t])
                if candidates is not None and candidates[-1] < key and max_sent < key and key not in sought:
                    # The next target is in a later GOP than anything sent: jump there instead of decoding up
                    # to it.
                    sought.add(key)
                    max_sent = -1
                    check_landing = key
                    packets = seek_to(key)
                    continue
                if (
                    length_size is not None
                    and candidates is not None
                    and not any(i in wanted for i in candidates)
                    and h264_is_disposable(bytes(packet), length_size)
                ):
                    continue
                max_sent = max(max_sent, index if candidates is None else candidates[-1])
            sent += 1
            emit(self._decode(ctx, packet, path, probe, origin, time_base))
        if next_t < len(targets):
            emit(self._decode(ctx, None, path, probe, origin, time_base))
        return sent

    def _decode(
        self, ctx: Any, packet: Any, path: Path, probe: VideoProbe, origin: int, time_base: Fraction
    ) -> list[Any]:
        """The pictures the decoder returns for ``packet`` (None: flush); a failure names the time it hit."""
        import av

        try:
            return list(ctx.decode(packet))
        except av.error.FFmpegError as exc:
            at = (
                "at the end of the stream"
                if packet is None or packet.pts is None
                else f"at {pts_to_seconds(packet.pts, origin, time_base):.3f} s"
            )
            raise DecoderBackendError(
                self.name,
                path,
                f"the video cannot be decoded {at} ({_ffmpeg_reason(exc)}); the file is damaged there"
                f"{_damage_note(probe)}",
            ) from exc


def _ffmpeg_reason(exc: Exception) -> str:
    strerror = getattr(exc, "strerror", None)
    return str(strerror) if strerror else type(exc).__name__


def _damage_note(probe: VideoProbe) -> str:
    return f" (probe: {probe.damaged})" if probe.damaged else ""


# -------------------------------------------------------------------------------------------------------
# decord

_DECORD_CHUNK = 16  # frames fetched per get_batch: bounds the full-resolution memory to 16 frames


def _refuse_transport_streams(path: Path) -> None:
    """decord 0.6 seeks to wrong frames in MPEG-TS and reports no per-frame time to catch it: refuse it there."""
    import av

    try:
        with av.open(str(path)) as container:
            formats = set(container.format.name.split(","))
    except av.error.FFmpegError as exc:
        raise DecoderBackendError(DecoderName.DECORD.value, path, f"cannot open the file ({exc})") from exc
    if "mpegts" in formats:
        raise DecoderBackendError(
            DecoderName.DECORD.value,
            path,
            "decord returns wrong frames from MPEG-TS files (its seeks are off and it reports no per-frame time); "
            "use --backend pyav",
        )


class DecordDecoder:
    """decord's ``VideoReader.get_batch`` in chunks, each rotated and resized before the next is read."""

    name = DecoderName.DECORD.value

    def decode(
        self,
        path: Path,
        plan: FramePlan,
        probe: VideoProbe,
        *,
        resize: ResizeMode,
        threads: int,
        resize_threads: int,
        on_progress: ProgressCallback | None,
    ) -> DecodedVideo:
        try:
            import decord
        except ImportError as exc:
            raise DecoderBackendError(self.name, path, "decord is not installed; pip install decord") from exc

        _refuse_transport_streams(path)
        if len(set(probe.frame_times_s)) < probe.n_frames:
            # decord 0.6 returned frames [2, 3, 6] for [1, 2, 5] on such a file, with matching times.
            raise DecoderBackendError(
                self.name,
                path,
                "some frames share a timestamp, and decord returns the wrong pictures for them; use --backend pyav",
            )
        # decord 0.6 applies the display matrix itself: its frames come out upright already.
        out = _Output(plan, resize, 0, on_progress)
        targets = sorted(out.slots)
        try:
            try:
                reader = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=threads)
            except RuntimeError as exc:  # decord reports a file it cannot open as a bare RuntimeError
                raise DecoderBackendError(self.name, path, "cannot open the file") from exc
            if len(reader) != probe.n_frames:
                raise DecoderBackendError(
                    self.name,
                    path,
                    f"decord counts {len(reader)} frames, the probe {probe.n_frames}{_damage_note(probe)}; "
                    "use --backend pyav",
                )
            with torch_threads(resize_threads):  # decord does not decode while the frames are resized
                self._read(reader, targets, probe, path, out)
        except decord.DECORDError as exc:
            raise DecoderBackendError(
                self.name,
                path,
                f"decord cannot decode this {probe.width}x{probe.height} {probe.codec} video "
                f"({_decord_reason(exc)}){_damage_note(probe)}; use --backend pyav",
            ) from exc
        return out.result(self.name, None)

    def _read(self, reader: Any, targets: list[int], probe: VideoProbe, path: Path, out: _Output) -> None:
        """Fetch ``targets`` in chunks and hand each frame to ``out``, checking size and time as it goes."""
        for start in range(0, len(targets), _DECORD_CHUNK):
            chunk = targets[start : start + _DECORD_CHUNK]
            batch = reader.get_batch(chunk).asnumpy()  # (N, H, W, 3) full resolution, N <= _DECORD_CHUNK
            # decord's own table is float32 seconds; it only checks that decord numbers frames as the
            # probe does, and the exact PTS seconds come from the probe.
            decord_times_s = reader.get_frame_timestamp(chunk)[:, 0]
            if batch.shape[1:3] != (probe.height, probe.width):
                raise DecoderBackendError(
                    self.name,
                    path,
                    f"frames are {batch.shape[2]}x{batch.shape[1]}, expected displayed "
                    f"{probe.width}x{probe.height} (rotation {probe.rotation_deg})",
                )
            for index, frame_hwc, decord_s in zip(chunk, batch, decord_times_s, strict=True):
                time_s = probe.frame_times_s[index]
                if abs(float(np.float32(time_s)) - float(decord_s)) > 1e-3:
                    raise DecoderBackendError(
                        self.name,
                        path,
                        f"decord times frame {index} at {float(decord_s):.6f} s, the probe at {time_s:.6f} s",
                    )
                out.put(index, frame_hwc, time_s)
            del batch


_DECORD_SOURCE = re.compile(r"^\[[0-9:]+\]\s+\S+\.(?:cc|h):\d+:\s*")


def _decord_reason(exc: Exception) -> str:
    """decord's error in a few words, without its C++ source location or check expression.

    Example: ``[04:31:53] /github/workspace/src/runtime/ndarray.cc:171: Check failed: from_size == to_size``
    -> ``an internal check failed``; ``[..] video_reader.cc:486: Error: av_read_frame failed with -1094995529``
    -> ``av_read_frame failed with -1094995529``.
    """
    text = str(exc).strip()
    line = _DECORD_SOURCE.sub("", text.splitlines()[0]) if text else type(exc).__name__
    if line.startswith("Check failed"):
        return "an internal check failed"
    return line.removeprefix("Error: ")[:200]


_BACKENDS: dict[str, Callable[[], FrameDecoder]] = {
    DecoderName.PYAV.value: PyAVDecoder,
    DecoderName.DECORD.value: DecordDecoder,
}
