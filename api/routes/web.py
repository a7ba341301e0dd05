"""The web page: ``/`` (library), ``/videos/{id}`` (player) and ``/search`` all answer the one HTML page, whose script
(``/static/app.js``) draws the view the path names from the JSON API. Nothing is built at install time."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

WEB_DIR = Path(__file__).resolve().parents[1] / "web"
router = APIRouter(include_in_schema=False)


def static_files() -> StaticFiles:
    """The page's script and style sheet, for ``app.mount("/static", ...)``."""
    return StaticFiles(directory=WEB_DIR / "static")


def _page() -> FileResponse:
    return FileResponse(WEB_DIR / "index.html", media_type="text/html", headers={"Cache-Control": "no-cache"})


@router.get("/")
def library() -> FileResponse:
    return _page()


@router.get("/videos/{video_id}")
def video(video_id: int) -> FileResponse:
    return _page()


@router.get("/search")
def search() -> FileResponse:
    return _page()
