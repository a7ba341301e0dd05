"""``GET /v1/videos/{id}/export``: a video's indexed moments for editors (OTIO, CMX 3600 EDL, SRT, VTT, CSV)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import CurrentTenant, StoreDep, VideoId
from api.schemas import ErrorPublic
from vidground.export import MEDIA_TYPES, ExportFormat, ExportWhat

router = APIRouter(prefix="/v1/videos", tags=["videos"], responses={401: {"model": ErrorPublic}})


@router.get(
    "/{video_id}/export",
    responses={
        200: {"content": {media: {} for media in sorted(set(MEDIA_TYPES.values()))}},
        404: {"model": ErrorPublic},
    },
)
def export(
    video_id: VideoId,
    store: StoreDep,
    tenant: CurrentTenant,
    what: ExportWhat = ExportWhat.ALL,
    format: ExportFormat = ExportFormat.OTIO,
) -> Response:
    """The video's answers, captions, shots, speech, on-screen text or subtitles (``what``) as OpenTimelineIO
    markers or a CMX 3600 EDL at the video's own frame rate, or SRT, VTT, CSV (``format``)."""
    from vidground.export import VideoFacts, markers
    from vidground.export import export as render

    record = store.get_video(video_id, tenant=tenant)
    moments = markers(store.segments(record.id), store.shots(record.id), what)
    text = render(moments, VideoFacts(record.path, record.duration_s, record.fps), format)
    suffix = {ExportFormat.OTIO: "otio", ExportFormat.EDL: "edl"}.get(format, str(format))
    return Response(
        text,
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="video-{record.id}-{what}.{suffix}"'},
    )
