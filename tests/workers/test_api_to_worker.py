"""The service end to end: an upload through the API becomes an ingest job that a real Celery worker process runs
over the machine's Redis; a locate job follows; the results come back through the API; delete removes it all."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from tests.workers.conftest import REDIS_URL, WorkerProcess, wait_for_job


def test_upload_ingest_locate_captions_delete(
    worker_database: str,
    start_worker: Callable[..., WorkerProcess],
    engine: Any,
    bikes_video: Path,
    tmp_path: Path,
) -> None:
    from api.main import create_app
    from vidground import keys
    from vidground.settings import Settings

    settings = Settings(
        database_url=worker_database,
        redis_url=REDIS_URL,
        data_dir=tmp_path / "data",
        storage_dir=tmp_path / "videos",
    )
    key = keys.create(engine, tenant="acme").key
    auth = {"Authorization": f"Bearer {key}"}
    worker = start_worker()
    app = create_app(settings)
    with TestClient(app) as client:
        with bikes_video.open("rb") as stream:
            uploaded = client.post("/v1/videos", headers=auth, files={"file": ("bikes.mp4", stream, "video/mp4")})
        assert uploaded.status_code == 201, uploaded.text
        body = uploaded.json()
        assert body["enqueued"] is True
        video_id, job_id = body["video"]["id"], body["job"]["id"]

        record, seen = wait_for_job(engine, job_id, timeout_s=240, worker=worker)
        assert record.status == "succeeded", (record.error, worker.log())
        assert seen[-1] == "succeeded"
        job = client.get(f"/v1/jobs/{job_id}", headers=auth).json()
        assert job["status"] == "succeeded"
        video = client.get(f"/v1/videos/{video_id}", headers=auth).json()
        assert video["status"] == "indexed"

        captions = client.get(f"/v1/videos/{video_id}/captions", headers=auth, params={"format": "vtt"})
        assert captions.status_code == 200 and captions.text.startswith("WEBVTT")
        srt = client.get(f"/v1/videos/{video_id}/captions", headers=auth, params={"format": "srt"})
        assert srt.status_code == 200

        located = client.post(f"/v1/videos/{video_id}/locate", headers=auth, json={"queries": ["a bike"]})
        assert located.status_code == 202, located.text
        assert located.json()["enqueued"] is True
        locate_job = located.json()["job"]["id"]
        record, _ = wait_for_job(engine, locate_job, timeout_s=240, worker=worker)
        assert record.status == "succeeded", (record.error, worker.log())
        events = client.get(f"/v1/videos/{video_id}/events", headers=auth)
        assert events.status_code == 200 and "a bike" in events.text
        # The worker's figures reach the API's /metrics through the job rows it wrote.
        metrics = client.get("/metrics").text
        assert re.search(r"\nvidground_model_pass_seconds \d", metrics), metrics[-2000:]
        assert re.search(r"\nvidground_decode_frames_per_second \d", metrics), metrics[-2000:]

        assert client.delete(f"/v1/videos/{video_id}", headers=auth).status_code == 204
        assert client.get(f"/v1/videos/{video_id}", headers=auth).status_code == 404
        assert not list((tmp_path / "videos").glob("*.mp4"))
    app.state.store.engine.dispose()
