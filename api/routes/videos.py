"""``/v1/videos``: upload or import a video (and its ingest job), list, read, delete, stream it, its captions and
events, and locate queries in it. Every query is scoped to the caller's tenant: another tenant's video is a 404."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import uuid
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.concurrency import run_in_threadpool

from api import queue
from api.deps import CurrentKey, CurrentTenant, EngineDep, SettingsDep, StoreDep, VideoId
from api.pagination import DEFAULT_LIMIT, MAX_LIMIT, make_cursor, read_cursor
from api.schemas import (
    CaptionList,
    CaptionPublic,
    Enrichment,
    ErrorPublic,
    EventList,
    ImportRequest,
    JobPublic,
    LocateRequest,
    LocateResponse,
    QueryEventsPublic,
    VideoJobPublic,
    VideoList,
    VideoPublic,
)
from api.uploads import UploadError, receive_upload, resolve_import
from vidground import jobs
from vidground.errors import ConfigError, SubtitleError, VideoDecodeError
from vidground.index.records import SegmentRecord, Source, VideoRecord, VideoStatus
from vidground.index.sql.store import PostgresStore
from vidground.ingest import hash_file, new_video
from vidground.jobs import JobKind, JobRecord
from vidground.output.timecodes import TimeStyle, format_timecode
from vidground.settings import Settings

logger = logging.getLogger(__name__)
router = APIRouter(
    prefix="/v1/videos",
    tags=["videos"],
    responses={401: {"model": ErrorPublic}, 404: {"model": ErrorPublic}},
)

_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": "The video."},
                        "subtitles": {
                            "type": "string",
                            "format": "binary",
                            "description": "Optional SubRip (.srt) or WebVTT (.vtt) subtitles, indexed with it.",
                        },
                        "options": {"type": "string", "description": "JSON object of knob overrides."},
                        "webhook_url": {"type": "string", "description": "Called when the ingest job ends."},
                        "enrich": {
                            "type": "string",
                            "description": "Comma-separated extra analyses for the ingest job: speech, ocr, shots.",
                        },
                    },
                }
            },
            "application/json": {"schema": ImportRequest.model_json_schema()},  # inline: nothing else refers to it
        },
    }
}


class CaptionFormat(StrEnum):
    JSON = "json"
    SRT = "srt"
    VTT = "vtt"


def _send(job: JobRecord) -> bool:
    """Enqueue a job; False when no broker is configured or it cannot be reached (the job stays queued)."""
    if not queue.is_configured():
        return False
    try:
        queue.enqueue(job)
    except Exception:  # the job row is written and stays queued: said in the response, logged with the cause
        logger.warning("could not enqueue job_id=%s; it stays queued", job.id, exc_info=True)
        return False
    return True


def _options(settings: Settings, overrides: Mapping[str, Any] | None) -> tuple[dict[str, Any], str]:
    """The job's options JSON and params hash: settings with the request's overrides (the one options layer)."""
    options = settings.options(dict(overrides or {}))
    return options.to_json(), options.params_hash()


def _ingest_job(
    engine: Any,
    settings: Settings,
    video: VideoRecord,
    *,
    key_id: int,
    overrides: Mapping[str, Any] | None,
    webhook_url: str | None,
    reuse: bool,
    subtitles: Path | None = None,
    enrich: frozenset[Enrichment] = frozenset(),
) -> tuple[JobRecord, bool]:
    """The video's ingest job and whether it is new: its latest one when ``reuse`` (same content uploaded again)
    and neither subtitles nor extra analyses came with it, else (or when it has none) a new one."""
    if reuse and subtitles is None and not enrich:
        latest = jobs.latest_for_video(engine, video.id, JobKind.INGEST, tenant=video.tenant)
        if latest is not None:
            return latest, False
    options, params_hash = _options(settings, overrides)
    job = jobs.create(
        engine,
        tenant=video.tenant,
        kind=JobKind.INGEST,
        video_id=video.id,
        request={
            "captions": True,
            "queries": [],
            "api_key_id": key_id,
            **({} if subtitles is None else {"subtitles": str(subtitles)}),
            **{str(name): True for name in sorted(enrich)},
        },
        options=options,
        params_hash=params_hash,
        webhook_url=webhook_url,
    )
    return job, True


async def _probe(path: Path, shown_as: str) -> Any:
    """Probe a file in a worker thread; a refusal names the file as the client knows it, not the server path."""
    from vidground.video.probe import probe

    try:
        return await run_in_threadpool(probe, path)
    except VideoDecodeError as exc:
        raise VideoDecodeError(shown_as, exc.reason) from None


def _parse_enrich(raw: str | None) -> frozenset[Enrichment]:
    """``"speech, ocr"`` -> {speech, ocr}; an unknown name is a 400 that lists the known ones."""
    names = [n.strip().lower() for n in (raw or "").split(",") if n.strip()]
    known = {str(e) for e in Enrichment}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UploadError(f"upload: form field 'enrich': unknown {unknown[0]!r}; use any of {', '.join(sorted(known))}")
    return frozenset(Enrichment(n) for n in names)


def _parse_overrides(raw: str | None) -> dict[str, Any] | None:
    if raw is None or not raw.strip():
        return None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise UploadError(f"upload: form field 'options' is not JSON ({exc.msg}); send a JSON object") from None
    if not isinstance(value, dict):
        raise UploadError("upload: form field 'options' must be a JSON object of knob overrides")
    return value


@router.post(
    "",
    status_code=201,
    response_model=VideoJobPublic,
    openapi_extra=_UPLOAD_BODY,
    responses={
        200: {"model": VideoJobPublic, "description": "The same content was already stored."},
        400: {"model": ErrorPublic},
        403: {"model": ErrorPublic},
        413: {"model": ErrorPublic},
        415: {"model": ErrorPublic},
        422: {"model": ErrorPublic},
    },
)
async def add_video(request: Request, key: CurrentKey, store: StoreDep, settings: SettingsDep) -> JSONResponse:
    """Upload a video (multipart, field ``file``) or import one under the import root (JSON ``{"path"}``).

    Same content again (by sha256) answers 200 with the stored video; new content 201. Either way the response holds
    the video's ingest job and whether it went to a broker.
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        return await _upload(request, key.id, key.tenant, store, settings)
    if content_type == "application/json":
        try:
            body = ImportRequest.model_validate_json(await request.body())
        except ValueError as exc:
            raise ConfigError(f"import request: {_first_problem(exc)}") from None
        return await _import(body, key.id, key.tenant, store, settings)
    return JSONResponse(
        {
            "code": "unsupported_media_type",
            "message": f"content type {content_type or 'none'!r}: send multipart/form-data (field 'file') "
            'or application/json ({"path": ...})',
        },
        status_code=415,
    )


def _first_problem(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        where = ".".join(str(x) for x in first.get("loc", ())) or "body"
        return f"{where}: {first.get('msg', 'invalid')}"
    return str(exc)


async def _upload(request: Request, key_id: int, tenant: str, store: PostgresStore, settings: Settings) -> JSONResponse:
    root = settings.storage_root
    received = await receive_upload(request, folder=root, max_bytes=settings.max_upload_bytes)
    shown_as = received.filename or "upload"
    final: Path | None = None
    created_file = False
    subtitles: Path | None = None
    created_subtitles = False
    try:
        overrides = _parse_overrides(received.fields.get("options"))
        enrich = _parse_enrich(received.fields.get("enrich"))
        webhook_url = received.fields.get("webhook_url") or None
        if webhook_url is not None and not webhook_url.startswith(("http://", "https://")):
            raise UploadError(f"upload: webhook_url {webhook_url[:80]!r} must be an http(s) URL")
        _options(settings, overrides)  # refuse bad options before anything is stored
        video_probe = await _probe(received.path, shown_as)
        if received.subtitles is not None:
            subtitles, created_subtitles = await run_in_threadpool(
                _store_subtitles, root / "subtitles", received.subtitles, received.subtitles_filename
            )
        existing = store.find_video(received.content_hash, tenant=tenant)
        if existing is not None:
            received.path.unlink(missing_ok=True)
            job, new_job = _ingest_job(
                store.engine, settings, existing, key_id=key_id, overrides=overrides, webhook_url=webhook_url,
                reuse=True, subtitles=subtitles, enrich=enrich,
            )  # fmt: skip
            return _answer(existing, job, created=False, new_job=new_job)
        final = root / f"{received.content_hash}{received.suffix}"
        created_file = not final.exists()
        os.replace(received.path, final)
        video = store.add_video(new_video(final, received.content_hash, received.size_bytes, video_probe, tenant))
        job, _ = _ingest_job(
            store.engine, settings, video, key_id=key_id, overrides=overrides, webhook_url=webhook_url, reuse=False,
            subtitles=subtitles, enrich=enrich,
        )  # fmt: skip
    except BaseException:
        received.path.unlink(missing_ok=True)
        if subtitles is not None and created_subtitles:
            subtitles.unlink(missing_ok=True)
        if final is not None and created_file and not store.path_in_use(str(final)):
            final.unlink(missing_ok=True)
        raise
    logger.info("uploaded video_id=%s bytes=%s job_id=%s", video.id, received.size_bytes, job.id)
    return _answer(video, job, created=True, new_job=True)


def _store_subtitles(folder: Path, data: bytes, filename: str | None) -> tuple[Path, bool]:
    """Check an uploaded subtitle file and keep it as ``<folder>/<sha256>.srt|.vtt``: (its path, whether this call
    wrote it). Not beside the video: two tenants' uploads of one video share its file, never their subtitles.

    Raises:
        SubtitleError: not SubRip or WebVTT with at least one cue (named as the client named it).
    """
    from vidground.subtitles import read_subtitles

    suffix = ".vtt" if (filename or "").lower().endswith(".vtt") else ".srt"
    folder.mkdir(parents=True, exist_ok=True)
    temp = folder / f".upload-{uuid.uuid4().hex}{suffix}"
    try:
        temp.write_bytes(data)
        try:
            read_subtitles(temp)
        except SubtitleError as exc:
            raise SubtitleError(f"subtitles {filename or 'upload'}", exc.reason, line=exc.line) from None
        final = folder / f"{hashlib.sha256(data).hexdigest()}{suffix}"
        created = not final.exists()
        os.replace(temp, final)
        return final, created
    finally:
        temp.unlink(missing_ok=True)


async def _import(
    body: ImportRequest, key_id: int, tenant: str, store: PostgresStore, settings: Settings
) -> JSONResponse:
    path = resolve_import(settings.import_root, body.path)
    _options(settings, body.options)
    try:
        content_hash, size = await run_in_threadpool(hash_file, path)
    except OSError as exc:
        raise VideoDecodeError(body.path, f"cannot read the file ({exc.strerror or exc})") from None
    existing = store.find_video(content_hash, tenant=tenant)
    if existing is not None:
        job, new_job = _ingest_job(
            store.engine, settings, existing, key_id=key_id, overrides=body.options, webhook_url=body.webhook_url,
            reuse=True, enrich=frozenset(body.enrich),
        )  # fmt: skip
        return _answer(existing, job, created=False, new_job=new_job)
    video_probe = await _probe(path, body.path)
    video = store.add_video(new_video(path, content_hash, size, video_probe, tenant))
    job, _ = _ingest_job(
        store.engine, settings, video, key_id=key_id, overrides=body.options, webhook_url=body.webhook_url,
        reuse=False, enrich=frozenset(body.enrich),
    )  # fmt: skip
    return _answer(video, job, created=True, new_job=True)


def _answer(video: VideoRecord, job: JobRecord, *, created: bool, new_job: bool) -> JSONResponse:
    """201 with a new video, 200 with a stored one; a new job is enqueued (an earlier one is not sent twice)."""
    enqueued = _send(job) if new_job else False
    body = VideoJobPublic(
        video=VideoPublic.from_record(video), job=JobPublic.from_record(job), created=created, enqueued=enqueued
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=201 if created else 200)


@router.get("")
def list_videos(
    store: StoreDep,
    tenant: CurrentTenant,
    status: VideoStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> VideoList:
    """The caller's videos, newest first, one page at a time (filter by status)."""
    records = store.page_videos(tenant=tenant, status=status, limit=limit + 1, before_id=read_cursor("videos", cursor))
    page = records[:limit]
    more = len(records) > limit
    return VideoList(
        items=[VideoPublic.from_record(r) for r in page],
        next_cursor=make_cursor("videos", page[-1].id) if more else None,
    )


@router.get("/{video_id}")
def get_video(video_id: VideoId, store: StoreDep, tenant: CurrentTenant) -> VideoPublic:
    """One video: its probe facts, status and what has been analysed."""
    return VideoPublic.from_record(store.get_video(video_id, tenant=tenant))


@router.delete("/{video_id}", status_code=204, response_class=Response)
def delete_video(video_id: VideoId, store: StoreDep, tenant: CurrentTenant, settings: SettingsDep) -> Response:
    """Delete a video: its rows and vectors, its jobs, and its stored file (and subtitles uploaded with it) when it
    lives in the storage folder and nothing else uses it (an imported file is left alone)."""
    subtitles = jobs.subtitle_files(store.engine, video_id)  # its jobs go with it (cascade): read them first
    record = store.delete_video(video_id, tenant=tenant)
    path = Path(record.path)
    root = settings.storage_root.resolve()
    if path.resolve().is_relative_to(root) and not store.path_in_use(record.path):
        path.unlink(missing_ok=True)
    for kept in subtitles:  # uploaded with it; the same content uploaded for another video stays theirs
        if Path(kept).resolve().is_relative_to(root) and not jobs.subtitle_file_in_use(store.engine, kept):
            Path(kept).unlink(missing_ok=True)
    logger.info("deleted video_id=%s", video_id)
    return Response(status_code=204)


def _caption_segments(store: PostgresStore, video_id: int, tenant: str) -> tuple[VideoRecord, list[SegmentRecord]]:
    record = store.get_video(video_id, tenant=tenant)
    return record, store.segments(video_id, source=Source.CAPTION)


@router.get(
    "/{video_id}/captions",
    response_model=CaptionList,
    responses={200: {"content": {"text/plain": {}, "text/vtt": {}}}},
)
def captions(
    video_id: VideoId,
    store: StoreDep,
    tenant: CurrentTenant,
    format: CaptionFormat = CaptionFormat.JSON,
    time_format: TimeStyle = TimeStyle.SECONDS,
) -> Response:
    """The video's stored captions as JSON (with timecodes in ``time_format``), SubRip or WebVTT."""
    record, segments = _caption_segments(store, video_id, tenant)
    if format is CaptionFormat.JSON:
        body = CaptionList(
            video_id=record.id,
            time_format=str(time_format),
            captions=[
                CaptionPublic(
                    start_s=s.start_s,
                    end_s=s.end_s,
                    start_tc=format_timecode(s.start_s, fps=record.fps, style=time_format),
                    end_tc=format_timecode(s.end_s, fps=record.fps, style=time_format),
                    text=s.text or "",
                )
                for s in segments
            ],
        )
        return JSONResponse(body.model_dump(mode="json"))
    from vidground.render import render_srt, render_vtt

    result = _caption_result(record, segments)
    if format is CaptionFormat.SRT:
        return PlainTextResponse(render_srt(result), media_type="application/x-subrip")
    return PlainTextResponse(render_vtt(result), media_type="text/vtt")


def _caption_result(record: VideoRecord, segments: list[SegmentRecord]) -> Any:
    """Stored caption rows as a :class:`~vidground.results.CaptionResult` for the SRT/VTT renderers (which read only
    its captions; the provenance here is a placeholder, never shown)."""
    from vidground.options import AnalysisOptions, Task
    from vidground.results import CaptionResult, CaptionSpan, Provenance

    provenance = Provenance(
        task=Task.CAPTION,
        vidground_version="",
        model_id="",
        model_revision=None,
        device="",
        dtype=None,
        attn_implementation=None,
        prompt_version="",
        options=AnalysisOptions(),
        start_s=0.0,
        end_s=record.duration_s,
        passes=(),
        frame_times_s=(),
    )
    return CaptionResult(
        video=str(record.id),
        duration_s=record.duration_s,
        fps=record.fps,
        captions=tuple(CaptionSpan(s.start_s, s.end_s, s.text or "") for s in segments),
        raw=(),
        issues=(),
        provenance=provenance,
    )


@router.get("/{video_id}/events")
def events(video_id: VideoId, store: StoreDep, tenant: CurrentTenant) -> EventList:
    """The stored answers to the video's queries: per query its outcome, spans (ranked) and issues."""
    store.get_video(video_id, tenant=tenant)
    spans: dict[str, list[SegmentRecord]] = {}
    for segment in store.segments(video_id, source=Source.QUERY_ANSWER):
        spans.setdefault(segment.query or "", []).append(segment)
    outcomes = {o.query: o for o in store.outcomes(video_id)}
    queries = list(outcomes) + [q for q in spans if q not in outcomes]
    return EventList(
        video_id=video_id,
        queries=[QueryEventsPublic.build(q, outcomes.get(q), spans.get(q, [])) for q in queries],
    )


@router.post("/{video_id}/locate", status_code=202, responses={400: {"model": ErrorPublic}})
def locate(
    video_id: VideoId, body: LocateRequest, key: CurrentKey, store: StoreDep, settings: SettingsDep, engine: EngineDep
) -> LocateResponse:
    """Ground event queries in the video: a locate job (poll ``GET /v1/jobs/{id}``; answers also at ``/events``)."""
    store.get_video(video_id, tenant=key.tenant)
    queries = [q.strip() for q in body.queries]
    if not all(queries):
        raise ConfigError("queries: an empty query; write each event to look for, e.g. 'a dog catches a frisbee'")
    options, params_hash = _options(settings, body.options)
    job = jobs.create(
        engine,
        tenant=key.tenant,
        kind=JobKind.LOCATE,
        video_id=video_id,
        request={"queries": queries, "api_key_id": key.id},
        options=options,
        params_hash=params_hash,
        webhook_url=body.webhook_url,
    )
    return LocateResponse(job=JobPublic.from_record(job), enqueued=_send(job))
