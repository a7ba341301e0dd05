"""A video's pixels: the file itself (HTTP Range, by key or by signed link) and one frame as a thumbnail.

A browser's ``<video>`` element cannot send ``Authorization``, so ``POST /v1/videos/{id}/file-url`` (with the key)
answers a link to ``GET /v1/videos/{id}/file?token=...`` that works for that one video until it expires
(``VIDGROUND_MEDIA_TOKEN_TTL_S``) or its key is revoked; the player seeks with Range requests on that link. A
thumbnail is small: the page fetches it with the key and shows it from memory.
"""

from __future__ import annotations

import mimetypes
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from api import thumbnails
from api.deps import CurrentKey, CurrentTenant, EngineDep, MediaTenant, SettingsDep, StoreDep, VideoId
from api.schemas import ErrorPublic, FileUrlPublic
from vidground import keys
from vidground.errors import NotFoundError
from vidground.index.records import VideoRecord
from vidground.index.sql.store import PostgresStore

router = APIRouter(
    prefix="/v1/videos",
    tags=["videos"],
    responses={401: {"model": ErrorPublic}, 404: {"model": ErrorPublic}},
)

MAX_THUMBNAIL_WIDTH = 1280


def _stored_file(store: PostgresStore, video_id: int, tenant: str) -> tuple[VideoRecord, Path]:
    record = store.get_video(video_id, tenant=tenant)
    path = Path(record.path)
    if not path.is_file():
        raise NotFoundError(f"video {video_id}: its file is no longer on the server")
    return record, path


@router.get(
    "/{video_id}/file",
    response_class=FileResponse,
    responses={
        200: {"content": {"video/mp4": {}}, "description": "The whole file."},
        206: {"description": "The requested byte range (Content-Range)."},
        416: {"description": "The range cannot be satisfied."},
    },
)
def video_file(video_id: VideoId, store: StoreDep, tenant: MediaTenant) -> FileResponse:
    """The video file, with HTTP Range support so a browser player can seek (206 Partial Content, 416).

    Authorised by ``Authorization: Bearer KEY`` or by ``?token=`` from ``POST /v1/videos/{id}/file-url``.
    """
    _, path = _stored_file(store, video_id, tenant)
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": "private, no-store"})


@router.post("/{video_id}/file-url")
def file_url(
    video_id: VideoId, key: CurrentKey, store: StoreDep, engine: EngineDep, settings: SettingsDep
) -> FileUrlPublic:
    """A link to the video's file that needs no header (for a ``<video src>``): this video only, until it expires."""
    store.get_video(video_id, tenant=key.tenant)
    expires_s = int(time.time() + settings.media_token_ttl_s)
    token = keys.media_token(engine, key, video_id, expires_s=expires_s)
    return FileUrlPublic(
        url=f"/v1/videos/{video_id}/file?token={token}", expires_at=datetime.fromtimestamp(expires_s, UTC)
    )


@router.get(
    "/{video_id}/thumbnail",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}, "description": "One frame, JPEG."}},
)
async def thumbnail(
    video_id: VideoId,
    store: StoreDep,
    tenant: CurrentTenant,
    settings: SettingsDep,
    t: Annotated[float, Query(ge=0, description="Seconds from the start; past the end gives the last frame.")] = 0.0,
    width: Annotated[int, Query(ge=16, le=MAX_THUMBNAIL_WIDTH, description="Pixels; height keeps the ratio.")] = 320,
) -> Response:
    """The frame shown at second ``t`` as a JPEG ``width`` pixels wide (cached on the server)."""
    record, path = _stored_file(store, video_id, tenant)
    data = await run_in_threadpool(
        thumbnails.thumbnail,
        path,
        time_s=min(t, record.duration_s),
        width=width,
        content_hash=record.content_hash,
        cache_dir=settings.data_dir / "thumbnails",
        max_bytes=settings.thumbnail_cache_bytes,
    )
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})
