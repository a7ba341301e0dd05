"""What ingestion and the shells need from the index, as a Protocol: the PostgreSQL store implements it
(``vidground.index.sql.store.PostgresStore``); ``ingest.py`` depends on this, never on tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from vidground.index.records import (
    DEFAULT_TENANT,
    AnalysisKind,
    AnalysisRecord,
    NewVideo,
    ShotRecord,
    VideoRecord,
    VideoStatus,
)


class IndexStore(Protocol):
    def find_video(self, content_hash: str, *, tenant: str = DEFAULT_TENANT) -> VideoRecord | None:
        """The video with this content hash, if indexed."""
        ...

    def add_video(self, video: NewVideo) -> VideoRecord:
        """Register a file's content (idempotent: the same content returns the existing row, path updated)."""
        ...

    def analysis_key(self, video_id: int, kind: AnalysisKind) -> str | None:
        """The key of the stored, finished analysis of this kind (None when there is none)."""
        ...

    def replace_analysis(
        self,
        video_id: int,
        analysis: AnalysisRecord,
        *,
        vectors: Sequence[Sequence[float]],
        embedder: str,
    ) -> None:
        """Store one analysis with its segments, their vectors (one per segment, same order) and outcomes,
        replacing that kind's previous rows, in one transaction."""
        ...

    def shots(self, video_id: int) -> list[ShotRecord]:
        """A video's stored shots in time order (empty when none are stored)."""
        ...

    def set_status(self, video_id: int, status: VideoStatus, *, error: str | None = None) -> None:
        """Mark a video indexed, or failed with the reason."""
        ...

    def list_videos(self, *, tenant: str = DEFAULT_TENANT) -> list[VideoRecord]:
        """Every video of a tenant, newest first, with its segment count and stored analyses."""
        ...

    def forget(self, ref: str, *, tenant: str = DEFAULT_TENANT) -> VideoRecord:
        """Delete a video (by id, content hash or a unique prefix of it, or path) with all its rows and vectors.

        Raises:
            NotFoundError: nothing matches. ConfigError: a prefix matches several videos.
        """
        ...
