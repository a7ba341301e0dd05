"""Alembic on a real PostgreSQL with pgvector: up to head, down to base, and the models equal the migrations."""

from __future__ import annotations

from sqlalchemy import create_engine, inspect

from vidground.index.sql import migrate
from vidground.index.sql.models import Base


def test_upgrade_downgrade_and_autogenerate_is_empty(pg_database: str) -> None:
    engine = create_engine(pg_database)
    try:
        assert migrate.current_revision(engine) is None
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == migrate.head_revision()
        assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
        assert migrate.pending_changes(engine) == []  # autogenerate against head finds nothing to do
        indexes = {ix["name"] for ix in inspect(engine).get_indexes("segment_embeddings")}
        assert "ix_segment_embeddings_embedding_hnsw" in indexes
        migrate.downgrade(engine)
        assert migrate.current_revision(engine) is None
        assert not set(Base.metadata.tables) & set(inspect(engine).get_table_names())
        migrate.upgrade(engine)  # and up again from base
        assert migrate.pending_changes(engine) == []
    finally:
        engine.dispose()


def test_a_model_change_without_a_migration_is_noticed(pg_database: str) -> None:
    from sqlalchemy import Column, Integer, MetaData, Table

    engine = create_engine(pg_database)
    try:
        migrate.upgrade(engine)
        extra = Table("not_migrated", Base.metadata, Column("id", Integer, primary_key=True))
        try:
            changes = migrate.pending_changes(engine)
        finally:
            Base.metadata.remove(extra)
        assert any("not_migrated" in repr(change) for change in changes)
        assert isinstance(MetaData(), MetaData)
    finally:
        engine.dispose()


def test_segments_carry_their_videos_tenant(pg_database: str) -> None:
    from sqlalchemy import text

    engine = create_engine(pg_database)
    video = (
        "INSERT INTO videos (tenant, content_hash, path, size_bytes, duration_s, fps, width, height, probe, status)"
        " VALUES (:tenant, :hash, '/v.mp4', 1, 10.0, 25.0, 64, 48, '{}', 'indexed') RETURNING id"
    )
    segment = (
        "INSERT INTO segments (video_id, analysis_id, source, start_s, end_s, text)"
        " VALUES (:video, :analysis, 'caption', 0, 5, 'a dog runs') RETURNING id"
    )
    analysis = (
        "INSERT INTO analyses (video_id, kind, status, analysis_key, timings_s)"
        " VALUES (:video, 'caption', 'succeeded', :key, '{}') RETURNING id"
    )
    try:
        migrate.upgrade(engine, "0004")  # a segment written before the column existed is filled in by 0005
        with engine.begin() as c:
            old_video = c.execute(text(video), {"tenant": "acme", "hash": "a" * 64}).scalar_one()
            old_analysis = c.execute(text(analysis), {"video": old_video, "key": "k1"}).scalar_one()
            old = c.execute(text(segment), {"video": old_video, "analysis": old_analysis}).scalar_one()
        migrate.upgrade(engine)
        with engine.begin() as c:
            new_video = c.execute(text(video), {"tenant": "globex", "hash": "b" * 64}).scalar_one()
            new_analysis = c.execute(text(analysis), {"video": new_video, "key": "k2"}).scalar_one()
            new = c.execute(text(segment), {"video": new_video, "analysis": new_analysis}).scalar_one()
            # a writer cannot put a segment under another tenant than its video's
            c.execute(text("UPDATE segments SET tenant = 'acme' WHERE id = :id"), {"id": new})
            tenants = dict(c.execute(text("SELECT id, tenant FROM segments")).all())
        assert tenants == {old: "acme", new: "globex"}
    finally:
        engine.dispose()
