"""The index in PostgreSQL: ``PostgresStore`` implements ``vidground.index.store.IndexStore`` over SQLAlchemy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from vidground.errors import ConfigError, NotFoundError
from vidground.index.records import (
    DEFAULT_TENANT,
    AnalysisKind,
    AnalysisRecord,
    AnalysisStatus,
    NewVideo,
    OutcomeRecord,
    QueryOutcome,
    SegmentRecord,
    ShotRecord,
    Source,
    VideoRecord,
    VideoStatus,
)
from vidground.index.sql.models import Analysis, Job, QueryOutcomeRow, Segment, SegmentEmbedding, ShotRow, Video
from vidground.jobs import JobStatus


def _text(value: str | None) -> str | None:
    """PostgreSQL text and JSON cannot hold NUL characters; a model's raw answer can contain them."""
    return None if value is None else value.replace("\x00", "\ufffd")


def _json(value: Any) -> Any:
    """A JSON value with every string made storable (``_text``)."""
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, Mapping):
        return {_text(str(k)): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    return value


class PostgresStore:
    """The index's rows in one PostgreSQL database (migrated to head by the caller)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- videos ---------------------------------------------------------------------------------------------

    def find_video(self, content_hash: str, *, tenant: str = DEFAULT_TENANT) -> VideoRecord | None:
        with Session(self.engine) as session:
            row = session.scalar(select(Video).where(Video.tenant == tenant, Video.content_hash == content_hash))
            return None if row is None else self._record(session, row)

    def add_video(self, video: NewVideo) -> VideoRecord:
        with Session(self.engine) as session, session.begin():
            row = session.scalar(
                select(Video)
                .where(Video.tenant == video.tenant, Video.content_hash == video.content_hash)
                .with_for_update()
            )
            if row is None:
                row = Video(
                    tenant=video.tenant,
                    content_hash=video.content_hash,
                    path=video.path,
                    size_bytes=video.size_bytes,
                    duration_s=video.duration_s,
                    fps=video.fps,
                    width=video.width,
                    height=video.height,
                    probe=_json(video.probe),
                    status=str(VideoStatus.PENDING),
                )
                session.add(row)
                session.flush()
            elif row.path != video.path:  # the same content moved or was copied: remember where it is now
                row.path = video.path
                row.updated_at = datetime.now(UTC)
            return self._record(session, row)

    def set_status(self, video_id: int, status: VideoStatus, *, error: str | None = None) -> None:
        with Session(self.engine) as session, session.begin():
            self.set_status_in(session, video_id, status, error=error)

    @staticmethod
    def set_status_in(session: Session, video_id: int, status: VideoStatus, *, error: str | None = None) -> None:
        """:meth:`set_status` inside the caller's transaction."""
        session.execute(
            update(Video)
            .where(Video.id == video_id)
            .values(status=str(status), error=error, updated_at=datetime.now(UTC))
        )

    def list_videos(self, *, tenant: str = DEFAULT_TENANT) -> list[VideoRecord]:
        with Session(self.engine) as session:
            rows = session.scalars(select(Video).where(Video.tenant == tenant).order_by(Video.id.desc())).all()
            return [self._record(session, row) for row in rows]

    def forget(self, ref: str, *, tenant: str = DEFAULT_TENANT) -> VideoRecord:
        with Session(self.engine) as session, session.begin():
            row = self._match(session, ref, tenant)
            record = self._record(session, row)
            session.delete(row)  # analyses, outcomes, segments and vectors go with it (ON DELETE CASCADE)
            return record

    def resolve(self, ref: str, *, tenant: str = DEFAULT_TENANT) -> VideoRecord:
        """The one video an id, a content hash (or a unique prefix of it) or a stored path names.

        Raises:
            NotFoundError: nothing matches. ConfigError: a prefix matches several videos.
        """
        with Session(self.engine) as session:
            return self._record(session, self._match(session, ref, tenant))

    @staticmethod
    def _match(session: Session, ref: str, tenant: str) -> Video:
        conditions = [Video.content_hash.startswith(ref.lower()), Video.path == ref]
        if ref.isdigit():
            conditions.append(Video.id == int(ref))
        rows = session.scalars(select(Video).where(Video.tenant == tenant, or_(*conditions))).all()
        if not rows:
            raise NotFoundError(f"no indexed video matches {ref!r} (give an id, a content hash or a path)")
        if len(rows) > 1:
            listed = ", ".join(f"{r.id} ({r.path})" for r in rows[:5])
            raise ConfigError(f"{ref!r} matches {len(rows)} videos: {listed}; give more of the hash or the id")
        return rows[0]

    # -- analyses -------------------------------------------------------------------------------------------

    def analysis_key(self, video_id: int, kind: AnalysisKind) -> str | None:
        with Session(self.engine) as session:
            return session.scalar(
                select(Analysis.analysis_key).where(
                    Analysis.video_id == video_id,
                    Analysis.kind == str(kind),
                    Analysis.status == str(AnalysisStatus.SUCCEEDED),
                )
            )

    def replace_analysis(
        self,
        video_id: int,
        analysis: AnalysisRecord,
        *,
        vectors: Sequence[Sequence[float]],
        embedder: str,
    ) -> None:
        with Session(self.engine) as session, session.begin():
            self.replace_analysis_in(session, video_id, analysis, vectors=vectors, embedder=embedder)

    def replace_analysis_in(
        self,
        session: Session,
        video_id: int,
        analysis: AnalysisRecord,
        *,
        vectors: Sequence[Sequence[float]],
        embedder: str,
    ) -> None:
        """:meth:`replace_analysis` inside the caller's transaction (a worker commits it with the job's end state).

        Raises:
            ValueError: not one vector per segment.
        """
        if len(vectors) != len(analysis.segments):
            raise ValueError(f"expected one vector per segment: {len(analysis.segments)} segments, {len(vectors)}")
        # The previous analysis of this kind goes with its segments, vectors and outcomes (cascade), in the
        # same transaction as the new rows arrive: a reader sees the old rows or the new, never both or none.
        session.execute(delete(Analysis).where(Analysis.video_id == video_id, Analysis.kind == str(analysis.kind)))
        row = Analysis(
            video_id=video_id,
            kind=str(analysis.kind),
            status=str(AnalysisStatus.SUCCEEDED),
            analysis_key=analysis.analysis_key,
            params_hash=analysis.params_hash,
            options=None if analysis.options is None else _json(analysis.options),
            model_id=analysis.model_id,
            model_revision=analysis.model_revision,
            provenance=None if analysis.provenance is None else _json(analysis.provenance),
            timings_s=dict(analysis.timings_s),
            finished_at=datetime.now(UTC),
        )
        session.add(row)
        session.flush()
        if analysis.segments:
            segment_ids = session.scalars(
                insert(Segment).returning(Segment.id, sort_by_parameter_order=True),
                [
                    {
                        "video_id": video_id,
                        "analysis_id": row.id,
                        "source": str(s.source),
                        "start_s": s.start_s,
                        "end_s": s.end_s,
                        "text": _text(s.text),
                        "query": _text(s.query),
                        "score": s.score,
                        "rank": s.rank,
                        "detail": None if s.detail is None else _json(s.detail),
                    }
                    for s in analysis.segments
                ],
            ).all()
            session.execute(
                insert(SegmentEmbedding),
                [
                    {"segment_id": sid, "video_id": video_id, "model": embedder, "embedding": list(vector)}
                    for sid, vector in zip(segment_ids, vectors, strict=True)
                ],
            )
        if analysis.shots:
            session.execute(
                insert(ShotRow),
                [
                    {
                        "video_id": video_id,
                        "analysis_id": row.id,
                        "start_s": shot.start_s,
                        "end_s": shot.end_s,
                        "start_frame": shot.start_frame,
                    }
                    for shot in analysis.shots
                ],
            )
        if analysis.outcomes:
            session.execute(
                insert(QueryOutcomeRow),
                [
                    {
                        "analysis_id": row.id,
                        "query": _text(o.query),
                        "outcome": str(o.outcome),
                        "raw": _json(o.raw),
                        "issues": _json(o.issues),
                    }
                    for o in analysis.outcomes
                ],
            )

    # -- the service's reads and deletes (api/): always one tenant's rows ------------------------------------

    def get_video(self, video_id: int, *, tenant: str) -> VideoRecord:
        """One video of this tenant.

        Raises:
            NotFoundError: no such video, or another tenant's.
        """
        with Session(self.engine) as session:
            row = session.scalar(select(Video).where(Video.id == video_id, Video.tenant == tenant))
            if row is None:
                raise NotFoundError(f"video {video_id} not found")
            return self._record(session, row)

    def page_videos(
        self, *, tenant: str, status: VideoStatus | None = None, limit: int = 50, before_id: int | None = None
    ) -> list[VideoRecord]:
        """A page of this tenant's videos, newest first (``before_id``: the page after the one ending there)."""
        query = select(Video).where(Video.tenant == tenant)
        if status is not None:
            query = query.where(Video.status == str(status))
        if before_id is not None:
            query = query.where(Video.id < before_id)
        with Session(self.engine) as session:
            rows = session.scalars(query.order_by(Video.id.desc()).limit(limit)).all()
            return [self._record(session, row) for row in rows]

    def delete_video(self, video_id: int, *, tenant: str) -> VideoRecord:
        """Delete a video with its analyses, segments and vectors; its queued or running jobs are cancelled first
        (in the same transaction), so a worker that checks ``jobs.is_cancelled`` stops. The file is the caller's.

        Raises:
            NotFoundError: no such video, or another tenant's.
        """
        with Session(self.engine) as session, session.begin():
            row = session.scalar(select(Video).where(Video.id == video_id, Video.tenant == tenant).with_for_update())
            if row is None:
                raise NotFoundError(f"video {video_id} not found")
            record = self._record(session, row)
            session.execute(
                update(Job)
                .where(Job.video_id == video_id, Job.status.in_((str(JobStatus.QUEUED), str(JobStatus.RUNNING))))
                .values(status=str(JobStatus.CANCELLED), finished_at=datetime.now(UTC), error="the video was deleted")
            )
            session.delete(row)
            return record

    def path_in_use(self, path: str) -> bool:
        """Whether any video row (of any tenant) points at this file."""
        with Session(self.engine) as session:
            return session.scalar(select(Video.id).where(Video.path == path).limit(1)) is not None

    def segments(self, video_id: int, *, source: Source | None = None) -> list[SegmentRecord]:
        """A video's stored segments in time order (of one source, when given)."""
        query = select(Segment).where(Segment.video_id == video_id)
        if source is not None:
            query = query.where(Segment.source == str(source))
        with Session(self.engine) as session:
            return [
                SegmentRecord(
                    source=Source(r.source),
                    start_s=r.start_s,
                    end_s=r.end_s,
                    text=r.text,
                    query=r.query,
                    score=r.score,
                    rank=r.rank,
                    detail=r.detail,
                )
                for r in session.scalars(query.order_by(Segment.start_s, Segment.id))
            ]

    def shots(self, video_id: int) -> list[ShotRecord]:
        """A video's stored shots in time order (empty when it has no ``shots`` analysis)."""
        query = select(ShotRow).where(ShotRow.video_id == video_id).order_by(ShotRow.start_s, ShotRow.id)
        with Session(self.engine) as session:
            return [ShotRecord(r.start_s, r.end_s, r.start_frame) for r in session.scalars(query)]

    def outcomes(self, video_id: int) -> list[OutcomeRecord]:
        """The per-query outcomes of a video's stored grounding analyses, in the order they were stored."""
        query = (
            select(QueryOutcomeRow)
            .join(Analysis, Analysis.id == QueryOutcomeRow.analysis_id)
            .where(Analysis.video_id == video_id)
            .order_by(QueryOutcomeRow.id)
        )
        with Session(self.engine) as session:
            return [
                OutcomeRecord(query=r.query, outcome=QueryOutcome(r.outcome), raw=tuple(r.raw), issues=tuple(r.issues))
                for r in session.scalars(query)
            ]

    # -- reading ----------------------------------------------------------------------------------------------

    @staticmethod
    def _record(session: Session, row: Video) -> VideoRecord:
        n_segments = session.scalar(select(func.count()).select_from(Segment).where(Segment.video_id == row.id))
        kinds = session.scalars(
            select(Analysis.kind)
            .where(Analysis.video_id == row.id, Analysis.status == str(AnalysisStatus.SUCCEEDED))
            .order_by(Analysis.kind)
        ).all()
        return VideoRecord(
            id=row.id,
            tenant=row.tenant,
            content_hash=row.content_hash,
            path=row.path,
            size_bytes=row.size_bytes,
            duration_s=row.duration_s,
            fps=row.fps,
            width=row.width,
            height=row.height,
            status=VideoStatus(row.status),
            error=row.error,
            created_at=row.created_at,
            n_segments=int(n_segments or 0),
            analyses=tuple(AnalysisKind(k) for k in kinds),
        )
