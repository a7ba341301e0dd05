"""Keys and tenants: a missing, wrong or revoked key is a 401; another tenant's video or job is a 404."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import add_video, bearer
from vidground import jobs, keys
from vidground.jobs import JobKind


def test_missing_wrong_and_revoked_keys_are_401_json(client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    new = keys.create(engine, tenant="acme")
    assert client.get("/v1/videos", headers=bearer(new.key)).status_code == 200

    missing = client.get("/v1/videos")
    assert missing.status_code == 401
    assert missing.json()["code"] == "authentication"
    assert "Bearer" in missing.json()["message"]
    assert missing.headers["www-authenticate"] == "Bearer"

    wrong = client.get("/v1/videos", headers=bearer(new.key + "x"))
    assert wrong.status_code == 401
    assert client.get("/v1/videos", headers={"Authorization": "Basic abc"}).status_code == 401

    keys.revoke(engine, new.record.prefix)
    revoked = client.get("/v1/videos", headers=bearer(new.key))
    assert revoked.status_code == 401
    assert "revoked" in revoked.json()["message"]


def test_only_the_hash_of_a_key_is_stored(engine) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    new = keys.create(engine, tenant="acme", name="ci")
    with engine.connect() as connection:
        row = connection.execute(text("SELECT key_hash, prefix, webhook_secret FROM api_keys")).one()
    assert row.key_hash == keys.hash_key(new.key) != new.key
    assert new.key.startswith(row.prefix) and len(row.prefix) < len(new.key) // 3
    assert len(row.webhook_secret) == 64
    assert keys.authenticate(engine, new.key).tenant == "acme"


def test_bad_tenant_name_is_refused(engine) -> None:  # type: ignore[no-untyped-def]
    from vidground.errors import ConfigError

    with pytest.raises(ConfigError, match="tenant"):
        keys.create(engine, tenant="../etc")


def test_every_endpoint_hides_another_tenants_video_and_job(
    client: TestClient,
    engine,
    acme: dict[str, str],
    globex: dict[str, str],
    api_dirs: dict[str, Path],  # type: ignore[no-untyped-def]
) -> None:
    store = client.app.state.store  # type: ignore[attr-defined]
    file = api_dirs["videos"] / "theirs.mp4"
    file.write_bytes(b"0123456789")
    video = add_video(store, "globex", file)
    job = jobs.create(
        engine, tenant="globex", kind=JobKind.INGEST, video_id=video.id, request={}, options={}, params_hash="h"
    )
    requests = [
        ("GET", f"/v1/videos/{video.id}", None),
        ("GET", f"/v1/videos/{video.id}/file", None),
        ("GET", f"/v1/videos/{video.id}/captions?format=srt", None),
        ("GET", f"/v1/videos/{video.id}/events", None),
        ("POST", f"/v1/videos/{video.id}/locate", {"queries": ["a bike"]}),
        ("DELETE", f"/v1/videos/{video.id}", None),
        ("GET", f"/v1/jobs/{job.id}", None),
        ("POST", f"/v1/jobs/{job.id}/cancel", None),
    ]
    for method, url, body in requests:
        response = client.request(method, url, headers=acme, json=body)
        assert response.status_code == 404, (method, url, response.text)
        assert response.json()["code"] == "not_found"
    assert client.get("/v1/videos", headers=acme).json()["items"] == []
    assert client.get("/v1/jobs", headers=acme).json()["items"] == []
    # nothing happened to them: the owner still sees both, the job still queued, the file still there
    assert client.get(f"/v1/videos/{video.id}", headers=globex).status_code == 200
    assert client.get(f"/v1/jobs/{job.id}", headers=globex).json()["status"] == "queued"
    assert file.exists()


def test_ingest_runs_are_listed_per_tenant(client, engine, acme, globex) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy.orm import Session

    from vidground.index.sql.models import IngestRun

    with Session(engine) as session, session.begin():
        for tenant, path in (("acme", "/footage/a.mp4"), ("globex", "/footage/g.mp4")):
            session.add(
                IngestRun(
                    tenant=tenant,
                    status="succeeded",
                    sources=["/footage/*.mp4"],
                    files=[{"path": path, "outcome": "queued", "job_id": None, "reason": None}],
                )
            )
    runs = client.get("/v1/ingest-runs", headers=acme)
    assert runs.status_code == 200, runs.text
    (run,) = runs.json()["items"]
    assert run["files"][0]["path"] == "/footage/a.mp4" and run["counts"] == {"queued": 1}
    assert client.get("/v1/ingest-runs").status_code == 401
