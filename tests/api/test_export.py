"""``GET /v1/videos/{id}/export``: stored moments as OTIO and EDL that open back in opentimelineio, per tenant."""

from __future__ import annotations

from pathlib import Path

import opentimelineio as otio
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import add_video
from vidground.index.records import AnalysisKind, AnalysisRecord, SegmentRecord, ShotRecord, Source


def test_export_otio_and_edl_from_stored_segments_and_shots(
    client: TestClient, acme: dict[str, str], globex: dict[str, str], api_dirs: dict[str, Path]
) -> None:
    store = client.app.state.store  # type: ignore[attr-defined]
    video = add_video(store, "acme", api_dirs["videos"] / "clip.mp4")  # 25 fps
    speech = SegmentRecord(Source.SPEECH, 6.12, 7.6, text="Please open the blue door.", detail={"words": []})
    store.replace_analysis(
        video.id, AnalysisRecord(AnalysisKind.SPEECH, "k", None, None, "w", None, None, segments=(speech,)),
        vectors=[[1.0] + [0.0] * 383], embedder="all-MiniLM-L6-v2",
    )  # fmt: skip
    shots = (ShotRecord(0.0, 3.04, 0), ShotRecord(3.04, 9.0, 76))
    store.replace_analysis(
        video.id, AnalysisRecord(AnalysisKind.SHOTS, "s", None, None, "sd", None, None, shots=shots), vectors=[],
        embedder="all-MiniLM-L6-v2",
    )  # fmt: skip
    assert store.segments(video.id)[0].detail == {"words": []}
    url = f"/v1/videos/{video.id}/export"

    response = client.get(url, headers=acme)
    assert response.status_code == 200 and "opentimelineio" in response.headers["content-type"]
    assert response.headers["content-disposition"].endswith('.otio"')
    clip = otio.adapters.read_from_string(response.text, "otio_json").tracks[0][0]
    assert [(m.name, m.marked_range.start_time.to_seconds()) for m in clip.markers] == [
        ("Shot 1", 0.0),
        ("Shot 2", 3.04),
        ("Please open the blue door.", pytest.approx(6.12)),
    ]
    edl = client.get(url, headers=acme, params={"format": "edl", "what": "shots"})
    assert edl.status_code == 200
    clips = list(otio.adapters.read_from_string(edl.text, "cmx_3600", rate=video.fps).tracks[0])
    assert [c.source_range.start_time.to_seconds() for c in clips] == [0.0, pytest.approx(3.04)]
    assert client.get(url, headers=acme, params={"format": "docx"}).status_code == 422
    assert client.get(url, headers=globex).status_code == 404  # another tenant's video


def test_locate_takes_snap_through_the_options_layer(
    client: TestClient, acme: dict[str, str], api_dirs: dict[str, Path]
) -> None:
    video = add_video(client.app.state.store, "acme", api_dirs["videos"] / "snap.mp4")  # type: ignore[attr-defined]
    url = f"/v1/videos/{video.id}/locate"
    options = {"snap": "shots", "snap_tolerance_s": 0.5}
    response = client.post(url, headers=acme, json={"queries": ["a cut"], "options": options})
    assert response.status_code == 202, response.text
    assert response.json()["job"]["options"]["snap"] == {"target": "shots", "tolerance_s": 0.5}
    refused = client.post(url, headers=acme, json={"queries": ["a cut"], "options": {"snap": "scenes"}})
    assert refused.status_code == 400 and "--snap" in refused.json()["message"]
