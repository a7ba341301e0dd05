"""probe() on generated videos whose facts are known, on real samples, and on broken inputs."""

from __future__ import annotations

import itertools
import random
from fractions import Fraction
from pathlib import Path

import pytest

from tests.media import make_rate_change_video, make_sparse_mkv, make_video, vfr_durations_ms
from vidground.errors import VideoDecodeError
from vidground.video.probe import all_pts_to_seconds, is_vfr, probe, pts_to_seconds


def test_cfr_video_facts(cfr_video: Path) -> None:
    info = probe(cfr_video)
    assert (info.n_frames, info.width, info.height, info.codec) == (90, 160, 96, "h264")
    assert info.fps == 30.0
    assert info.duration_s == pytest.approx(3.0)
    assert not info.vfr and not info.has_audio and info.rotation_deg == 0
    assert info.frame_times_s == pytest.approx([i / 30 for i in range(90)], abs=1e-9)
    assert info.keyframe_indices == (0, 30, 60)
    assert info.path == str(cfr_video)


def test_25fps_video(cfr25_video: Path) -> None:
    info = probe(cfr25_video)
    assert (info.n_frames, info.fps) == (50, 25.0)
    assert info.duration_s == pytest.approx(2.0)
    assert info.frame_times_s[1] == pytest.approx(0.04)


def test_vfr_is_judged_from_pts_and_times_are_exact(vfr_video: Path) -> None:
    info = probe(vfr_video)
    starts_ms = [0, *itertools.accumulate(vfr_durations_ms(60))][:60]
    assert info.vfr
    assert info.n_frames == 60
    assert info.frame_times_s == pytest.approx([ms / 1000 for ms in starts_ms], abs=1e-6)
    # the last frame's own duration is the container's guess: only its start is known exactly
    assert info.frame_times_s[-1] < info.duration_s <= info.frame_times_s[-1] + 0.1
    # the average rate decoders report (decord's, which qwen-vl-utils samples with), ~ frames / duration
    import decord

    assert info.fps == decord.VideoReader(str(vfr_video)).get_avg_fps()
    assert info.fps == pytest.approx(60 / info.duration_s, rel=0.03)


def test_rotated_video_reports_displayed_size(rotated_video: Path) -> None:
    info = probe(rotated_video)
    assert info.rotation_deg == 90
    assert (info.width, info.height) == (96, 160)


def test_odd_and_tiny_sizes(odd_size_video: Path, tiny_video: Path) -> None:
    odd = probe(odd_size_video)
    assert (odd.width, odd.height, odd.n_frames, odd.fps) == (333, 197, 30, 25.0)
    tiny = probe(tiny_video)
    assert (tiny.width, tiny.height, tiny.n_frames) == (32, 24, 20)


def test_audio_presence(audio_video: Path, cfr_video: Path) -> None:
    assert probe(audio_video).has_audio
    assert not probe(cfr_video).has_audio


def test_long_video(long_video: Path) -> None:
    info = probe(long_video)
    assert info.n_frames == 1800
    assert info.duration_s == pytest.approx(60.0)
    assert info.keyframe_indices == tuple(range(0, 1800, 60))
    assert info.frame_times_s[-1] == pytest.approx(1799 / 30)


@pytest.mark.parametrize(
    ("video", "n_frames", "keyframes"), [("copy_cut_video", 50, (20,)), ("trimmed_video", 55, (25,))]
)
def test_edit_list_preroll_is_not_counted(
    video: str, n_frames: int, keyframes: tuple[int, ...], request: pytest.FixtureRequest
) -> None:
    # A cut by stream copy or a phone's trim: the frames before the edit are decoded as references but never
    # shown, and the trim's listed-but-skipped samples are not truncation.
    info = probe(request.getfixturevalue(video))
    assert info.n_frames == n_frames
    assert info.frame_times_s == pytest.approx([i / 30 for i in range(n_frames)], abs=1e-9)
    assert info.keyframe_indices == keyframes  # the pre-roll keyframe is not a frame
    assert info.duration_s == pytest.approx(n_frames / 30)


def test_stream_joined_mid_gop_starts_at_its_first_decodable_frame(late_join_video: Path) -> None:
    info = probe(late_join_video)
    assert info.n_frames == 60
    assert info.keyframe_indices == (0, 30)
    steps = [b - a for a, b in itertools.pairwise(info.frame_times_s)]
    assert steps == pytest.approx([1 / 30] * 59, abs=1e-6)
    assert info.frame_times_s[0] >= 0


def test_single_frame_video_probes(broken_videos: dict[str, Path]) -> None:
    info = probe(broken_videos["single_frame"])
    assert info.n_frames == 1
    assert info.frame_times_s == (0.0,)


def test_real_sample_matches_decord(bikes_video: Path) -> None:
    import decord

    info = probe(bikes_video)
    reader = decord.VideoReader(str(bikes_video))
    assert (info.width, info.height, info.fps) == (640, 272, 25.0)
    assert info.n_frames == len(reader) == 250
    assert info.fps == reader.get_avg_fps()
    decord_times = reader.get_frame_timestamp(list(range(len(reader))))[:, 0]
    assert max(abs(a - b) for a, b in zip(info.frame_times_s, decord_times, strict=True)) < 1e-3
    assert len(info.keyframe_indices) > 1  # shot cuts add keyframes


def test_summary_is_json_ready(bigbuckbunny_video: Path) -> None:
    summary = probe(bigbuckbunny_video).summary()
    assert summary["has_audio"] is True
    assert (summary["width"], summary["height"]) == (1280, 720)


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("empty", "empty (0 bytes)"),
        ("truncated", "corrupt, truncated or not a video"),
        ("random_bytes", "corrupt, truncated or not a video"),
        ("text", "text file"),
        ("audio_only", "audio-only"),
        ("absurd_size", "20000x16"),
    ],
)
def test_broken_inputs_raise_one_line_errors(broken_videos: dict[str, Path], name: str, needle: str) -> None:
    path = broken_videos[name]
    with pytest.raises(VideoDecodeError) as info:
        probe(path)
    message = str(info.value)
    assert needle in message
    assert info.value.path == str(path)
    assert "\n" not in message and "Traceback" not in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(VideoDecodeError, match="file not found"):
        probe(tmp_path / "nope.mp4")


@pytest.mark.parametrize(
    ("steps", "expected"),
    [([512, 512, 512], False), ([33, 34, 33, 34], False), ([20, 50, 33], True), ([512], False)],
)
def test_is_vfr(steps: list[int], expected: bool) -> None:
    assert is_vfr(steps) is expected


def test_a_folder_is_not_a_video(tmp_path: Path) -> None:
    with pytest.raises(VideoDecodeError, match="is a folder; expected a video file"):
        probe(tmp_path)


@pytest.fixture(scope="module")
def rate_change_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_rate_change_video(tmp_path_factory.mktemp("rate") / "rate_change.mp4")


@pytest.fixture(scope="module")
def sparse_mkv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_sparse_mkv(tmp_path_factory.mktemp("sparse") / "sparse.mkv")


def test_rate_change_video_facts(rate_change_video: Path) -> None:
    info = probe(rate_change_video)
    assert info.vfr and info.damaged is None
    assert (info.n_frames, info.fps, info.duration_s) == (180, 22.5, pytest.approx(8.0))
    expected = [i / 15 for i in range(60)] + [4 + i / 30 for i in range(120)]
    assert info.frame_times_s == pytest.approx(expected, abs=1e-9)


def test_a_guessed_container_rate_yields_to_the_timestamps(sparse_mkv: Path) -> None:
    # The Matroska header says 24 fps; the 20 frames are 3 s apart (60 s). FFmpeg also re-guesses the
    # stream's start time while demuxing this file: times still count from the first frame.
    info = probe(sparse_mkv)
    assert info.frame_times_s == pytest.approx([3.0 * i for i in range(20)], abs=1e-9)
    assert info.duration_s == pytest.approx(60.0)
    assert info.fps == pytest.approx(20 / 60)
    assert not info.vfr and info.damaged is None


@pytest.mark.parametrize("name", ["truncated_99", "truncated_faststart"])
def test_a_cut_off_file_reports_damage_and_its_readable_frames(broken_videos: dict[str, Path], name: str) -> None:
    whole = probe(broken_videos["truncated_faststart"].with_name("whole_fs.mp4"))
    info = probe(broken_videos[name])
    assert info.damaged is not None and "the end is missing or damaged" in info.damaged
    assert f"0.000-{info.duration_s:.3f} s can be read ({info.n_frames} frames of 60 listed)" in info.damaged
    assert not info.vfr  # the missing frames are damage, not a change of rate
    assert 0 < info.n_frames < 60
    # the readable frames are the whole file's first frames, with the same times and rate
    assert info.frame_times_s == whole.frame_times_s[: info.n_frames]
    assert info.fps == 30.0
    assert info.summary()["damaged"] == info.damaged
    assert whole.damaged is None


def test_a_whole_file_is_not_damaged(cfr_video: Path, vfr_video: Path) -> None:
    assert probe(cfr_video).damaged is None and probe(vfr_video).damaged is None


def test_a_hole_in_a_transport_stream_is_reported(tmp_path: Path) -> None:
    # 188-byte TS packets cut out of the middle: the demuxer flags the damaged video packet.
    ts = make_video(tmp_path / "whole.ts", width=64, height=48, fps=30, n_frames=90, gop=30)
    data = ts.read_bytes()
    middle = len(data) // 2 // 188 * 188
    holed = tmp_path / "holed.ts"
    holed.write_bytes(data[:middle] + data[middle + 188 * 3 :])
    info = probe(holed)
    assert info.damaged is not None and "cannot be read" in info.damaged
    assert not info.vfr


@pytest.mark.parametrize(("codec", "name"), [("mjpeg", "photo.jpg"), ("png", "photo.png"), ("mjpeg", "photo.video")])
def test_a_still_image_is_not_a_video(tmp_path: Path, codec: str, name: str) -> None:
    """A photo opens in FFmpeg as a one-frame stream; it is refused as what it is, by content, not by extension."""
    import av
    import numpy as np

    encoded = tmp_path / f"encoded.{'jpg' if codec == 'mjpeg' else 'png'}"
    with av.open(str(encoded), "w", format="image2") as out:
        stream = out.add_stream(codec, rate=1)
        stream.width, stream.height = 64, 48
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "rgb24"
        frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 128, np.uint8), format="rgb24")
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    photo = tmp_path / name
    photo.write_bytes(encoded.read_bytes())  # the name says nothing: ".video" is what an upload is stored as
    with pytest.raises(VideoDecodeError, match=r"this is a still image \(\w+\), not a video"):
        probe(photo)


def test_pts_to_seconds_is_the_exact_fraction_rounded_once() -> None:
    rng = random.Random(7)
    bases = [Fraction(1, 15360), Fraction(1, 90000), Fraction(1001, 30000), Fraction(1, 1000), Fraction(1, 44100)]
    for _ in range(20_000):
        base = rng.choice(bases)
        pts, origin = rng.randint(-(2**40), 2**40), rng.randint(-(2**20), 2**20)
        assert pts_to_seconds(pts, origin, base) == float(Fraction(pts - origin) * base)
    assert pts_to_seconds(1536, 0, Fraction(1, 15360)) == 0.1
    many = [rng.randrange(-(10**9), 10**12) for _ in range(1000)]
    assert all_pts_to_seconds(many, 512, Fraction(1001, 30000)) == tuple(
        pts_to_seconds(p, 512, Fraction(1001, 30000)) for p in many
    )
