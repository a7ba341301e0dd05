"""What the web page needs from the API: the page itself, signed links to a video's file (one video, expiring, dead
with a revoked key, no other tenant's), thumbnails (a real frame, cached, the cache bounded) and uploads with
subtitles."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import EnqueueFake, add_video, bearer


def _upload(client: TestClient, headers: dict[str, str], video: Path, **extra: Any) -> Any:
    with video.open("rb") as stream:
        files = {"file": (video.name, stream, "video/mp4"), **extra}
        return client.post("/v1/videos", headers=headers, files=files)


def test_the_page_is_served_at_its_three_paths_with_its_script(client: TestClient) -> None:
    for path in ("/", "/videos/12", "/search"):
        page = client.get(path)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert '<script src="/static/app.js"' in page.text
    script = client.get("/static/app.js")
    assert script.status_code == 200 and "Authorization" in script.text
    assert client.get("/static/app.css").status_code == 200
    assert client.get("/static/../main.py").status_code == 404
    assert "/" not in client.get("/openapi.json").json()["paths"]


def test_a_signed_link_serves_ranges_of_its_one_video_only(
    client: TestClient, acme: dict[str, str], globex: dict[str, str], api_dirs: dict[str, Path], engine: Any
) -> None:
    store = client.app.state.store  # type: ignore[attr-defined]
    mine_path, other_path, theirs_path = (api_dirs["videos"] / n for n in ("a.mp4", "b.mp4", "c.mp4"))
    for path in (mine_path, other_path, theirs_path):
        path.write_bytes(os.urandom(1000))
    mine, other = add_video(store, "acme", mine_path), add_video(store, "acme", other_path)
    theirs = add_video(store, "globex", theirs_path)

    answer = client.post(f"/v1/videos/{mine.id}/file-url", headers=acme)
    assert answer.status_code == 200
    url = answer.json()["url"]
    token = url.split("token=", 1)[1]
    ranged = client.get(url, headers={"Range": "bytes=100-199"})  # no Authorization header
    assert ranged.status_code == 206 and ranged.content == mine_path.read_bytes()[100:200]

    def refused(path: str) -> str:
        response = client.get(path)
        assert response.status_code == 401, (path, response.text)
        return str(response.json()["message"])

    assert "not" in refused(f"/v1/videos/{other.id}/file?token={token}")  # another video of the same tenant
    forged_mac = token[:-1] + ("1" if token.endswith("0") else "0")  # one hex digit of the MAC changed
    assert refused(f"/v1/videos/{mine.id}/file?token={forged_mac}").startswith("media token not valid")
    assert refused(f"/v1/videos/{mine.id}/file?token=1.2.x.y").startswith("media token malformed")
    assert refused(f"/v1/videos/{mine.id}/file?token=9{'9' * 30}.1.1.0").startswith("media token malformed")
    assert refused(f"/v1/videos/{mine.id}/file").startswith("missing API key")
    assert refused(f"/v1/videos/{mine.id}/thumbnail?token={token}").startswith("missing API key")  # file only
    assert client.post(f"/v1/videos/{theirs.id}/file-url", headers=acme).status_code == 404
    theirs_url = client.post(f"/v1/videos/{theirs.id}/file-url", headers=globex).json()["url"]
    forged = theirs_url.replace(f"/videos/{theirs.id}/", f"/videos/{mine.id}/")
    assert client.get(forged).status_code == 401

    from vidground import keys

    expired = keys.media_token(engine, keys.authenticate(engine, acme["Authorization"][7:]), mine.id,
                               expires_s=int(time.time()) - 1)  # fmt: skip
    assert refused(f"/v1/videos/{mine.id}/file?token={expired}").startswith("media token expired")
    keys.revoke(engine, str(keys.authenticate(engine, acme["Authorization"][7:]).id))
    assert "revoked" in refused(url)


def test_thumbnail_is_the_frame_at_the_time_asked_and_is_cached_within_its_budget(
    api_settings: Any, enqueue_fake: EnqueueFake, cfr_video: Path, rotated_video: Path
) -> None:
    from PIL import Image

    from api.main import create_app
    from tests.media import read_frame_index
    from vidground import keys

    settings = api_settings.model_copy(update={"thumbnail_cache_bytes": 30_000})
    app = create_app(settings)
    cache = settings.data_dir / "thumbnails"
    with TestClient(app) as client:
        acme = bearer(keys.create(app.state.store.engine, tenant="acme").key)
        video_id = _upload(client, acme, cfr_video).json()["video"]["id"]
        shot = client.get(f"/v1/videos/{video_id}/thumbnail", headers=acme, params={"t": 2.0, "width": 160})
        assert shot.status_code == 200 and shot.headers["content-type"] == "image/jpeg"
        image = Image.open(io.BytesIO(shot.content)).convert("RGB")
        assert image.size == (160, 96)
        assert read_frame_index(_as_array(image)) == 60  # 2.0 s at 30 fps
        assert [p.name for p in cache.glob("*.jpg")] == [f"{_hash(client, acme, video_id)}-20-160.jpg"]
        cached = client.get(f"/v1/videos/{video_id}/thumbnail", headers=acme, params={"t": 2.04, "width": 160})
        assert cached.content == shot.content  # 2.04 s is the same tenth: the cached file

        past_end = client.get(f"/v1/videos/{video_id}/thumbnail", headers=acme, params={"t": 99, "width": 160})
        assert read_frame_index(_as_array(Image.open(io.BytesIO(past_end.content)).convert("RGB"))) == 89
        for t in (0.5, 1.0, 1.5, 2.5):
            client.get(f"/v1/videos/{video_id}/thumbnail", headers=acme, params={"t": t, "width": 640})
        assert sum(p.stat().st_size for p in cache.glob("*.jpg")) <= 30_000
        assert len(list(cache.glob("*.jpg"))) < 6

        upright = _upload(client, acme, rotated_video).json()["video"]["id"]
        portrait = client.get(f"/v1/videos/{upright}/thumbnail", headers=acme, params={"width": 96})
        assert Image.open(io.BytesIO(portrait.content)).size == (96, 160)

        assert client.get(f"/v1/videos/{video_id}/thumbnail", headers=acme, params={"width": 5000}).status_code == 422
        globex = bearer(keys.create(app.state.store.engine, tenant="globex").key)
        assert client.get(f"/v1/videos/{video_id}/thumbnail", headers=globex).status_code == 404
    app.state.store.engine.dispose()


def _hash(client: TestClient, headers: dict[str, str], video_id: int) -> str:
    return str(client.get(f"/v1/videos/{video_id}", headers=headers).json()["content_hash"])


def _as_array(image: Any) -> Any:
    import numpy as np

    return np.asarray(image)


SRT = b"1\n00:00:00,500 --> 00:00:01,500\nA red kite over the hill\n"


def test_upload_with_subtitles_keeps_them_apart_and_names_them_in_the_job(
    client: TestClient, acme: dict[str, str], globex: dict[str, str], cfr_video: Path, api_dirs: dict[str, Path],
    enqueue_fake: EnqueueFake,
) -> None:  # fmt: skip
    answer = _upload(client, acme, cfr_video, subtitles=("clip.en.srt", SRT, "application/x-subrip"))
    assert answer.status_code == 201, answer.text
    path = Path(answer.json()["job"]["request"]["subtitles"])
    assert path.parent == api_dirs["videos"] / "subtitles" and path.suffix == ".srt"
    assert path.read_bytes() == SRT
    assert not list(api_dirs["videos"].glob("*.srt"))  # never beside the shared video file

    same_content = _upload(client, globex, cfr_video)  # another tenant, no subtitles: none of acme's
    assert "subtitles" not in same_content.json()["job"]["request"]
    again = _upload(client, acme, cfr_video, subtitles=("clip.vtt", b"WEBVTT\n\n00:01.000 --> 00:02.000\nhi\n"))
    assert again.status_code == 200 and again.json()["job"]["id"] != answer.json()["job"]["id"]
    assert again.json()["job"]["request"]["subtitles"].endswith(".vtt")


@pytest.mark.parametrize("content", [b"not subtitles at all", b"1\n00:00:05,000 --> 00:00:01,000\nbackwards\n"])
def test_bad_subtitles_are_refused_with_their_name_and_nothing_is_kept(
    client: TestClient, acme: dict[str, str], cfr_video: Path, api_dirs: dict[str, Path], content: bytes
) -> None:
    answer = _upload(client, acme, cfr_video, subtitles=("notes.srt", content))
    assert answer.status_code == 422
    assert answer.json()["message"].startswith("subtitles notes.srt")
    assert str(api_dirs["videos"]) not in answer.json()["message"]
    assert [p for p in api_dirs["videos"].rglob("*") if p.is_file()] == []
    assert client.get("/v1/videos", headers=acme).json()["items"] == []


def test_deleting_a_video_deletes_its_subtitles_unless_another_video_names_them(
    client: TestClient, acme: dict[str, str], globex: dict[str, str], cfr_video: Path, cfr25_video: Path,
    enqueue_fake: EnqueueFake,
) -> None:  # fmt: skip
    first = _upload(client, acme, cfr_video, subtitles=("a.srt", SRT)).json()
    second = _upload(client, globex, cfr25_video, subtitles=("b.srt", SRT)).json()  # same subtitles, another video
    path = Path(first["job"]["request"]["subtitles"])
    assert second["job"]["request"]["subtitles"] == str(path)

    assert client.delete(f"/v1/videos/{second['video']['id']}", headers=acme).status_code == 404  # not acme's
    assert client.delete(f"/v1/videos/{first['video']['id']}", headers=acme).status_code == 204
    assert path.is_file()  # globex's video still names it
    assert client.delete(f"/v1/videos/{second['video']['id']}", headers=globex).status_code == 204
    assert not path.exists()
