"""The index's SQL layer: the database engine (``engine``), the tables (``models``) and their migrations."""
