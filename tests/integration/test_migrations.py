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
