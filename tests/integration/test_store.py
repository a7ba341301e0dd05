"""The PostgreSQL store on a real server with pgvector: idempotent videos, analyses replaced in one transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from vidground.errors import ConfigError, NotFoundError
from vidground.index.records import (
    AnalysisKind,
    AnalysisRecord,
    NewVideo,
    OutcomeRecord,
    QueryOutcome,
    SegmentRecord,
    Source,
    VideoStatus,
    analysis_key,
)
from vidground.index.sql import migrate
from vidground.index.sql.store import PostgresStore


@pytest.fixture
def store(pg_database: str) -> PostgresStore:
    engine = create_engine(pg_database)
    migrate.upgrade(engine)
    return PostgresStore(engine)


def video(content_hash: str = "ab" * 32, path: str = "/v/a.mp4") -> NewVideo:
    return NewVideo(content_hash, path, 1000, 10.0, 25.0, 640, 272, {"codec": "h264"})


def analysis(kind: AnalysisKind, key: str, texts: list[str]) -> AnalysisRecord:
    return AnalysisRecord(
        kind=kind,
        analysis_key=key,
        params_hash="p",
        options={"sampling": {}},
        model_id="m",
        model_revision=None,
        provenance={"raw": ["a\x00b"]},
        segments=tuple(SegmentRecord(Source.CAPTION, i, i + 1.0, text=t) for i, t in enumerate(texts)),
        outcomes=(OutcomeRecord("q", QueryOutcome.UNREADABLE, raw=("\x00garbage",)),),
    )


def count(store: PostgresStore, sql: str) -> int:
    with store.engine.connect() as connection:
        return int(connection.execute(text(sql)).scalar_one())


def test_the_same_content_is_one_video(store: PostgresStore) -> None:
    first = store.add_video(video())
    again = store.add_video(video(path="/elsewhere/copy.mp4"))
    assert again.id == first.id and again.path == "/elsewhere/copy.mp4"
    assert store.find_video("ab" * 32) == again
    other_tenant = store.add_video(NewVideo("ab" * 32, "/v/a.mp4", 1000, 10.0, 25.0, 640, 272, {}, tenant="t2"))
    assert other_tenant.id != first.id


def test_an_analysis_replaces_its_kind_only_and_stores_what_postgres_cannot_hold(store: PostgresStore) -> None:
    vid = store.add_video(video()).id
    key = analysis_key(AnalysisKind.CAPTION, params_hash="p", model_id="m")
    store.replace_analysis(vid, analysis(AnalysisKind.CAPTION, key, ["one", "two\x00"]), vectors=[[0.1] * 384] * 2,
                           embedder="e")  # fmt: skip
    store.replace_analysis(vid, analysis(AnalysisKind.SUBTITLES, "s", ["said"]), vectors=[[0.2] * 384], embedder="e")
    assert store.analysis_key(vid, AnalysisKind.CAPTION) == key
    store.replace_analysis(vid, analysis(AnalysisKind.CAPTION, "k2", ["three"]), vectors=[[0.3] * 384], embedder="e")
    assert store.analysis_key(vid, AnalysisKind.CAPTION) == "k2"
    assert count(store, "SELECT count(*) FROM analyses") == 2
    assert count(store, "SELECT count(*) FROM segments") == 2  # three + said
    assert count(store, "SELECT count(*) FROM segment_embeddings") == 2
    assert count(store, "SELECT count(*) FROM query_outcomes") == 2
    with pytest.raises(ValueError, match="one vector per segment"):
        store.replace_analysis(vid, analysis(AnalysisKind.CAPTION, "k3", ["x"]), vectors=[], embedder="e")
    assert store.analysis_key(vid, AnalysisKind.CAPTION) == "k2"  # the failed write changed nothing
    store.set_status(vid, VideoStatus.INDEXED)
    (listed,) = store.list_videos()
    assert listed.status is VideoStatus.INDEXED and listed.n_segments == 2
    assert listed.analyses == (AnalysisKind.CAPTION, AnalysisKind.SUBTITLES)


def test_forget_by_id_hash_prefix_or_path(store: PostgresStore) -> None:
    a = store.add_video(video("abc1" + "0" * 60, "/v/a.mp4"))
    b = store.add_video(video("abc2" + "0" * 60, "/v/b.mp4"))
    store.replace_analysis(a.id, analysis(AnalysisKind.CAPTION, "k", ["x"]), vectors=[[0.1] * 384], embedder="e")
    with pytest.raises(ConfigError, match="matches 2 videos"):
        store.forget("abc")
    assert store.forget("abc1").id == a.id
    assert count(store, "SELECT count(*) FROM segments") == 0
    assert store.forget("/v/b.mp4").id == b.id
    with pytest.raises(NotFoundError):
        store.forget(str(b.id))
