"""Search the index by event query: full text and vector neighbours fused by reciprocal rank in SQL.

Two candidate lists are drawn, each up to ``candidates`` segments long, under the same filters (tenant, video,
source, time range), then one statement fuses them and joins what a hit shows, for as many hits as the page's
merging reads (a batch at a time; the first batch is nearly always enough). The word list is drawn first, while
the query may still be embedding on another thread (~9-15 ms for MiniLM on one core); the word list takes about as
long or less, so drawing it on a second connection beside the vector list gained nothing (measured: hybrid p50
35.1 ms on two connections, 35.3 ms on one, benchmarks/search.py at 1M segments).

- **text**: segments whose ``tsv`` matches ``websearch_to_tsquery('english', query)``, by ``ts_rank_cd``. Ranking
  reads every match, so at most ``text_scan`` matches (in table order) are ranked: a broad query ("a man walks")
  can match tens of thousands of a million captions, and there the words say little about which is best anyway;
  the vector list orders those;
- **vector**: segments whose embedding (made by the same embedding model) is nearest the query's, by cosine
  distance through the HNSW index. ``hnsw.iterative_scan = relaxed_order`` lets a filtered query keep walking
  the graph until enough rows pass the filter; the list is re-sorted by exact distance afterwards. Neighbours less
  similar than ``min_similarity`` are dropped: every query has nearest neighbours, and a far one is no answer.

Reciprocal-rank fusion (k = 60) scores a segment ``sum(1 / (k + rank))`` over the lists that hold it (rank from 1),
so a segment first in both lists scores 2/61 ≈ 0.0328, one first in a single list 1/61 ≈ 0.0164. Each hit says which
lists found it (``signals``).

Overlapping hits of one video (temporal IoU >= 0.5, or one span inside the other) are one place in the video: the
better-ranked hit stays — its span, text, source and score, since its text is what describes that span — and takes
the union of the signals. A 2 s subtitle inside a 10 s caption that also matched becomes one hit.

"No answer" means no hits: no segment matches the words, and no segment is at least ``min_similarity`` close.

Pages: a cursor is an opaque string holding an offset into the merged ranking and a hash of the query and its
filters; a cursor from another query is refused. The ranking is recomputed for each page from the same bounded
candidate lists, so pages over an unchanged index have no duplicates and no gaps; all pages together hold at most
the merged union of the two lists (``2 * candidates`` segments before merging).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.orm import Session

from vidground.errors import ConfigError
from vidground.index.records import DEFAULT_TENANT, SearchHit, Source
from vidground.index.sql.models import EMBEDDING_DIM
from vidground.output.merge import temporal_iou
from vidground.timeline import Span

RRF_K = 60
DEFAULT_CANDIDATES = 100  # per signal, before fusion
DEFAULT_LIMIT = 20
MAX_LIMIT = 1000
# Cosine similarity below which a vector neighbour is no answer. Tuned for all-MiniLM-L6-v2: paraphrases of a
# caption score 0.4-0.6 against it, unrelated sentences -0.1-0.2.
DEFAULT_MIN_SIMILARITY = 0.3
MERGE_IOU = 0.5
# HNSW search breadth. benchmarks/search.py (m=16, ef_construction=64), recall@10 against exact search at 1M
# segments: 0.90 at 100 and 0.95 at 200 on its varied corpus (p50 6.3 / 9.5 ms for the top 10); 0.73 / 0.78 on its
# clustered one, whose lost queries a larger ef_search barely finds (0.83 at 800).
DEFAULT_EF_SEARCH = 200
# Matches of the words ranked at most. A word that most segments hold gives no order worth the time: the vector
# list ranks those; names and rare words match fewer and are ranked whole. benchmarks/search.py --text-scans 2000
# 500 (1M segments, interleaved): text-only search p50 15.8 / 8.0 ms, p95 34.4 / 16.4 ms (the statement reads each
# ranked match's row; finding them all in the GIN index costs the same either way).
DEFAULT_TEXT_SCAN = 500


class Signal(StrEnum):
    """Which candidate list found a hit."""

    TEXT = "text"
    VECTOR = "vector"


@dataclass(frozen=True)
class SearchPage:
    """One page of hits, best first, and the cursor of the next page (None on the last)."""

    hits: tuple[SearchHit, ...]
    next_cursor: str | None


# Cheap when the model is there (the first row of it ends the scan); the other model is read only on the error path.
_ANY_MODEL_SQL = text("SELECT model FROM segment_embeddings LIMIT 1")

# The word list, drawn first: while it runs, the query can still be embedding (see ``search``). ``{filters}`` is
# filled from ``_FILTERS`` with the filters a search uses (fixed SQL, values as parameters), so the planner sees
# plain conditions it can push into the index scans rather than "(:x IS NULL OR ...)".
_TEXT_SQL = """
WITH q AS (SELECT websearch_to_tsquery('english', :query) AS tsq),
matches AS MATERIALIZED (
    SELECT s.id, s.tsv
    FROM q, segments s
    WHERE s.tsv @@ q.tsq AND s.tenant = :tenant{filters}
    LIMIT :text_scan
)
SELECT m.id
FROM q, matches m
ORDER BY ts_rank_cd(m.tsv, q.tsq) DESC, m.id
LIMIT :text_candidates
"""
# The vector list under the same filters, nearest first (HNSW's order is approximate; ranks come from the distances).
_VECTOR_SQL = """
SELECT e.segment_id AS id, e.embedding <=> :vec AS distance
FROM segment_embeddings e JOIN segments s ON s.id = e.segment_id
WHERE e.model = :model AND s.tenant = :tenant{filters}
ORDER BY e.embedding <=> :vec
LIMIT :vector_candidates
"""
# Both lists, best first, fused by reciprocal rank; the hits from ``:skip`` on, ``:n`` of them, joined to what a
# hit shows (a page's worth at a time: only the rows the page's merging reads are joined).
_FUSE_SQL = text("""
WITH ranked AS (
    SELECT t.id, 'text' AS signal, t.rank FROM unnest(CAST(:text_ids AS bigint[])) WITH ORDINALITY AS t(id, rank)
    UNION ALL
    SELECT v.id, 'vector' AS signal, v.rank FROM unnest(CAST(:vector_ids AS bigint[])) WITH ORDINALITY AS v(id, rank)
),
fused AS (
    SELECT id, sum(1.0 / (:rrf_k + rank)) AS score, array_agg(signal ORDER BY signal) AS signals
    FROM ranked GROUP BY id
    ORDER BY score DESC, id
    LIMIT :n OFFSET :skip
)
SELECT f.id, f.score, f.signals, s.video_id, s.source, s.start_s, s.end_s,
       COALESCE(s.text, s.query, '') AS text, v.path, v.content_hash, v.fps
FROM fused f JOIN segments s ON s.id = f.id JOIN videos v ON v.id = s.video_id
ORDER BY f.score DESC, f.id
""")
# The HNSW knobs for this transaction (SET LOCAL takes no bind parameters; set_config(..., true) is the same) and
# whether the index holds vectors of the query's model, in one round trip.
_PREPARE_VECTOR_SQL = text(
    "SELECT set_config('hnsw.ef_search', :ef, true), set_config('hnsw.iterative_scan', 'relaxed_order', true),"
    " EXISTS (SELECT 1 FROM segment_embeddings WHERE model = :model)"
)
_FILTERS = {
    "video_id": " AND s.video_id = :video_id",
    "source": " AND s.source = :source",
    "start_s": " AND s.end_s > :start_s",  # overlaps the range: ends after it starts ...
    "end_s": " AND s.start_s < :end_s",  # ... and starts before it ends
}


def _statements(filters: Sequence[str]) -> tuple[Any, Any]:
    """The word-list and vector-list statements with these filters (names of ``_FILTERS``)."""
    from pgvector.sqlalchemy import Vector

    where = "".join(_FILTERS[name] for name in filters)
    vector = text(_VECTOR_SQL.format(filters=where)).bindparams(bindparam("vec", type_=Vector(EMBEDDING_DIM)))
    return text(_TEXT_SQL.format(filters=where)), vector


_embedding_pool: ThreadPoolExecutor | None = None
_embedding_pool_lock = threading.Lock()


def _embed_beside(make_vector: Callable[[], Sequence[float]]) -> Future[Sequence[float]]:
    """Start ``make_vector()`` on a shared thread, so the word list is drawn meanwhile."""
    global _embedding_pool
    with _embedding_pool_lock:
        if _embedding_pool is None:
            _embedding_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="vidground-query-embed")
    return _embedding_pool.submit(make_vector)


# A word or quoted phrase excluded with a leading minus, as websearch_to_tsquery reads it (a hyphen inside a word,
# "t-shirt", is no exclusion).
_EXCLUDED = re.compile(r'(?:^|(?<=\s))-(?:"[^"]*"?|[^\s"]+)')


def semantic_text(query: str) -> str:
    """The part of a web-search query that says what to look for, for the query's embedding: excluded words and
    phrases dropped, quotes removed. The word list still reads the whole query.

    Example: ``'"the park" at night -dog'`` → ``'the park at night'``; ``'kicks -kitchen'`` → ``'kicks'``; a query
    of exclusions only (``'-dog'``) → ``''``, and it has no vector list.
    """
    return " ".join(_EXCLUDED.sub(" ", query).replace('"', " ").split())


def search(
    db: Session | Engine | Connection,
    *,
    query: str,
    query_vector: Sequence[float] | Callable[[], Sequence[float]],
    embedder_name: str,
    tenant: str = DEFAULT_TENANT,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
    video_id: int | None = None,
    source: Source | None = None,
    start_s: float | None = None,
    end_s: float | None = None,
    candidates: int = DEFAULT_CANDIDATES,
    min_similarity: float = DEFAULT_MIN_SIMILARITY,
    ef_search: int = DEFAULT_EF_SEARCH,
    text_scan: int = DEFAULT_TEXT_SCAN,
    signals: Collection[Signal] = (Signal.TEXT, Signal.VECTOR),
) -> SearchPage:
    """Find the places in the indexed videos that match ``query``, best first, one page at a time.

    Args:
        db: a session (its transaction is used), an engine (a transaction is opened) or a connection.
        query: the event query as the user wrote it (web-search syntax: ``"exact phrase"``, ``-word``, ``or``).
        query_vector: the query's embedding, unit length, ``EMBEDDING_DIM`` (384) floats; or a function that
            makes it (e.g. ``lambda: embedder.embed([semantic_text(query)])[0]``), called on another thread
            while the word list is drawn, so embedding and the full-text search overlap (not called for a text-only
            search, nor for a query of exclusions only).
        embedder_name: the embedding model that made ``query_vector``; only vectors of that model are compared.
        tenant: whose videos to search.
        limit: hits per page, 1 to 1000.
        cursor: ``next_cursor`` of the previous page of the same query and filters; None for the first page.
        video_id: only this video.
        source: only segments of this source (caption, subtitle, query answer).
        start_s, end_s: only segments overlapping this range of video seconds (either end may be open).
        candidates: length of each candidate list before fusion (bounds how many pages there are).
        min_similarity: cosine similarity a vector neighbour needs to count (see ``DEFAULT_MIN_SIMILARITY``).
        ef_search: HNSW search breadth (``hnsw.ef_search``), at least ``candidates`` is used.
        text_scan: at most this many word matches are ranked for the text list.
        signals: which candidate lists to draw (both by default; one alone to measure it).

    Returns:
        The page's hits (merged, ranked by fused score) and the next page's cursor.

    Raises:
        ConfigError: an empty query; a vector of the wrong size or not finite; a bad limit, range or cursor; the
            index holds vectors of another embedding model only; the database has no index tables.
    """
    if not query.strip():
        raise ConfigError("search query is empty; write the event to look for, e.g. 'a dog catches a frisbee'")
    given = None if callable(query_vector) else _checked_vector(query_vector, embedder_name)
    if not 1 <= limit <= MAX_LIMIT:
        raise ConfigError(f"search limit: expected 1 to {MAX_LIMIT}, got {limit}")
    if not signals:
        raise ConfigError("search signals: expected text, vector or both, got none")
    if candidates < 1 or text_scan < candidates:
        raise ConfigError(f"search candidates: expected 1 <= candidates ({candidates}) <= text_scan ({text_scan})")
    for name, value in (("start", start_s), ("end", end_s)):
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise ConfigError(f"search --{name}: expected seconds >= 0, got {value}")
    if start_s is not None and end_s is not None and end_s <= start_s:
        raise ConfigError(f"search range: --end ({end_s:g} s) must come after --start ({start_s:g} s)")

    query_hash = _query_hash(
        query=query,
        embedder_name=embedder_name,
        tenant=tenant,
        video_id=video_id,
        source=source,
        start_s=start_s,
        end_s=end_s,
        candidates=candidates,
        min_similarity=min_similarity,
        text_scan=text_scan,
        signals=sorted(Signal(x) for x in signals),
    )
    offset = 0 if cursor is None else _read_cursor(cursor, query_hash)
    filters = {
        "video_id": video_id,
        "source": None if source is None else str(source),
        "start_s": start_s,
        "end_s": end_s,
    }
    used = {name: value for name, value in filters.items() if value is not None}
    text_sql, vector_sql = _statements(list(used))
    params = {
        "query": query,
        "model": embedder_name,
        "tenant": tenant,
        "text_candidates": candidates if Signal.TEXT in signals else 0,
        "text_scan": text_scan if Signal.TEXT in signals else 0,
        "vector_candidates": candidates if Signal.VECTOR in signals else 0,
        "max_distance": 1.0 - min_similarity,
        **used,
    }
    wants_text = Signal.TEXT in signals
    # "-kitchen" alone names nothing to look for: its embedding would find kitchens.
    wants_vector = Signal.VECTOR in signals and bool(semantic_text(query))
    pending = _embed_beside(query_vector) if callable(query_vector) and wants_vector else None

    def vector() -> list[float]:
        if given is not None:
            return given
        assert pending is not None  # a vector search has a given vector or a function that makes one
        return _checked_vector(pending.result(), embedder_name)

    lists = _Lists(
        text_sql=text_sql,
        vector_sql=vector_sql,
        params=params,
        embedder_name=embedder_name,
        ef_search=max(ef_search, candidates),
        wants_text=wants_text,
        wants_vector=wants_vector,
        vector=vector,
    )
    # Merging is greedy in rank order, so the first n merged hits depend on nothing after them: stop at one past
    # the page (which says whether there is a next one).
    keep = offset + limit + 1
    try:
        if isinstance(db, Engine):
            with db.begin() as connection:
                merged = lists.drawn(connection, keep=keep)
        else:
            merged = lists.drawn(db.connection() if isinstance(db, Session) else db, keep=keep)
    finally:
        if pending is not None:
            pending.cancel()  # when the database failed first: no embedding nobody waits for, if not started

    page = merged[offset : offset + limit]
    more = offset + limit < len(merged)
    return SearchPage(hits=page, next_cursor=_make_cursor(offset + limit, query_hash) if more else None)


@dataclass(frozen=True)
class _Lists:
    """One search's two candidate lists and their fusion, on one connection."""

    text_sql: Any
    vector_sql: Any
    params: dict[str, Any]
    embedder_name: str
    ef_search: int
    wants_text: bool
    wants_vector: bool
    vector: Callable[[], list[float]]  # waits for the query vector if it is still being made

    def drawn(self, connection: Connection, *, keep: int) -> tuple[SearchHit, ...]:
        """The first ``keep`` merged hits; the query may still be embedding on another thread while the word list
        is drawn."""
        try:
            if self.wants_vector:
                self._prepare_vector(connection)
            text_ids = self._text_ids(connection)
            vector_ids = self._vector_ids(connection)
            return _merged_hits(connection, text_ids, vector_ids, keep=keep)
        except ProgrammingError as exc:
            raise _no_tables(exc) from exc

    def _prepare_vector(self, connection: Connection) -> None:
        """Set the HNSW knobs for this transaction and refuse vectors of another model."""
        present = connection.execute(
            _PREPARE_VECTOR_SQL, {"ef": str(self.ef_search), "model": self.embedder_name}
        ).one()[2]
        _check_model(connection, self.embedder_name, present=present)

    def _text_ids(self, connection: Connection) -> list[int]:
        """The word list, best first (empty when not wanted)."""
        if not self.wants_text:
            return []
        return [row[0] for row in connection.execute(self.text_sql, self.params)]

    def _vector_ids(self, connection: Connection) -> list[int]:
        """The vector list, nearest first by exact distance, without neighbours too far to count."""
        if not self.wants_vector:
            return []
        rows = connection.execute(self.vector_sql, {**self.params, "vec": self.vector()}).all()
        near = sorted((distance, id_) for id_, distance in rows if distance <= self.params["max_distance"])
        return [id_ for _, id_ in near]


def _merged_hits(
    connection: Connection, text_ids: list[int], vector_ids: list[int], *, keep: int
) -> tuple[SearchHit, ...]:
    """The first ``keep`` merged hits of the two lists fused, reading the fused ranking a batch at a time: merging
    usually needs little more than ``keep`` rows of the up to ``2 * candidates``."""

    def hits() -> Iterator[SearchHit]:
        skip, batch, total = 0, keep + 8, len(set(text_ids) | set(vector_ids))
        while skip < total:
            params = {"text_ids": text_ids, "vector_ids": vector_ids, "rrf_k": RRF_K, "n": batch, "skip": skip}
            yield from (_hit(row) for row in connection.execute(_FUSE_SQL, params))
            skip, batch = skip + batch, batch * 2

    return merge_overlapping(hits(), keep=keep)


def _checked_vector(values: Sequence[float], embedder_name: str) -> list[float]:
    """The query vector as floats. Raises ConfigError when it is not ``EMBEDDING_DIM`` finite numbers."""
    vector = [float(x) for x in values]
    if len(vector) != EMBEDDING_DIM or not all(math.isfinite(x) for x in vector):
        raise ConfigError(
            f"query vector from {embedder_name!r}: expected {EMBEDDING_DIM} finite floats, got {len(vector)}"
            " values; embed the query with the index's embedding model"
        )
    return vector


def _no_tables(exc: ProgrammingError) -> Exception:
    """A ConfigError when the statement failed for want of the index tables, else the error itself."""
    if getattr(exc.orig, "sqlstate", None) == "42P01":  # undefined_table
        return ConfigError(
            "the database has no index tables; run the migrations (vidground db upgrade) and ingest videos"
        )
    return exc


def _check_model(connection: Connection, embedder_name: str, *, present: bool) -> None:
    """Refuse to compare vectors of different embedding models (``present``: the index holds vectors of
    ``embedder_name``).

    Raises:
        ConfigError: the index holds vectors, none of them by ``embedder_name``.
    """
    other = None if present else connection.execute(_ANY_MODEL_SQL).scalar()
    if other is not None:  # vectors there, none of this model (no vectors at all: text search only)
        raise ConfigError(
            f"the index holds vectors of embedding model {other!r}, not of {embedder_name!r}: search with the"
            f" {other!r} embedder, or re-embed the index with {embedder_name!r}"
        )


def _hit(row: Any) -> SearchHit:
    return SearchHit(
        video_id=row.video_id,
        video_path=row.path,
        content_hash=row.content_hash,
        start_s=row.start_s,
        end_s=row.end_s,
        text=row.text,
        source=Source(row.source),
        signals=tuple(Signal(s).value for s in row.signals),
        score=float(row.score),
        fps=row.fps,
    )


def _overlap(a: SearchHit, b: SearchHit) -> bool:
    """Whether two hits of one video are one place: IoU >= 0.5, or one span inside the other."""
    if a.video_id != b.video_id:
        return False
    inside = (a.start_s <= b.start_s and b.end_s <= a.end_s) or (b.start_s <= a.start_s and a.end_s <= b.end_s)
    return inside or temporal_iou(Span(a.start_s, a.end_s), Span(b.start_s, b.end_s)) >= MERGE_IOU


def merge_overlapping(hits: Iterable[SearchHit], *, keep: int | None = None) -> tuple[SearchHit, ...]:
    """Merge hits of one video that overlap (IoU >= 0.5 or nested): temporal NMS that keeps the signals.

    ``hits`` must be best first. A hit that overlaps one kept before it is folded into that one, which keeps its
    span, text, source and score and gains the folded hit's signals.

    Example: caption 10-20 s (0.030, text+vector), subtitle 12-14 s (0.016, text; inside it), caption 40-50 s →
    10-20 s with signals text+vector, then 40-50 s.

    Args:
        hits: ranked hits, best first (read lazily).
        keep: stop once this many hits are kept (the rest would not change them); None: read all.

    Returns:
        The kept hits in input order.
    """
    kept: list[SearchHit] = []
    kept_by_video: dict[int, list[int]] = {}  # video id -> positions in ``kept``
    for hit in hits:
        if keep is not None and len(kept) >= keep:
            break
        same_video = kept_by_video.setdefault(hit.video_id, [])
        for i in same_video:
            better = kept[i]
            if _overlap(better, hit):
                signals = tuple(s.value for s in Signal if s in better.signals or s in hit.signals)
                kept[i] = replace(better, signals=signals)
                break
        else:
            same_video.append(len(kept))
            kept.append(hit)
    return tuple(kept)


def _query_hash(**what: object) -> str:
    """A short hash of a query and everything that decides its ranking (a cursor must come from the same)."""
    data = json.dumps({k: None if v is None else str(v) for k, v in what.items()}, sort_keys=True)
    return hashlib.sha256(data.encode()).hexdigest()[:16]


def _make_cursor(offset: int, query_hash: str) -> str:
    raw = json.dumps({"o": offset, "q": query_hash}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read_cursor(cursor: str, query_hash: str) -> int:
    """The offset a cursor points at.

    Raises:
        ConfigError: not a cursor of this module, or one made for another query or other filters.
    """
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        offset, made_for = data["o"], data["q"]
    except (binascii.Error, ValueError, TypeError, KeyError) as exc:
        raise ConfigError(f"search cursor {cursor!r} is not valid; pass next_cursor of a previous page") from exc
    if not isinstance(offset, int) or offset < 0 or not isinstance(made_for, str):
        raise ConfigError(f"search cursor {cursor!r} is not valid; pass next_cursor of a previous page")
    if made_for != query_hash:
        raise ConfigError(
            f"search cursor {cursor!r} belongs to another query or other filters; repeat that query, or drop the"
            " cursor to start from the first page"
        )
    return offset
