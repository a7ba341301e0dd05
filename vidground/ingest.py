"""A video becomes rows: the one file to read for what ``vidground ingest`` (and later the workers) do to a file.

For each file:

1. **Hash** its bytes (sha256, streamed): the content, not the name, identifies a video, so the same file under
   any path or name is indexed once.
2. **Probe** it (a file that is not a readable video fails here, before any row is written).
3. **Register** it (``add_video``: the existing row for the same content, or a new one).
4. **Decide** which analyses are due: captions, the standing queries, subtitles, speech, on-screen text, shots.
   Each has a key (:func:`~vidground.index.records.analysis_key`: kind, options hash, model, prompt version,
   queries or subtitle files); an analysis whose key is already stored is skipped, a different one replaces the
   old rows.
5. **Analyse**: captions and standing queries come from one encoding per window
   (:func:`~vidground.pipeline.caption_and_locate`); subtitles beside the video (``movie.srt``, ``movie.en.vtt``)
   or given explicitly are read as their own source; shots (:mod:`vidground.shots`), speech
   (:mod:`vidground.speech`) and on-screen text (:mod:`vidground.ocr`) are each their own analysis with their own
   options and model. A video without audio gets an empty speech analysis and a note, not a failure.
6. **Embed** every segment's text and **store** each analysis with its segments, vectors and per-query outcomes
   in one transaction, so an interrupted run never leaves half an analysis.

This module depends on the :class:`~vidground.index.store.IndexStore` and
:class:`~vidground.index.embed.Embedder` Protocols, never on tables.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from vidground.errors import ConfigError, VidgroundError
from vidground.index.embed import Embedder
from vidground.index.records import (
    DEFAULT_TENANT,
    AnalysisKind,
    AnalysisRecord,
    NewVideo,
    OutcomeRecord,
    QueryOutcome,
    SegmentRecord,
    ShotRecord,
    Source,
    VideoStatus,
    analysis_key,
)
from vidground.index.store import IndexStore
from vidground.model.prompts import PROMPT_VERSION
from vidground.ocr import OcrOptions, TextReader
from vidground.options import AnalysisOptions
from vidground.results import CaptionResult, Stage, VideoResult
from vidground.shots import ShotOptions
from vidground.speech import SpeechModel, SpeechOptions
from vidground.timeline import VideoProbe

if TYPE_CHECKING:  # importing this module (hash_file, for the API) must not import torch
    from vidground.model.base import VideoRunner

logger = logging.getLogger(__name__)

VIDEO_SUFFIXES = frozenset(
    {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".ts", ".mts", ".m2ts", ".mpg", ".mpeg", ".flv", ".wmv"}
)
HASH_CHUNK_BYTES = 1 << 20


class FileOutcome(StrEnum):
    INGESTED = "ingested"  # at least one analysis was stored
    SKIPPED = "skipped"  # already indexed with the same analyses
    FAILED = "failed"


@dataclass(frozen=True)
class IngestRequest:
    """What to do with each file: which analyses, with which model (as configured: id and revision), for whom."""

    model_id: str
    model_revision: str | None = None
    queries: tuple[str, ...] = ()
    captions: bool = True
    subtitles: Path | None = None  # an explicit subtitle file (one video only); else those beside the video
    tenant: str = DEFAULT_TENANT
    shots: bool = False
    speech: bool = False
    ocr: bool = False
    shot_options: ShotOptions = field(default_factory=ShotOptions)
    speech_options: SpeechOptions = field(default_factory=SpeechOptions)
    ocr_options: OcrOptions = field(default_factory=OcrOptions)


@dataclass
class Enrichers:
    """The speech model and OCR engine of a process, loaded on first use and shared by every file it ingests."""

    speech: SpeechModel | None = None
    ocr: TextReader | None = None

    def speech_model(self, options: SpeechOptions) -> SpeechModel:
        if self.speech is None or self.speech.options != options:
            self.speech = SpeechModel(options)
        return self.speech

    def text_reader(self) -> TextReader:
        if self.ocr is None:
            self.ocr = TextReader()
        return self.ocr


@dataclass(frozen=True)
class FileReport:
    """What happened to one file."""

    path: Path
    outcome: FileOutcome
    video_id: int | None = None
    content_hash: str | None = None
    stored: tuple[AnalysisKind, ...] = ()  # analyses written this time
    skipped: tuple[AnalysisKind, ...] = ()  # analyses already indexed with the same key
    n_segments: int = 0
    reason: str | None = None  # why it failed
    seconds: float = 0.0
    notes: tuple[str, ...] = ()  # facts worth telling that are not failures ("no audio track")


FileProgress = Callable[[Path, Stage, int, int], None]


def hash_file(path: Path) -> tuple[str, int]:
    """The sha256 hex digest of a file's bytes and its size, read in 1 MiB chunks (never whole in memory).

    Raises:
        VideoDecodeError: the file cannot be read.
    """
    from vidground.errors import VideoDecodeError

    digest = hashlib.sha256()
    size = 0
    try:
        with path.open("rb") as stream:
            while chunk := stream.read(HASH_CHUNK_BYTES):
                digest.update(chunk)
                size += len(chunk)
    except OSError as exc:
        raise VideoDecodeError(path, f"cannot read the file ({exc.strerror or exc})") from exc
    return digest.hexdigest(), size


def collect_videos(paths: Sequence[Path], *, recursive: bool = False, manifest: Path | None = None) -> list[Path]:
    """The video files named by ``paths`` (files as given; folders: their video files, all levels with
    ``recursive``) and by a manifest (one path per line, relative to the manifest's folder; ``#`` comments).

    Files named explicitly are kept whatever their extension (the probe decides); in folders only known video
    extensions are taken. Duplicates (same resolved path) are listed once, in order.

    Raises:
        ConfigError: a path that does not exist, a manifest that cannot be read, or nothing to ingest.
    """
    named: list[Path] = list(paths)
    if manifest is not None:
        try:
            lines = manifest.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"--manifest {manifest}: cannot read it ({exc})") from exc
        for line in lines:
            entry = line.strip()
            if entry and not entry.startswith("#"):
                named.append(Path(entry) if Path(entry).is_absolute() else manifest.parent / entry)
    found: list[Path] = []
    for path in named:
        if path.is_dir():
            pattern = path.rglob("*") if recursive else path.iterdir()
            found.extend(sorted(p for p in pattern if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES))
        elif path.exists() or path.is_symlink():
            found.append(path)
        else:
            raise ConfigError(f"{path}: no such file or folder")
    unique: dict[Path, Path] = {}
    for path in found:
        unique.setdefault(path.resolve(), path)
    if not unique:
        raise ConfigError(f"no video files in {', '.join(map(str, named)) or 'the arguments'}")
    return list(unique.values())


def ingest_file(
    path: Path,
    request: IngestRequest,
    *,
    store: IndexStore,
    embedder: Embedder,
    runner: VideoRunner | None,
    options: AnalysisOptions,
    on_progress: FileProgress | None = None,
    enrichers: Enrichers | None = None,
) -> FileReport:
    """Index one file (the steps in the module docstring). Never raises for a bad file: the report says why.

    Args:
        path: the video.
        request: which analyses and for which model and tenant.
        store, embedder: where rows go and how segment texts become vectors.
        runner: the model runner (None only when no captions or queries are requested).
        options: every knob of the model analyses (their ``params_hash`` is part of each analysis key).
        on_progress: ``(path, stage, done, total)``.
        enrichers: the speech model and OCR engine to share across files (made on first use when None).

    Raises:
        KeyboardInterrupt: passed on; each analysis is stored in one transaction, so none is half-written.
    """
    started = time.perf_counter()
    try:
        return _ingest(path, request, store=store, embedder=embedder, runner=runner, options=options,
                       on_progress=on_progress, started=started, enrichers=enrichers or Enrichers())  # fmt: skip
    except VidgroundError as exc:
        logger.info("ingest failed path=%s reason=%s", path, exc)
        return FileReport(path, FileOutcome.FAILED, reason=str(exc), seconds=time.perf_counter() - started)


def _ingest(
    path: Path,
    request: IngestRequest,
    *,
    store: IndexStore,
    embedder: Embedder,
    runner: VideoRunner | None,
    options: AnalysisOptions,
    on_progress: FileProgress | None,
    started: float,
    enrichers: Enrichers,
) -> FileReport:
    from vidground.video.probe import probe

    content_hash, size = hash_file(path)
    video = probe(path)  # a bad file fails here, before any row exists
    record = store.add_video(new_video(path, content_hash, size, video, request.tenant))
    due = _due_analyses(path, request, options)
    stored, skipped, n_segments, notes = [], [], 0, []
    todo = {kind: key for kind, key in due.items() if store.analysis_key(record.id, kind) != key}
    skipped = [kind for kind in due if kind not in todo]
    try:
        # Caption windows prefer to end on shot cuts: those found now, else those stored before.
        stored_cuts = [s.start_s for s in store.shots(record.id)[1:]] if AnalysisKind.SHOTS not in todo else []
        for analysis in _run_analyses(path, video, request, todo, runner=runner, options=options,
                                      on_progress=on_progress, enrichers=enrichers, cuts_s=stored_cuts):  # fmt: skip
            vectors = embedder.embed([s.searchable_text for s in analysis.segments])
            store.replace_analysis(record.id, analysis, vectors=vectors, embedder=embedder.name)
            stored.append(analysis.kind)
            n_segments += len(analysis.segments)
            note = (analysis.provenance or {}).get("note")
            if note:
                notes.append(f"{analysis.kind}: {note}")
    except VidgroundError as exc:
        store.set_status(record.id, VideoStatus.FAILED, error=str(exc))
        raise
    store.set_status(record.id, VideoStatus.INDEXED)
    return FileReport(
        path,
        FileOutcome.INGESTED if stored else FileOutcome.SKIPPED,
        video_id=record.id,
        content_hash=content_hash,
        stored=tuple(stored),
        skipped=tuple(skipped),
        n_segments=n_segments,
        seconds=time.perf_counter() - started,
        notes=tuple(notes),
    )


def new_video(path: Path, content_hash: str, size: int, video: VideoProbe, tenant: str) -> NewVideo:
    """The row of a video about to be indexed: its content hash, absolute path, size and probe facts."""
    return NewVideo(
        content_hash=content_hash,
        path=str(path.resolve()),
        size_bytes=size,
        duration_s=video.duration_s,
        fps=video.fps,
        width=video.width,
        height=video.height,
        probe=video.summary(),
        tenant=tenant,
    )


def _subtitle_files(path: Path, request: IngestRequest) -> list[Path]:
    from vidground.subtitles import subtitles_beside

    if request.subtitles is not None:
        return [request.subtitles]
    return [found.path for found in subtitles_beside(path)]


def _due_analyses(path: Path, request: IngestRequest, options: AnalysisOptions) -> dict[AnalysisKind, str]:
    """Each requested analysis and its key (what would make it a different analysis)."""
    due: dict[AnalysisKind, str] = {}
    for kind, wanted, queries in (
        (AnalysisKind.CAPTION, request.captions, ()),
        (AnalysisKind.LOCATE, bool(request.queries), request.queries),
    ):
        if wanted:
            due[kind] = analysis_key(
                kind,
                params_hash=options.params_hash(),
                model_id=request.model_id,
                model_revision=request.model_revision,
                prompt_version=PROMPT_VERSION,
                queries=queries,
            )
    for kind, wanted, knobs, model in (
        (AnalysisKind.SHOTS, request.shots, request.shot_options.to_json(), _shots_model),
        (AnalysisKind.SPEECH, request.speech, request.speech_options.to_json(), _speech_model),
        (AnalysisKind.OCR, request.ocr, request.ocr_options.to_json(), _ocr_model),
    ):
        if wanted:
            due[kind] = analysis_key(kind, params_hash=_hash(knobs), model_id=model(request))
    files = _subtitle_files(path, request)
    if files:
        fingerprints = {f.name: hash_file(f)[0] for f in files}
        due[AnalysisKind.SUBTITLES] = analysis_key(
            AnalysisKind.SUBTITLES, params_hash=None, model_id=None, extra=fingerprints
        )
    return due


def _run_analyses(
    path: Path,
    video: VideoProbe,
    request: IngestRequest,
    todo: dict[AnalysisKind, str],
    *,
    runner: VideoRunner | None,
    options: AnalysisOptions,
    on_progress: FileProgress | None,
    enrichers: Enrichers,
    cuts_s: Sequence[float],
) -> Iterable[AnalysisRecord]:
    """The analyses that are due, each ready to store (subtitles first: they need no model; then shots, speech and
    on-screen text; captions and queries last, their windows ending on the shot cuts where they can)."""
    if AnalysisKind.SUBTITLES in todo:
        yield _subtitle_analysis(_subtitle_files(path, request), todo[AnalysisKind.SUBTITLES])

    def progress_of(s: Stage) -> Callable[[int, int], None] | None:
        return None if on_progress is None else (lambda done, total: on_progress(path, s, done, total))

    if AnalysisKind.SHOTS in todo:
        shots = _shots_analysis(path, video, request, todo[AnalysisKind.SHOTS], progress_of(Stage.SHOTS))
        cuts_s = [s.start_s for s in shots.shots[1:]]
        yield shots
    if AnalysisKind.SPEECH in todo:
        model = enrichers.speech_model(request.speech_options)
        yield _speech_analysis(model, path, request, todo[AnalysisKind.SPEECH], progress_of(Stage.SPEECH))
    if AnalysisKind.OCR in todo:
        reader = enrichers.text_reader()
        yield _ocr_analysis(reader, path, video, request, todo[AnalysisKind.OCR], progress_of(Stage.OCR))
    wants_captions = AnalysisKind.CAPTION in todo
    wants_queries = AnalysisKind.LOCATE in todo
    if not (wants_captions or wants_queries):
        return
    if runner is None:
        raise ConfigError("captions and queries need a model runner")
    from vidground import pipeline

    stage = None if on_progress is None else (lambda s, done, total: on_progress(path, s, done, total))
    queries = list(request.queries) if wants_queries else []
    if wants_captions:
        captions, located = pipeline.caption_and_locate(
            path, queries, runner=runner, options=options, video=video, on_progress=stage, cuts_s=cuts_s
        )
        yield _caption_analysis(captions, todo[AnalysisKind.CAPTION])
    else:
        located = pipeline.locate(path, queries, runner=runner, options=options, video=video, on_progress=stage)
    if located is not None:
        yield locate_analysis(located, todo[AnalysisKind.LOCATE])


def _caption_analysis(result: CaptionResult, key: str) -> AnalysisRecord:
    provenance = result.provenance
    return AnalysisRecord(
        kind=AnalysisKind.CAPTION,
        analysis_key=key,
        params_hash=provenance.options.params_hash(),
        options=provenance.options.to_json(),
        model_id=provenance.model_id,
        model_revision=provenance.model_revision,
        provenance={**provenance.to_json(), "raw": list(result.raw), "issues": list(result.issues)},
        timings_s={str(k): v for k, v in provenance.timings_s.items()},
        segments=tuple(
            SegmentRecord(Source.CAPTION, c.start_s, c.end_s, text=c.text, rank=rank)
            for rank, c in enumerate(result.captions, start=1)
            if c.text.strip()
        ),
    )


def locate_analysis(result: VideoResult, key: str) -> AnalysisRecord:
    """A grounding result as the video's ``locate`` analysis: ranked answer segments and per-query outcomes."""
    provenance = result.provenance
    segments, outcomes = [], []
    for answer in result.results:
        for rank, span in enumerate(answer.spans, start=1):
            segments.append(
                SegmentRecord(
                    Source.QUERY_ANSWER, span.start_s, span.end_s, query=answer.query, score=span.score, rank=rank
                )
            )
        if answer.found:
            outcome = QueryOutcome.FOUND
        else:
            outcome = QueryOutcome.NOT_FOUND if answer.parsed else QueryOutcome.UNREADABLE
        outcomes.append(OutcomeRecord(answer.query, outcome, raw=answer.raw, issues=answer.issues))
    return AnalysisRecord(
        kind=AnalysisKind.LOCATE,
        analysis_key=key,
        params_hash=provenance.options.params_hash(),
        options=provenance.options.to_json(),
        model_id=provenance.model_id,
        model_revision=provenance.model_revision,
        provenance=provenance.to_json(),
        timings_s={str(k): v for k, v in provenance.timings_s.items()},
        segments=tuple(segments),
        outcomes=tuple(outcomes),
    )


def _subtitle_analysis(files: Sequence[Path], key: str) -> AnalysisRecord:
    from vidground.subtitles import read_subtitles

    segments = []
    for file in files:
        for cue in read_subtitles(file):
            segments.append(SegmentRecord(Source.SUBTITLE, cue.start_s, cue.end_s, text=cue.text))
    segments.sort(key=lambda s: (s.start_s, s.end_s))
    return AnalysisRecord(
        kind=AnalysisKind.SUBTITLES,
        analysis_key=key,
        params_hash=None,
        options=None,
        model_id=None,
        model_revision=None,
        provenance={"files": [os.fspath(f) for f in files]},
        segments=tuple(segments),
    )


# -- shots, speech, on-screen text ------------------------------------------------------------------------------


def _hash(knobs: Mapping[str, object]) -> str:
    return hashlib.sha256(json.dumps(knobs, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _shots_model(request: IngestRequest) -> str:
    from importlib.metadata import version

    return f"scenedetect {version('scenedetect')} AdaptiveDetector (pyav)"


def _speech_model(request: IngestRequest) -> str:
    return f"faster-whisper {request.speech_options.model}"


def _ocr_model(request: IngestRequest) -> str:
    from vidground.ocr import model_name

    return model_name()


def _enrich_analysis(
    kind: AnalysisKind,
    key: str,
    knobs: Mapping[str, object],
    model: str,
    *,
    seconds: float,
    provenance: Mapping[str, object],
    segments: Sequence[SegmentRecord] = (),
    shots: Sequence[ShotRecord] = (),
) -> AnalysisRecord:
    return AnalysisRecord(
        kind=kind,
        analysis_key=key,
        params_hash=_hash(knobs),
        options=dict(knobs),
        model_id=model,
        model_revision=None,
        provenance={"vidground_version": _version(), **provenance},
        timings_s={str(kind): seconds},
        segments=tuple(segments),
        shots=tuple(shots),
    )


def _version() -> str:
    import vidground

    return vidground.__version__


def _shots_analysis(
    path: Path, video: VideoProbe, request: IngestRequest, key: str, progress: Callable[[int, int], None] | None
) -> AnalysisRecord:
    from vidground.shots import detect_shots

    found = detect_shots(path, video=video, options=request.shot_options, on_progress=progress)
    return _enrich_analysis(
        AnalysisKind.SHOTS, key, request.shot_options.to_json(), _shots_model(request),
        seconds=found.seconds, provenance={"n_frames": found.n_frames, "cuts_s": list(found.cuts_s)},
        shots=found.shots,
    )  # fmt: skip


def _speech_analysis(
    model: SpeechModel, path: Path, request: IngestRequest, key: str, progress: Callable[[int, int], None] | None
) -> AnalysisRecord:
    transcript = model.transcribe(path, on_progress=progress)
    segments = [
        SegmentRecord(Source.SPEECH, u.start_s, u.end_s, text=u.text, detail={"words": [w.to_json() for w in u.words]})
        for u in transcript.utterances
    ]
    provenance = {
        "language": transcript.language,
        "audio_track": transcript.audio_track,
        "audio_s": transcript.audio_s,
        "note": transcript.note,
    }
    return _enrich_analysis(
        AnalysisKind.SPEECH, key, request.speech_options.to_json(), _speech_model(request),
        seconds=transcript.seconds, provenance=provenance, segments=segments,
    )  # fmt: skip


def _box(confidence: float, box: Sequence[float]) -> dict[str, object]:
    return {"confidence": confidence, "box": list(box)}


def _ocr_analysis(
    reader: TextReader,
    path: Path,
    video: VideoProbe,
    request: IngestRequest,
    key: str,
    progress: Callable[[int, int], None] | None,
) -> AnalysisRecord:
    from vidground.ocr import read_screen_text

    found = read_screen_text(path, video=video, reader=reader, options=request.ocr_options, on_progress=progress)
    segments = [
        SegmentRecord(Source.OCR, s.start_s, s.end_s, text=s.text, score=s.confidence, detail=_box(s.confidence, s.box))
        for s in found.spans
    ]
    return _enrich_analysis(
        AnalysisKind.OCR, key, request.ocr_options.to_json(), _ocr_model(request),
        seconds=found.seconds, provenance={"n_frames": found.n_frames}, segments=segments,
    )  # fmt: skip
