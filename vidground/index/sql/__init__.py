"""PostgreSQL (with pgvector) behind the index: tables, migrations, the store, search."""
