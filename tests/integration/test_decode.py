"""decode_frames: the right frames (read from their bar codes), exact PTS, bit-exact pixels, both backends."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
import torch

from tests.media import (
    make_duplicate_timestamps_mkv,
    make_rate_change_video,
    make_sparse_mkv,
    make_video,
    read_frame_index,
)
from vidground.errors import ConfigError, DecoderBackendError, SamplingError, VideoDecodeError
from vidground.options import ResizeMode
from vidground.timeline import FramePlan, SampledFrame, VideoProbe
from vidground.video import decode as decode_module
from vidground.video.decode import (
    _Output,
    decode_frames,
    get_decoder,
    h264_is_disposable,
    overlapped,
    split_at_keyframes,
)
from vidground.video.probe import probe
from vidground.video.resize import resize_frame

VIDEOS = ["cfr_video", "cfr25_video", "vfr_video", "rotated_video", "odd_size_video", "tiny_video"]


def make_plan(info: VideoProbe, indices: list[int], height: int | None = None, width: int | None = None) -> FramePlan:
    """A hand-made plan (sampling is tested elsewhere): these indices, at this size or the displayed one."""
    height, width = height or info.height, width or info.width
    frames = tuple(SampledFrame(index=i, time_s=info.frame_times_s[i]) for i in indices)
    return FramePlan(
        frames=frames,
        height=height,
        width=width,
        source_fps=info.fps,
        n_source_frames=info.n_frames,
        sample_fps=2.0,
        second_per_grid=1.0,
        grid_thw=(max(len(frames) // 2, 1), height // 14, width // 14),
        num_tokens=0,
        start_s=frames[0].time_s,
        end_s=frames[-1].time_s,
    )


def spread(n_frames: int, n: int) -> list[int]:
    return sorted({round(x) for x in np.linspace(0, n_frames - 1, n)})


def full_decode(path: Path, rotation_deg: int) -> list[np.ndarray]:
    """Every frame, upright, by the plainest PyAV loop: the ground truth for bit-exactness."""
    with av.open(str(path)) as container:
        return [
            np.ascontiguousarray(np.rot90(f.to_ndarray(format="rgb24"), k=-(rotation_deg // 90)))
            for f in container.decode(video=0)
        ]


@pytest.mark.parametrize("video", VIDEOS)
def test_pyav_returns_the_planned_frames(video: str, request: pytest.FixtureRequest) -> None:
    path: Path = request.getfixturevalue(video)
    info = probe(path)
    indices = spread(info.n_frames, 10)
    decoded = decode_frames(path, make_plan(info, indices), backend="pyav", probe=info)
    assert decoded.frames.dtype == torch.uint8
    assert decoded.frames.shape == (len(indices), 3, info.height, info.width)
    assert [read_frame_index(f) for f in decoded.frames] == indices
    assert [s.index for s in decoded.sampled] == indices
    assert [s.time_s for s in decoded.sampled] == [info.frame_times_s[i] for i in indices]
    assert decoded.backend == "pyav"


@pytest.mark.parametrize("video", ["cfr_video", "vfr_video", "rotated_video", "odd_size_video", "bikes_video"])
def test_pyav_is_bit_exact_against_a_plain_full_decode(video: str, request: pytest.FixtureRequest) -> None:
    path: Path = request.getfixturevalue(video)
    info = probe(path)
    indices = spread(info.n_frames, 12)
    decoded = decode_frames(path, make_plan(info, indices), probe=info)
    truth = full_decode(path, info.rotation_deg)
    expected = torch.stack([torch.from_numpy(truth[i]).permute(2, 0, 1) for i in indices])
    assert torch.equal(decoded.frames, expected)
    # fewer pictures decoded than a full pass: non-reference B-frames and GOPs without targets were skipped
    assert decoded.frames_decoded is not None and decoded.frames_decoded < info.n_frames


def test_skipping_non_reference_packets_keeps_every_frame_exact(cfr_video: Path) -> None:
    # Every even frame a target; x264's non-reference B-frames sit at odd indices: the frames right after a
    # skipped picture must still be exact, and the skipped ones must not have been decoded.
    info = probe(cfr_video)
    indices = list(range(0, info.n_frames, 2))
    decoded = decode_frames(cfr_video, make_plan(info, indices), probe=info)
    truth = full_decode(cfr_video, 0)
    for row, index in zip(decoded.frames, indices, strict=True):
        assert torch.equal(row, torch.from_numpy(truth[index]).permute(2, 0, 1)), index
    assert decoded.frames_decoded is not None and decoded.frames_decoded < info.n_frames


def test_seeks_across_gops_on_a_long_video(long_video: Path) -> None:
    info = probe(long_video)
    indices = [5, 7, 400, 401, 1000, 1799]
    decoded = decode_frames(long_video, make_plan(info, indices), probe=info, threads=1)
    assert [read_frame_index(f) for f in decoded.frames] == indices
    # GOPs of 60, no B-frames, one thread (no decoder delay): only the GOPs holding targets are decoded, each
    # from its keyframe up to its last target: 0..7, 360..401, 960..1000, 1740..1799.
    assert decoded.frames_decoded == 8 + 42 + 41 + 60


def test_split_at_keyframes() -> None:
    every_60 = list(range(0, 600, 60))
    # the middle target (70) is in the GOP starting at 60: the second run starts there
    assert split_at_keyframes([0, 10, 70, 130], every_60, 2) == [[0, 10], [70, 130]]
    # a target on the keyframe itself starts the run
    assert split_at_keyframes([0, 10, 60, 130], every_60, 2) == [[0, 10], [60, 130]]
    # all targets in one GOP, no keyframes listed, one part asked for, a single target: one run
    assert split_at_keyframes([61, 62, 63, 100], every_60, 2) == [[61, 62, 63, 100]]
    assert split_at_keyframes([0, 100, 200], [], 2) == [[0, 100, 200]]
    assert split_at_keyframes([0, 100, 200], every_60, 1) == [[0, 100, 200]]
    assert split_at_keyframes([300], every_60, 2) == [[300]]
    # three parts; runs never share a GOP and keep every target once, in order
    runs = split_at_keyframes(list(range(5, 600, 50)), every_60, 3)
    assert [t for run in runs for t in run] == list(range(5, 600, 50))
    assert runs == [[5, 55, 105, 155], [205, 255, 305, 355], [405, 455, 505, 555]]


def test_parallel_decoders_give_the_frames_one_decoder_gives(long_video: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    info = probe(long_video)
    indices = spread(info.n_frames, 40)
    plan = make_plan(info, indices)
    assert len(split_at_keyframes(indices, info.keyframe_indices, decode_module.DECODERS)) == 2
    parallel = decode_frames(long_video, plan, probe=info, threads=2)
    monkeypatch.setattr(decode_module, "DECODERS", 1)
    single = decode_frames(long_video, plan, probe=info, threads=1)
    assert torch.equal(parallel.frames, single.frames)
    assert parallel.sampled == single.sampled
    assert [read_frame_index(f) for f in parallel.frames] == indices
    # the two decoders' GOPs do not overlap: no picture is decoded twice
    assert parallel.frames_decoded == single.frames_decoded


def test_a_failure_in_one_of_two_decoders_stops_the_other(cfr_video: Path) -> None:
    plan = make_plan(probe(cfr_video), [0, 1, 2, 3], height=28, width=28)
    out = _Output(plan, ResizeMode.FAST, 0, None)
    picture = np.zeros((48, 64, 3), dtype=np.uint8)

    def slow_decoder(handoff: Any) -> int:  # would hand over pictures for a long time
        for _ in range(10_000):
            handoff.put(0, picture, 0.0)
        return 1

    def failing_decoder(handoff: Any) -> int:
        handoff.put(2, picture, 2 / 30)
        raise DecoderBackendError("pyav", cfr_video, "the video cannot be decoded at 0.067 s")

    with pytest.raises(DecoderBackendError, match=r"cannot be decoded at 0\.067 s"):
        overlapped([slow_decoder, failing_decoder], out, resize_threads=1)
    assert _vidground_threads() == []


@pytest.mark.parametrize("video", ["cfr_video", "vfr_video", "rotated_video", "odd_size_video", "bikes_video"])
def test_backends_agree(video: str, request: pytest.FixtureRequest) -> None:
    path: Path = request.getfixturevalue(video)
    info = probe(path)
    plan = make_plan(info, spread(info.n_frames, 8))
    pyav = decode_frames(path, plan, backend="pyav", probe=info)
    dec = decode_frames(path, plan, backend="decord", probe=info)
    assert dec.backend == "decord" and dec.frames_decoded is None
    assert [s.index for s in pyav.sampled] == [s.index for s in dec.sampled] == plan.indices
    assert [s.time_s for s in pyav.sampled] == [s.time_s for s in dec.sampled] == plan.times_s
    assert torch.equal(pyav.frames, dec.frames)


@pytest.mark.parametrize(("video", "shift"), [("copy_cut_video", 40), ("trimmed_video", 35), ("late_join_video", 30)])
def test_pyav_on_streams_that_start_before_their_first_keyframe(
    video: str, shift: int, request: pytest.FixtureRequest
) -> None:
    # Frame 0 lies before the first keyframe the probe lists: it is reached by decoding from the start.
    path: Path = request.getfixturevalue(video)
    info = probe(path)
    indices = [0, 1, 19, 20, 26, info.n_frames - 1]
    decoded = decode_frames(path, make_plan(info, indices), probe=info)
    assert [read_frame_index(f) for f in decoded.frames] == [i + shift for i in indices]
    assert [s.time_s for s in decoded.sampled] == [info.frame_times_s[i] for i in indices]
    truth = full_decode(path, 0)
    assert len(truth) == info.n_frames
    for row, index in zip(decoded.frames, indices, strict=True):
        assert torch.equal(row, torch.from_numpy(truth[index]).permute(2, 0, 1)), index


def test_decord_refuses_a_stream_it_numbers_differently(copy_cut_video: Path) -> None:
    # decord counts the pre-roll as frames and returns shifted pictures: an error, never wrong frames.
    info = probe(copy_cut_video)
    with pytest.raises(DecoderBackendError, match="decord counts 60 frames, the probe 50"):
        decode_frames(copy_cut_video, make_plan(info, [0, 40]), backend="decord", probe=info)


def test_a_probe_without_frame_times_is_refused(cfr_video: Path) -> None:
    info = probe(cfr_video)
    bare = VideoProbe(**{**info.summary(), "frame_times_s": (), "keyframe_indices": ()})
    with pytest.raises(SamplingError, match="0 frame times for 90 frames"):
        decode_frames(cfr_video, make_plan(info, [0, 1]), probe=bare)


def test_rotated_video_comes_out_upright(rotated_video: Path) -> None:
    info = probe(rotated_video)
    for backend in ("pyav", "decord"):
        decoded = decode_frames(rotated_video, make_plan(info, [3, 17]), backend=backend)
        assert decoded.frames.shape == (2, 3, 160, 96)
        assert [read_frame_index(f) for f in decoded.frames] == [3, 17]


@pytest.mark.parametrize("resize_threads", [1, 3])
@pytest.mark.parametrize("mode", ["reference", "fast"])
def test_frames_are_resized_to_the_plan_size(cfr_video: Path, mode: str, resize_threads: int) -> None:
    # The frames resized in threads beside the decoder are the pixels of resize_frame, whose parity with
    # qwen-vl-utils (reference) and the HF processor (fast) tests/unit/test_resize.py checks.
    info = probe(cfr_video)
    indices = [0, 45, 89]
    plan = make_plan(info, indices, height=56, width=84)
    decoded = decode_frames(cfr_video, plan, resize=mode, resize_threads=resize_threads)
    assert decoded.frames.shape == (3, 3, 56, 84)
    truth = full_decode(cfr_video, 0)
    for row, index in zip(decoded.frames, indices, strict=True):
        assert torch.equal(row, resize_frame(truth[index], 56, 84, mode))
    assert [read_frame_index(f) for f in decoded.frames] == indices


def test_repeated_indices_fill_every_slot(cfr_video: Path) -> None:
    info = probe(cfr_video)
    decoded = decode_frames(cfr_video, make_plan(info, [10, 10, 20]))
    assert [read_frame_index(f) for f in decoded.frames] == [10, 10, 20]
    assert [s.index for s in decoded.sampled] == [10, 10, 20]


def test_progress_callback(cfr_video: Path) -> None:
    info = probe(cfr_video)
    calls: list[tuple[int, int, str]] = []

    def progress(done: int, total: int) -> None:
        calls.append((done, total, threading.current_thread().name))

    decode_frames(cfr_video, make_plan(info, [1, 31, 61, 88]), resize_threads=2, on_progress=progress)
    # Reported from the calling thread (a worker writes it to its job row), though decoding runs in another.
    main = threading.current_thread().name
    assert calls == [(1, 4, main), (2, 4, main), (3, 4, main), (4, 4, main)]


def _vidground_threads() -> list[str]:
    """Decode and resize threads still alive (not other vidground pools, such as search's query embedder)."""
    return [t.name for t in threading.enumerate() if t.name.startswith(("vidground-decode", "vidground-resize"))]


@pytest.mark.parametrize("backend", ["pyav", "decord"])
def test_torch_threads_are_put_back(cfr_video: Path, backend: str) -> None:
    info = probe(cfr_video)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        decode_frames(cfr_video, make_plan(info, [5, 50]), backend=backend, resize_threads=1)
        assert torch.get_num_threads() == 2

        def failing_progress(done: int, total: int) -> None:
            raise ValueError("progress failed")

        with pytest.raises(ValueError, match="progress failed"):
            decode_frames(cfr_video, make_plan(info, [5, 50]), backend=backend, on_progress=failing_progress)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_a_failing_progress_callback_stops_the_decoder(cfr_video: Path) -> None:
    info = probe(cfr_video)
    seen: list[int] = []

    def progress(done: int, total: int) -> None:
        seen.append(done)
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        decode_frames(cfr_video, make_plan(info, list(range(0, 90, 3))), resize_threads=2, on_progress=progress)
    assert seen == [1, 2]
    assert _vidground_threads() == []  # the decode and resize threads have ended


def test_a_failure_in_the_decode_thread_is_raised_in_the_caller(cfr_video: Path) -> None:
    plan = make_plan(probe(cfr_video), [0, 1, 2], height=28, width=28)
    out = _Output(plan, ResizeMode.FAST, 0, None)
    picture = np.zeros((48, 64, 3), dtype=np.uint8)

    def fake_decode_that_fails(handoff: Any) -> int:  # hands over two pictures, then fails as a damaged file does
        handoff.put(0, picture, 0.0)
        handoff.put(1, picture, 1 / 30)
        raise DecoderBackendError("pyav", cfr_video, "the video cannot be decoded at 0.067 s")

    with pytest.raises(DecoderBackendError, match=r"cannot be decoded at 0\.067 s"):
        overlapped([fake_decode_that_fails], out, resize_threads=2)
    assert _vidground_threads() == []
    assert set(out.times_s) <= {0, 1}


def test_unknown_backend_is_refused(cfr_video: Path) -> None:
    info = probe(cfr_video)
    with pytest.raises(DecoderBackendError, match="unknown decoder backend") as err:
        decode_frames(cfr_video, make_plan(info, [0, 1]), backend="torchvision")
    assert err.value.backend == "torchvision"
    with pytest.raises(DecoderBackendError):
        get_decoder("opencv")


@pytest.mark.parametrize("backend", ["pyav", "decord"])
def test_backend_failure_is_reported_not_replaced(
    backend: str, cfr_video: Path, broken_videos: dict[str, Path]
) -> None:
    # A probe of a good file with a corrupt file's path: the backend itself fails, and nothing else is tried.
    plan = make_plan(probe(cfr_video), [0, 1])
    with pytest.raises(DecoderBackendError) as err:
        decode_frames(broken_videos["random_bytes"], plan, backend=backend, probe=probe(cfr_video))
    assert err.value.backend == backend
    assert err.value.path == str(broken_videos["random_bytes"])


def test_plan_outside_the_video_is_refused(cfr_video: Path, long_video: Path) -> None:
    plan = make_plan(probe(long_video), [0, 500])
    with pytest.raises(SamplingError, match="outside the video"):
        decode_frames(cfr_video, plan)


def test_bad_resize_mode_and_missing_file(cfr_video: Path, tmp_path: Path) -> None:
    plan = make_plan(probe(cfr_video), [0, 1])
    with pytest.raises(ConfigError, match="resize mode"):
        decode_frames(cfr_video, plan, resize="lanczos")
    with pytest.raises(VideoDecodeError, match="file not found"):
        decode_frames(tmp_path / "gone.mp4", plan)


def test_h264_is_disposable() -> None:
    non_ref = b"\x00\x00\x00\x02\x01\x9e"
    ref = b"\x00\x00\x00\x02\x41\x9a"
    sei = b"\x00\x00\x00\x02\x06\x05"
    assert h264_is_disposable(non_ref, 4)
    assert h264_is_disposable(sei + non_ref, 4)
    assert not h264_is_disposable(ref, 4)
    assert not h264_is_disposable(non_ref + ref, 4)
    assert not h264_is_disposable(b"\x00\x00\x00\x09\x01\x9e", 4)  # length runs past the end
    assert not h264_is_disposable(b"", 4)


def test_decord_is_refused_on_mpeg_ts_and_pyav_decodes_it(tmp_path: Path) -> None:
    # decord 0.6 returned frames [30, 35, 70, 85, 83] for [0, 5, 40, 70, 89] on such a file: refused, never wrong.
    ts = make_video(tmp_path / "clip.ts", width=64, height=48, fps=30, n_frames=90, gop=30)
    info = probe(ts)
    plan = make_plan(info, [0, 5, 40, 70, 89])
    with pytest.raises(DecoderBackendError, match="MPEG-TS"):
        decode_frames(ts, plan, backend="decord", probe=info)
    decoded = decode_frames(ts, plan, backend="pyav", probe=info)
    assert [read_frame_index(f) for f in decoded.frames] == [0, 5, 40, 70, 89]


def test_duplicate_timestamps_decode_every_frame(tmp_path: Path) -> None:
    # Frames 0 and 1 share 0 s, 2 and 3 share 0.067 s, ...: PyAV shows them all, in order.
    path = make_duplicate_timestamps_mkv(tmp_path / "dup.mkv")
    info = probe(path)
    assert info.n_frames == 30 and info.frame_times_s[0] == info.frame_times_s[1]
    for indices in ([1, 2, 5, 29], [0, 1], [3, 4], list(range(1, 30, 2)), list(range(30))):
        decoded = decode_frames(path, make_plan(info, indices), probe=info)
        assert [read_frame_index(f) for f in decoded.frames] == indices
    # decord returned frames [2, 3, 6] for [1, 2, 5] here: refused, never wrong
    with pytest.raises(DecoderBackendError, match="share a timestamp") as err:
        decode_frames(path, make_plan(info, [1, 2, 5]), backend="decord", probe=info)
    assert "Check failed" not in str(err.value)


@pytest.mark.parametrize(
    ("maker", "backends"), [(make_rate_change_video, ("pyav", "decord")), (make_sparse_mkv, ("pyav",))]
)
def test_variable_rate_files_decode_their_planned_frames(tmp_path: Path, maker: Any, backends: tuple[str, ...]) -> None:
    path = maker(tmp_path / f"{maker.__name__}.mkv")
    info = probe(path)
    indices = spread(info.n_frames, 9)
    plan = make_plan(info, indices)
    for backend in backends:
        decoded = decode_frames(path, plan, probe=info, backend=backend)
        assert [read_frame_index(f) for f in decoded.frames] == indices
        assert [s.time_s for s in decoded.sampled] == [info.frame_times_s[i] for i in indices]
    if "decord" not in backends:  # decord times the sparse file's frames at 9.2e15 s: refused, never wrong
        with pytest.raises(DecoderBackendError, match="decord times frame 0"):
            decode_frames(path, plan, probe=info, backend="decord")


def test_a_cut_off_file_decodes_its_readable_frames(broken_videos: dict[str, Path]) -> None:
    path = broken_videos["truncated_99"]
    info = probe(path)
    assert info.damaged is not None
    indices = list(range(info.n_frames))  # up to the last readable frame, which needs the packets near the cut
    decoded = decode_frames(path, make_plan(info, indices), probe=info)
    assert [read_frame_index(f) for f in decoded.frames] == indices
    # decord cannot read the file at all: one line in vidground's words that names the damage
    with pytest.raises(DecoderBackendError) as err:
        decode_frames(path, make_plan(info, [0, 5]), backend="decord", probe=info)
    message = str(err.value)
    assert "the end is missing or damaged" in message and "--backend pyav" in message
    assert "\n" not in message and ".cc:" not in message


def test_a_hole_in_a_transport_stream_leaves_the_other_frames_readable(tmp_path: Path) -> None:
    ts = make_video(tmp_path / "whole.ts", width=64, height=48, fps=30, n_frames=90, gop=30)
    data = ts.read_bytes()
    middle = len(data) // 2 // 188 * 188
    holed = tmp_path / "holed.ts"
    holed.write_bytes(data[:middle] + data[middle + 188 * 3 :])
    info = probe(holed)
    assert info.damaged is not None and info.n_frames < 90
    decoded = decode_frames(holed, make_plan(info, list(range(info.n_frames))), probe=info)
    shown = [read_frame_index(f) for f in decoded.frames]
    assert shown == sorted(shown) and shown[0] == 0 and shown[-1] == 89
    expected_s = [i / 30 for i in shown]
    assert [s.time_s - info.frame_times_s[0] for s in decoded.sampled] == pytest.approx(expected_s, abs=1e-6)


def test_decord_internal_errors_become_one_line(tmp_path: Path) -> None:
    # decord fails a C++ check on a 1x1 video (``ndarray.cc:171: Check failed``) that PyAV reads.
    path = make_video(tmp_path / "one_pixel.mp4", width=1, height=1, fps=30, n_frames=10)
    info = probe(path)
    plan = make_plan(info, [0, 9], height=28, width=28)
    assert decode_frames(path, plan, probe=info).frames.shape == (2, 3, 28, 28)
    with pytest.raises(DecoderBackendError) as err:
        decode_frames(path, plan, backend="decord", probe=info)
    message = str(err.value)
    assert message.endswith("decord cannot decode this 1x1 h264 video (an internal check failed); use --backend pyav")
    assert "Check failed" not in message and ".cc" not in message
