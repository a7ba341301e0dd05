"""Uploads and imports: streamed, hashed, probed, deduplicated; every refusal leaves nothing in storage or the DB."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.api.conftest import EnqueueFake
from vidground.settings import Settings


def _rows(client: TestClient) -> tuple[int, int]:
    with client.app.state.store.engine.connect() as connection:  # type: ignore[attr-defined]
        videos = connection.execute(text("SELECT count(*) FROM videos")).scalar_one()
        jobs = connection.execute(text("SELECT count(*) FROM jobs")).scalar_one()
    return videos, jobs


def _upload(client: TestClient, headers: dict[str, str], path: Path, name: str, content_type: str = "video/mp4"):  # type: ignore[no-untyped-def]
    with path.open("rb") as stream:
        return client.post("/v1/videos", headers=headers, files={"file": (name, stream, content_type)})


def test_real_video_upload_is_201_then_200_on_the_same_content(
    client: TestClient, acme: dict[str, str], bikes_video: Path, api_dirs: dict[str, Path], enqueue_fake: EnqueueFake
) -> None:
    import hashlib

    first = _upload(client, acme, bikes_video, "bikes.mp4")
    assert first.status_code == 201, first.text
    body = first.json()
    digest = hashlib.sha256(bikes_video.read_bytes()).hexdigest()
    assert body["video"]["content_hash"] == digest
    assert (body["video"]["width"], body["video"]["height"], body["video"]["duration_s"]) == (640, 272, 10.0)
    assert body["created"] is True and body["enqueued"] is True
    assert body["job"]["kind"] == "ingest" and body["job"]["status"] == "queued"
    assert [j.id for j in enqueue_fake.sent] == [body["job"]["id"]]
    assert sorted(p.name for p in api_dirs["videos"].iterdir()) == [f"{digest}.mp4"]

    again = _upload(client, acme, bikes_video, "other-name.mov")
    assert again.status_code == 200
    assert again.json()["video"]["id"] == body["video"]["id"]
    assert again.json()["job"]["id"] == body["job"]["id"] and again.json()["enqueued"] is False
    assert len(enqueue_fake.sent) == 1  # the same job is not sent twice
    assert sorted(p.name for p in api_dirs["videos"].iterdir()) == [f"{digest}.mp4"]
    assert _rows(client) == (1, 1)

    served = client.get(f"/v1/videos/{body['video']['id']}/file", headers={**acme, "Range": "bytes=100-199"})
    assert served.status_code == 206 and served.content == bikes_video.read_bytes()[100:200]


@pytest.mark.parametrize(
    ("case", "name", "content_type", "status", "says"),
    [
        ("text", "notes.mp4", "video/mp4", 422, "not a video"),
        ("truncated", "cut.mp4", "video/mp4", 422, "cut.mp4"),
        ("empty", "empty.mp4", "video/mp4", 400, "empty"),
        ("random_bytes", "lying.mp4", "video/mp4", 422, "lying.mp4"),  # declared a video, is noise
        ("absurd_size", "huge.y4m", "video/x-yuv4mpeg", 422, "20000"),
        ("audio_only", "sound.mp4", "audio/mp4", 422, "sound.mp4"),
    ],
)
def test_bad_uploads_are_4xx_and_leave_nothing_behind(
    client: TestClient,
    acme: dict[str, str],
    broken_videos: dict[str, Path],
    api_dirs: dict[str, Path],
    enqueue_fake: EnqueueFake,
    case: str,
    name: str,
    content_type: str,
    status: int,
    says: str,
) -> None:
    response = _upload(client, acme, broken_videos[case], name, content_type)
    assert response.status_code == status, response.text
    assert response.json()["code"] and says in response.json()["message"]
    assert str(api_dirs["videos"]) not in response.json()["message"]  # the server's paths stay private
    assert list(api_dirs["videos"].iterdir()) == []
    assert _rows(client) == (0, 0) and enqueue_fake.sent == []


def test_a_path_traversal_file_name_is_only_a_label(
    client: TestClient, acme: dict[str, str], broken_videos: dict[str, Path], api_dirs: dict[str, Path], tmp_path: Path
) -> None:
    response = _upload(client, acme, broken_videos["single_frame"], "../../../escaped.mp4")
    assert response.status_code == 201, response.text
    stored = list(api_dirs["videos"].iterdir())
    assert [p.name for p in stored] == [f"{response.json()['video']['content_hash']}.mp4"]
    assert not any(p.name == "escaped.mp4" for p in tmp_path.rglob("*"))


def test_over_the_cap_is_413_at_once_and_leaves_nothing(
    api_settings: Settings,
    acme: dict[str, str],
    bikes_video: Path,
    api_dirs: dict[str, Path],
    engine,  # type: ignore[no-untyped-def]
) -> None:
    from api.main import create_app

    small = api_settings.model_copy(update={"max_upload_bytes": 100_000})
    with TestClient(create_app(small)) as small_client:
        response = _upload(small_client, acme, bikes_video, "bikes.mp4")  # 510 kB, declared in Content-Length
        assert response.status_code == 413
        assert "100000" in response.json()["message"]

        def chunks():  # type: ignore[no-untyped-def]
            # no Content-Length: the cap is enforced while streaming
            yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="x.mp4"\r\n\r\n'
            for _ in range(20):
                yield b"\0" * 10_000
            yield b"\r\n--b--\r\n"

        streamed = small_client.post(
            "/v1/videos", headers={**acme, "Content-Type": "multipart/form-data; boundary=b"}, content=chunks()
        )
        assert streamed.status_code == 413
        assert list(api_dirs["videos"].iterdir()) == []
        assert _rows(small_client) == (0, 0)


def test_malformed_requests_are_clear_4xx(client: TestClient, acme: dict[str, str], api_dirs: dict[str, Path]) -> None:
    no_file = client.post("/v1/videos", headers=acme, data={"other": "x"}, files={"notfile": ("a.mp4", b"123")})
    assert no_file.status_code == 400 and "'file'" in no_file.json()["message"]
    plain = client.post("/v1/videos", headers={**acme, "Content-Type": "text/plain"}, content=b"hello")
    assert plain.status_code == 415
    cut = client.post(
        "/v1/videos",
        headers={**acme, "Content-Type": "multipart/form-data; boundary=b"},
        content=b'--b\r\nContent-Disposition: form-data; name="file"; filename="x.mp4"\r\n\r\nabc',
    )
    assert cut.status_code == 400 and "ended" in cut.json()["message"]
    bad_options = client.post(
        "/v1/videos", headers=acme, data={"options": '{"fps": 0}'}, files={"file": ("a.mp4", b"123")}
    )
    assert bad_options.status_code == 400 and "--fps" in bad_options.json()["message"]
    assert list(api_dirs["videos"].iterdir()) == []
    assert _rows(client) == (0, 0)


def test_import_from_the_import_root(
    client: TestClient, acme: dict[str, str], bikes_video: Path, api_dirs: dict[str, Path], tmp_path: Path
) -> None:
    root = api_dirs["import"]
    (root / "cams").mkdir()
    target = root / "cams" / "bikes.mp4"
    target.write_bytes(bikes_video.read_bytes())
    outside = tmp_path / "secret.mp4"
    outside.write_bytes(bikes_video.read_bytes())
    os.symlink(outside, root / "link.mp4")

    ok = client.post("/v1/videos", headers=acme, json={"path": "cams/bikes.mp4"})
    assert ok.status_code == 201, ok.text
    assert list(api_dirs["videos"].iterdir()) == []  # imported in place, not copied
    assert client.post("/v1/videos", headers=acme, json={"path": str(target)}).status_code == 200

    for path, status, says in [
        ("../secret.mp4", 403, "'..'"),
        ("cams/../../secret.mp4", 403, "'..'"),
        (str(outside), 403, "outside"),
        ("link.mp4", 403, "outside"),
        ("cams/nothing.mp4", 404, "no such file"),
    ]:
        response = client.post("/v1/videos", headers=acme, json={"path": path})
        assert response.status_code == status, (path, response.text)
        assert says in response.json()["message"]
    assert client.post("/v1/videos", headers=acme, json={"path": 3}).status_code == 400
    assert _rows(client) == (1, 1)


def test_import_is_off_without_an_import_root(api_settings: Settings, acme: dict[str, str]) -> None:
    from api.main import create_app

    with TestClient(create_app(api_settings.model_copy(update={"import_root": None}))) as off:
        response = off.post("/v1/videos", headers=acme, json={"path": "a.mp4"})
    assert response.status_code == 400 and "VIDGROUND_IMPORT_ROOT" in response.json()["message"]


def test_without_a_broker_the_job_stays_queued_and_says_so(
    api_settings: Settings, acme: dict[str, str], bikes_video: Path, enqueue_fake: EnqueueFake
) -> None:
    from api.main import create_app

    no_broker = Settings(**{k: v for k, v in api_settings.model_dump().items() if k != "redis_url"})
    with TestClient(create_app(no_broker)) as plain:
        body = _upload(plain, acme, bikes_video, "bikes.mp4").json()
        assert body["enqueued"] is False and body["job"]["status"] == "queued"
        assert enqueue_fake.sent == []
        assert plain.get("/readyz").json()["checks"]["broker"] == "not configured"


def test_an_upload_or_import_can_ask_for_speech_ocr_and_shots(
    client: TestClient, acme: dict[str, str], bikes_video: Path, api_dirs: dict[str, Path]
) -> None:
    """``enrich`` names the extra analyses the ingest job runs; an unknown one is refused before anything is kept."""
    from vidground import jobs

    engine = client.app.state.store.engine  # type: ignore[attr-defined]
    with bikes_video.open("rb") as stream:
        refused = client.post("/v1/videos", headers=acme, files={"file": ("b.mp4", stream)},
                              data={"enrich": "speech,telepathy"})  # fmt: skip
    assert refused.status_code == 400 and "unknown 'telepathy'" in refused.json()["message"]
    assert _rows(client) == (0, 0) and [p for p in api_dirs["videos"].rglob("*") if p.is_file()] == []

    plain = _upload(client, acme, bikes_video, "b.mp4").json()
    assert not {"speech", "ocr", "shots"} & set(jobs.get(engine, plain["job"]["id"]).request)
    with bikes_video.open("rb") as stream:
        asked = client.post("/v1/videos", headers=acme, files={"file": ("b.mp4", stream)},
                            data={"enrich": " Speech, shots "}).json()  # fmt: skip
    # The same content again, but asking for more: a new ingest job, not the stored one.
    assert asked["video"]["id"] == plain["video"]["id"] and asked["job"]["id"] != plain["job"]["id"]
    request = jobs.get(engine, asked["job"]["id"]).request
    assert (request.get("speech"), request.get("shots"), request.get("ocr")) == (True, True, None)

    (api_dirs["import"] / "b.mp4").write_bytes(bikes_video.read_bytes())
    imported = client.post("/v1/videos", headers=acme, json={"path": "b.mp4", "enrich": ["ocr"]}).json()
    assert jobs.get(engine, imported["job"]["id"]).request.get("ocr") is True
    bad = client.post("/v1/videos", headers=acme, json={"path": "b.mp4", "enrich": ["smell"]})
    assert bad.status_code == 400 and "enrich" in bad.json()["message"]
