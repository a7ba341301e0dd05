"""The event index: captions and spans of ingested videos, searchable by query (PostgreSQL with pgvector)."""
