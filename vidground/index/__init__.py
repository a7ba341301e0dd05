"""The event index: what is stored (``records``), how it is reached (``store.IndexStore``, ``embed.Embedder``).

Nothing here imports SQLAlchemy; ``vidground.index.sql`` is the one place that knows tables.
"""
