"""``vidground search``: hybrid search over the index, rendered as a table, JSON or JSONL.

:func:`register` adds the command to the app (called from ``vidground.cli_index.register``). Errors are the
library's :class:`~vidground.errors.VidgroundError`, mapped to exit 2 by ``vidground.cli.main``.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from vidground.errors import ConfigError
from vidground.index.records import DEFAULT_TENANT, SearchHit, Source
from vidground.output.timecodes import TimeStyle, format_timecode, parse_timecode

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from vidground.index.sql.search import SearchPage
    from vidground.settings import Settings

out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class SearchFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    JSONL = "jsonl"


def register(app: typer.Typer) -> None:
    """Add the index commands to ``app``."""
    app.command(
        name="search",
        epilog="\b\nExamples:\n"
        '  vidground search "goalkeeper saves a penalty"\n'
        '  vidground search "Okonkwo" --source subtitle --format json\n'
        '  vidground search "dog on the beach" --video 3 --start 1:00 --end 2:30 --time-format clock\n'
        "\n\b\nExit codes: 0 done (also when nothing matches), 2 bad input, missing database or embedder,"
        " 1 unexpected failure.",
    )(_search_command)


def _source(name: str | None) -> Source | None:
    """The ``--source`` value as a Source (``answer`` is short for ``query_answer``).

    Raises:
        ConfigError: not a source.
    """
    if name is None:
        return None
    try:
        return Source(name.strip().lower())
    except ValueError:
        choices = ", ".join(s.value for s in Source)
        raise ConfigError(f"--source {name!r}: expected one of {choices} (or answer)") from None


def _search_command(
    query: Annotated[
        str,
        typer.Argument(
            metavar="QUERY",
            help='The event to look for, in words; "an exact phrase", -excluded words. A query that starts with'
            ' "-" goes after --: vidground search -- "-kitchen dog".',
        ),
    ],
    limit: Annotated[int, typer.Option("--limit", "-n", help="Hits per page (1-1000).")] = 20,
    video: Annotated[int | None, typer.Option("--video", help="Only this video (its id).")] = None,
    source: Annotated[
        str | None,
        typer.Option(
            "--source",
            metavar="SOURCE",
            help="Only segments from this source: speech, ocr, caption, subtitle or answer (query_answer).",
        ),
    ] = None,
    start: Annotated[
        str | None, typer.Option("--start", help="Only segments overlapping from here (seconds or H:MM:SS).")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--end", help="Only segments overlapping up to here (seconds or H:MM:SS).")
    ] = None,
    cursor: Annotated[
        str | None, typer.Option("--cursor", help="Next page: the cursor the previous page printed.")
    ] = None,
    tenant: Annotated[str, typer.Option("--tenant", help="Whose videos to search.")] = DEFAULT_TENANT,
    embedder: Annotated[
        str | None,
        typer.Option(
            "--embedder",
            help="Embedding model of the index (the one that embedded it). [default: VIDGROUND_EMBEDDER]",
            show_default=False,
        ),
    ] = None,
    fmt: Annotated[SearchFormat, typer.Option("--format", "-f", help="Output format.")] = SearchFormat.TABLE,
    time_format: Annotated[
        TimeStyle,
        typer.Option("--time-format", help="Timecodes as seconds, clock (HH:MM:SS.mmm) or hmsf (SMPTE)."),
    ] = TimeStyle.SECONDS,
) -> None:
    """Search the indexed videos for QUERY: full text and meaning, fused; best places first."""
    from vidground.cli import _settings
    from vidground.index.sql.search import search, semantic_text

    settings = _settings()
    start_s = None if start is None else parse_timecode(start)
    end_s = None if end is None else parse_timecode(end)
    model = _load_embedder(embedder or settings.embedder)
    engine = _engine(settings)
    try:
        page = search(
            engine,
            query=query,
            query_vector=lambda: model.embed([semantic_text(query)])[0],  # made while the word list is drawn
            embedder_name=model.name,
            tenant=tenant,
            limit=limit,
            cursor=cursor,
            video_id=video,
            source=_source(source),
            start_s=start_s,
            end_s=end_s,
        )
    finally:
        engine.dispose()
    _render(page, query=query, fmt=fmt, time_format=time_format)


def _load_embedder(name: str) -> Any:
    """The query embedder: ONNX Runtime (NumPy without it), one query needs no torch (same vectors as the torch
    rows it searches)."""
    from vidground.index.embed import get_embedder, query_runtime

    return get_embedder(name, runtime=query_runtime())


def _engine(settings: Settings) -> Engine:
    """An engine on the index's database (the embedded one, migrated, unless VIDGROUND_DATABASE_URL names one).

    Raises:
        ConfigError: the database cannot be reached, lacks pgvector, or is not migrated.
    """
    from vidground.cli_index import open_store

    return open_store(settings).engine


def _hit_json(hit: SearchHit, time_format: TimeStyle) -> dict[str, object]:
    return {
        "video_id": hit.video_id,
        "video": hit.video_path,
        "content_hash": hit.content_hash,
        "start_s": hit.start_s,
        "end_s": hit.end_s,
        "start": _timecode(hit.start_s, hit, time_format),
        "end": _timecode(hit.end_s, hit, time_format),
        "source": str(hit.source),
        "signals": list(hit.signals),
        "score": hit.score,
        "text": hit.text,
    }


def _timecode(seconds: float, hit: SearchHit, style: TimeStyle) -> str:
    if style is TimeStyle.HMSF and not hit.fps > 0:
        raise ConfigError(f"--time-format hmsf: {hit.video_path} has no known frame rate; use seconds or clock")
    return format_timecode(seconds, fps=hit.fps or None, style=style)


def _render(page: SearchPage, *, query: str, fmt: SearchFormat, time_format: TimeStyle) -> None:
    if fmt is SearchFormat.JSON:
        hits = [_hit_json(h, time_format) for h in page.hits]
        out.print(json.dumps({"query": query, "hits": hits, "next_cursor": page.next_cursor}, indent=2), markup=False)
        return
    if fmt is SearchFormat.JSONL:
        for hit in page.hits:
            out.print(json.dumps(_hit_json(hit, time_format)), markup=False)
    else:
        if not page.hits:
            out.print(f"no match for {query!r}", markup=False)
            return
        table = Table("video", "span", "source", "signals", "score", "text")
        for hit in page.hits:
            span = f"{_timecode(hit.start_s, hit, time_format)} - {_timecode(hit.end_s, hit, time_format)}"
            cells = (hit.video_path, span, str(hit.source), "+".join(hit.signals), f"{hit.score:.4f}", hit.text)
            table.add_row(*(Text(cell) for cell in cells))  # plain text: no rich markup in paths or captions
        out.print(table, markup=False)
    if page.next_cursor is not None:
        err.print(f"more: --cursor {page.next_cursor}", markup=False)
