"""The index's commands: ``ingest``, ``videos``, ``forget``, ``search`` and ``db upgrade|status``.

Registered on the main app by :func:`register` (``vidground/cli.py``); errors reach the user through the same one
place as every other command (``cli.main``).
"""

# No ``from __future__ import annotations``: typer reads the commands' annotations, which name the shared flag
# types of ``vidground.cli``, imported inside ``register``.
import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from vidground.errors import ConfigError
from vidground.export import ExportFormat, ExportWhat

if TYPE_CHECKING:
    from vidground.index.sql.store import PostgresStore
    from vidground.settings import Settings

db_app = typer.Typer(help="The index's database: migrate it, see where it stands.", no_args_is_help=True)


class ListFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


def open_store(settings: "Settings", *, migrate: bool | None = None) -> "PostgresStore":
    """The index store for these settings: the embedded server (migrated to head on start) or the configured one
    (which must be at head: ``vidground db upgrade``).

    Raises:
        ConfigError: the server cannot be reached, lacks pgvector, or is not migrated.
    """
    from vidground.index.sql import migrate as migrations
    from vidground.index.sql.engine import check_server, database_url, make_engine
    from vidground.index.sql.store import PostgresStore

    embedded = settings.database_url is None
    engine = make_engine(database_url(settings.database_url, settings.data_dir))
    check_server(engine)
    if migrate if migrate is not None else embedded:
        migrations.upgrade(engine)
    else:
        current, head = migrations.current_revision(engine), migrations.head_revision()
        if current != head:
            raise ConfigError(
                f"the index database is at revision {current or 'none'}, this vidground needs {head}: "
                "run `vidground db upgrade`"
            )
    return PostgresStore(engine)


def _video_ref(video: str) -> str:
    """A video as the store looks it up: an existing file by its content hash (any copy or name of it), else the
    id, hash prefix or stored path as given."""
    from vidground.ingest import hash_file

    path = Path(video)
    return hash_file(path)[0] if path.is_file() else video


def register(app: typer.Typer) -> None:
    """Add the index's commands to the main app."""
    from vidground import cli

    epilog = cli._epilog

    @app.command(
        epilog=epilog(
            "vidground ingest movie.mp4",
            'vidground ingest footage/ --recursive --query "a person opens a door" --query "a dog barks"',
            "vidground ingest --manifest new.txt --no-captions   # subtitles, speech, on-screen text, shots",
            "vidground ingest talk.mp4 --no-ocr --asr-model /models/faster-whisper-small --language auto",
        )
    )
    def ingest(
        paths: Annotated[
            list[Path] | None,
            typer.Argument(metavar="PATH", help="Video files or folders.", show_default=False),
        ] = None,
        recursive: Annotated[bool, typer.Option("--recursive", "-r", help="Look into subfolders.")] = False,
        manifest: Annotated[
            Path | None, typer.Option("--manifest", help="A file listing videos, one path per line.")
        ] = None,
        query: Annotated[
            list[str] | None,
            typer.Option("--query", help="A standing question to answer for every video (repeatable)."),
        ] = None,
        subtitles: Annotated[
            Path | None,
            typer.Option("--subtitles", help="Subtitles for the one video given (default: those beside it)."),
        ] = None,
        no_captions: Annotated[bool, typer.Option("--no-captions", help="Do not caption the videos.")] = False,
        speech: Annotated[
            bool, typer.Option("--speech/--no-speech", help="Transcribe what is said (faster-whisper).")
        ] = True,
        ocr: Annotated[bool, typer.Option("--ocr/--no-ocr", help="Read the text on screen (RapidOCR).")] = True,
        shots: Annotated[bool, typer.Option("--shots/--no-shots", help="Find the shot cuts (PySceneDetect).")] = True,
        asr_model: Annotated[
            str | None,
            typer.Option("--asr-model", help="Whisper model: a CTranslate2 folder or hub id. [default: tiny.en, "
                         "bundled; VIDGROUND_ASR_MODEL]", show_default=False),
        ] = None,
        language: Annotated[
            str | None,
            typer.Option("--language", help="Spoken language code, or 'auto'. [default: en; VIDGROUND_ASR_LANGUAGE]",
                         show_default=False),
        ] = None,
        ocr_fps: Annotated[
            float | None,
            typer.Option("--ocr-fps", min=0.01, help="Frames read for text per second. [default: 1.0; "
                         "VIDGROUND_OCR_FPS]", show_default=False),
        ] = None,
        model: cli.Model = None,
        device: cli.Device = None,
        fps: cli.Fps = None,
        nframes: cli.NFrames = None,
        max_frames: cli.MaxFrames = None,
        max_tokens: cli.MaxTokens = None,
        total_pixels: cli.TotalPixels = None,
        decoder: cli.Decoder = None,
        resize: cli.Resize = None,
        batch_size: cli.BatchSize = None,
        quiet: cli.Quiet = False,
    ) -> None:
        """Index videos: captions, answers to standing queries, subtitles, speech, on-screen text and shots,
        embedded and searchable."""
        from vidground.index.embed import get_embedder
        from vidground.ingest import Enrichers, FileOutcome, IngestRequest, collect_videos, ingest_file

        settings = cli._settings()
        options = settings.options(cli._knob_flags(locals()))
        files = collect_videos(paths or [], recursive=recursive, manifest=manifest)
        if subtitles is not None and len(files) != 1:
            raise ConfigError(f"--subtitles {subtitles}: give exactly one video with it, got {len(files)}")
        if subtitles is not None and not subtitles.is_file():
            raise ConfigError(f"--subtitles {subtitles}: no such file")
        queries = tuple(query or ())
        request = IngestRequest(
            model_id=model or settings.model_id,
            model_revision=settings.model_revision if model is None else None,
            queries=queries,
            captions=not no_captions,
            subtitles=subtitles,
            speech=speech,
            ocr=ocr,
            shots=shots,
            speech_options=settings.speech_options(model=asr_model, language=language),
            ocr_options=settings.ocr_options(fps=ocr_fps),
        )
        needs_model = request.captions or bool(queries)
        runner = cli._runner(settings, model, device) if needs_model else None
        store = open_store(settings)
        embedder = get_embedder(settings.embedder)
        reports = []
        enrichers = Enrichers()  # one speech model and OCR engine for every file
        for n, path in enumerate(files, start=1):
            if not quiet and cli.err.is_terminal:
                cli.err.print(f"[{n}/{len(files)}] {path} ...", markup=False)
            report = ingest_file(path, request, store=store, embedder=embedder, runner=runner, options=options,
                                 enrichers=enrichers)  # fmt: skip
            reports.append(report)
            said = "already indexed" if report.outcome is FileOutcome.SKIPPED else str(report.outcome)
            line = f"[{n}/{len(files)}] {path}: {said}"
            if report.outcome is FileOutcome.FAILED:
                line += f": {report.reason}"
            elif report.stored:
                line += f" ({', '.join(map(str, report.stored))}; {report.n_segments} segments, {report.seconds:.1f} s)"
            cli.err.print(line, markup=False)
            for note in report.notes:
                cli.err.print(f"  note: {path}: {note}", markup=False)
        counts = {o: sum(r.outcome is o for r in reports) for o in FileOutcome}
        cli.err.print(
            f"{counts[FileOutcome.INGESTED]} ingested, {counts[FileOutcome.SKIPPED]} already indexed, "
            f"{counts[FileOutcome.FAILED]} failed",
            markup=False,
        )
        for report in reports:
            if report.outcome is FileOutcome.FAILED:
                cli.err.print(f"  failed: {report.path}: {report.reason}", markup=False)
        if counts[FileOutcome.FAILED]:
            raise typer.Exit(2)

    @app.command(epilog=epilog("vidground videos", "vidground videos --format json"))
    def videos(
        fmt: Annotated[ListFormat, typer.Option("--format", "-f", help="Output format. [default: table]")] = (
            ListFormat.TABLE
        ),
    ) -> None:
        """List the indexed videos with their status, analyses and segment counts."""
        settings = cli._settings()
        records = open_store(settings).list_videos()
        if fmt is ListFormat.JSON:
            cli.out.print_json(json.dumps([_video_json(r) for r in records]))
            return
        if not records:
            cli.out.print("no videos indexed yet (vidground ingest PATH)")
            return
        for r in records:
            analyses = ",".join(map(str, r.analyses)) or "-"
            line = (
                f"{r.id:>5}  {r.content_hash[:12]}  {r.status:<8} {r.duration_s:>9.1f} s  "
                f"{r.n_segments:>5} segments  {analyses:<26} {r.path}"
            )
            cli.out.print(line, markup=False)
            if r.error:
                cli.out.print(f"       error: {r.error}", markup=False)

    @app.command(epilog=epilog("vidground forget 3", "vidground forget 9f2c1a", "vidground forget /data/movie.mp4"))
    def forget(
        video: Annotated[
            str, typer.Argument(metavar="VIDEO_OR_HASH", help="Video id, content hash (or a prefix), or path.")
        ],
    ) -> None:
        """Remove a video from the index: its rows, segments and embeddings (the file itself is left alone)."""
        settings = cli._settings()
        ref = str(Path(video).resolve()) if Path(video).exists() else video
        record = open_store(settings).forget(ref)
        cli.out.print(f"forgot {record.id} {record.content_hash[:12]} {record.path}", markup=False)

    @app.command(
        epilog=epilog(
            "vidground export movie.mp4 --format otio -o movie.otio",
            "vidground export 3 --what answers --format edl -o selects.edl",
            "vidground export 9f2c1a --what shots --format csv",
        )
    )
    def export(
        video: Annotated[
            str,
            typer.Argument(metavar="VIDEO", help="An indexed video: its file, id or content hash (or a prefix)."),
        ],
        what: Annotated[
            ExportWhat, typer.Option("--what", help="Which moments. [default: all]", show_default=False)
        ] = ExportWhat.ALL,
        fmt: Annotated[ExportFormat, typer.Option("--format", "-f", help="otio, edl (CMX 3600), srt, vtt or csv.")] = (
            ExportFormat.OTIO
        ),
        out_file: cli.OutFile = None,
    ) -> None:
        """Write an indexed video's moments (answers, captions, shots, speech, on-screen text, subtitles) for
        editors: OpenTimelineIO markers or a CMX 3600 EDL at the video's own frame rate, or SRT, VTT, CSV."""
        from vidground.export import VideoFacts, export, markers

        settings = cli._settings()
        store = open_store(settings)
        record = store.resolve(_video_ref(video))
        moments = markers(store.segments(record.id), store.shots(record.id), what)
        if not moments:
            cli.err.print(f"warning: {record.path}: nothing of '{what}' is indexed", markup=False)
        cli._emit(export(moments, VideoFacts(record.path, record.duration_s, record.fps), fmt), out_file)

    @db_app.command("upgrade")
    def db_upgrade() -> None:
        """Migrate the index database to this vidground's schema (head)."""
        from vidground.index.sql import migrate as migrations

        store = open_store(cli._settings(), migrate=True)
        cli.out.print(f"database at revision {migrations.current_revision(store.engine)} (head)", markup=False)

    @db_app.command("status")
    def db_status() -> None:
        """Say which database the index uses and whether its schema is current."""
        from vidground.index.sql import migrate as migrations
        from vidground.index.sql.engine import check_server, database_url, make_engine

        settings = cli._settings()
        engine = make_engine(database_url(settings.database_url, settings.data_dir))
        check_server(engine)
        current, head = migrations.current_revision(engine), migrations.head_revision()
        where = "embedded" if settings.database_url is None else "configured (VIDGROUND_DATABASE_URL)"
        cli.out.print(f"database: {engine.url.render_as_string(hide_password=True)} ({where})", markup=False)
        state = "at head" if current == head else "behind: run `vidground db upgrade`"
        cli.out.print(f"revision: {current or 'none'} (head {head}): {state}", markup=False)
        if current != head and settings.database_url is not None:
            raise typer.Exit(2)

    app.add_typer(db_app, name="db")
    from vidground import cli_search

    cli_search.register(app)
    from vidground import cli_service, cli_workers

    cli_service.register(app)
    cli_workers.register(app)
    __import__("vidground.cli_serve").cli_serve.register(app)


def _video_json(record: Any) -> dict[str, Any]:
    return {
        "id": record.id,
        "content_hash": record.content_hash,
        "path": record.path,
        "status": str(record.status),
        "error": record.error,
        "duration_s": record.duration_s,
        "fps": record.fps,
        "width": record.width,
        "height": record.height,
        "size_bytes": record.size_bytes,
        "n_segments": record.n_segments,
        "analyses": [str(a) for a in record.analyses],
        "created_at": record.created_at.isoformat(),
    }
