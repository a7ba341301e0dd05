"""The app as a whole: what the API process imports, the OpenAPI schema, error shapes, health and metrics."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from vidground.index.sql.models import Job
from vidground.settings import Settings


def test_serving_every_read_endpoint_imports_no_torch(api_settings: Settings, bikes_video: Path) -> None:
    """Creating the app, uploading (which probes with PyAV), reading, searching (the NumPy query embedder),
    thumbnails (PyAV) and the web page import no torch, transformers or pipeline."""
    script = textwrap.dedent(
        f"""
        import json, sys
        from fastapi.testclient import TestClient
        from api.main import create_app
        from vidground import keys
        from vidground.settings import Settings
        settings = Settings.model_validate_json({api_settings.model_dump_json()!r})
        app = create_app(settings)
        key = keys.create(app.state.store.engine, tenant="t").key
        with TestClient(app) as client:
            h = {{"Authorization": "Bearer " + key}}
            with open({str(bikes_video)!r}, "rb") as f:
                vid = client.post("/v1/videos", headers=h, files={{"file": ("b.mp4", f)}}).json()["video"]["id"]
            for url in ["/v1/videos", f"/v1/videos/{{vid}}", f"/v1/videos/{{vid}}/captions?format=srt",
                        f"/v1/videos/{{vid}}/events", "/v1/jobs", "/healthz", "/metrics", "/openapi.json",
                        f"/v1/videos/{{vid}}/thumbnail?t=1.5", "/", "/static/app.js",
                        "/v1/search?q=a+person+opens+a+door"]:
                assert client.get(url, headers=h).status_code == 200, url
            signed = client.post(f"/v1/videos/{{vid}}/file-url", headers=h).json()["url"]
            assert client.get(signed, headers={{"Range": "bytes=0-99"}}).status_code == 206
        heavy = ["torch", "transformers", "vidground.pipeline", "vidground.model.runner"]
        print(json.dumps([m for m in heavy if m in sys.modules]))
        """
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    assert json.loads(run.stdout.strip().splitlines()[-1]) == []


def test_openapi_schema_is_served_and_valid(client: TestClient) -> None:
    from fastapi.openapi.models import OpenAPI

    schema = client.get("/openapi.json").json()
    assert schema["openapi"].startswith("3.")
    OpenAPI.model_validate(schema)  # the OpenAPI 3.1 object model (openapi-spec-validator is not installed here)
    refs = {v for v in _walk(schema) if isinstance(v, str) and v.startswith("#/components/schemas/")}
    assert {r.rsplit("/", 1)[1] for r in refs} <= set(schema["components"]["schemas"])  # no dangling $ref
    assert {"/v1/videos", "/v1/videos/{video_id}/file", "/v1/search", "/v1/jobs/{job_id}/cancel"} <= set(
        schema["paths"]
    )
    upload = schema["paths"]["/v1/videos"]["post"]["requestBody"]["content"]
    assert set(upload) == {"multipart/form-data", "application/json"}


def test_errors_are_json_code_and_message_never_a_traceback(client: TestClient, acme: dict[str, str]) -> None:
    from api import main

    missing = client.get("/v1/videos/999999", headers=acme)
    assert missing.status_code == 404 and missing.json() == {"code": "not_found", "message": "video 999999 not found"}
    invalid = client.get("/v1/videos/abc", headers=acme)
    assert invalid.status_code == 422 and invalid.json()["code"] == "invalid_request"
    assert "video_id" in invalid.json()["message"]
    assert client.get("/no/such/route").json()["code"] == "not_found"

    @client.app.get("/boom")  # type: ignore[attr-defined]
    def boom() -> None:
        raise RuntimeError("secret detail /etc/passwd")

    with TestClient(client.app, raise_server_exceptions=False) as quiet:  # type: ignore[arg-type]
        failed = quiet.get("/boom")
    assert failed.status_code == 500
    assert failed.json() == {"code": "internal", "message": "internal error; the server log has the details"}
    assert main.error_code(main.VidgroundError()) == "vidground"


def test_health_ready_and_metrics(client: TestClient, acme: dict[str, str], api_settings: Settings) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "checks": {}}
    ready = client.get("/readyz")  # the fixture names a broker nobody listens on
    assert ready.status_code == 503
    assert ready.json()["checks"] == {"database": "ok", "migrations": "ok", "broker": "unreachable: ConnectionError"}

    client.get("/v1/videos", headers=acme)
    client.get("/v1/videos/12345", headers=acme)
    client.get("/v1/videos/12346", headers=acme)
    text = client.get("/metrics").text
    assert 'vidground_http_requests_total{method="GET",route="/v1/videos",status="200"} 1.0' in text
    assert 'vidground_http_requests_total{method="GET",route="/v1/videos/{video_id}",status="404"} 2.0' in text
    assert 'vidground_jobs{state="queued"} 0.0' in text


def _walk(node: object) -> list[object]:
    if isinstance(node, dict):
        return [x for v in node.values() for x in _walk(v)]
    if isinstance(node, list):
        return [x for v in node for x in _walk(v)]
    return [node]


def test_metrics_report_model_latency_and_decoding_speed_of_recent_jobs(client: TestClient, engine: Engine) -> None:
    """Model seconds per pass and frames decoded per second come from the rows of jobs that succeeded lately."""
    from vidground import jobs

    def finished(status: jobs.JobStatus, work: jobs.ModelWork, *, minutes_ago: float = 0) -> None:
        job = jobs.create(engine, tenant="acme", kind=jobs.JobKind.LOCATE, video_id=None, request={}, options={},
                          params_hash="h")  # fmt: skip
        assert jobs.claim(engine, job.id) is not None
        with Session(engine) as session, session.begin():
            assert jobs.finish_in(session, job.id, status, timings_s={"run": 9.0}, work=work)
            session.execute(
                update(Job).where(Job.id == job.id).values(finished_at=Job.finished_at - timedelta(minutes=minutes_ago))
            )

    text = client.get("/metrics").text
    assert "\nvidground_model_pass_seconds " not in text  # no job yet: no sample rather than a made-up 0
    provenance = {"passes": [{"n_frames": 96}, {"n_frames": 64}], "timings_s": {"decode": 4.0, "encode": 1.0,
                                                                                  "generate": 5.0}}  # fmt: skip
    finished(jobs.JobStatus.SUCCEEDED, jobs.ModelWork.from_provenance(provenance))  # 160 frames, 2 passes
    finished(jobs.JobStatus.SUCCEEDED, jobs.ModelWork(40, 1, {"decode": 1.0, "encode": 0.5, "generate": 0.5}))
    finished(jobs.JobStatus.SUCCEEDED, jobs.ModelWork(1000, 9, {"decode": 1.0, "generate": 99.0}), minutes_ago=30)
    finished(jobs.JobStatus.FAILED, jobs.ModelWork(1000, 9, {"decode": 1.0, "generate": 99.0}))

    text = client.get("/metrics").text
    assert "vidground_model_pass_seconds 2.3333333333333335" in text  # (1 + 5 + 0.5 + 0.5) s / 3 passes
    assert "vidground_decode_frames_per_second 40.0" in text  # 200 frames / 5 s
    with Session(engine) as session:
        stored = session.scalars(select(Job).order_by(Job.id)).first()
    assert stored is not None and (stored.frames_decoded, stored.model_passes) == (160, 2)
    assert stored.timings_s == {"decode": 4.0, "encode": 1.0, "generate": 5.0, "run": 9.0}
