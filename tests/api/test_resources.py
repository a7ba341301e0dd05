"""Videos, jobs, captions, events and search read through the API from rows stored by the library."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import EnqueueFake, add_video
from vidground import jobs
from vidground.index.records import (
    AnalysisKind,
    AnalysisRecord,
    OutcomeRecord,
    QueryOutcome,
    SegmentRecord,
    Source,
    VideoStatus,
)
from vidground.jobs import JobKind


def _store(client: TestClient):  # type: ignore[no-untyped-def]
    return client.app.state.store  # type: ignore[attr-defined]


def _unit(i: int) -> list[float]:
    vector = [0.0] * 384
    vector[i % 384] = 1.0
    return vector


def test_videos_page_by_cursor_and_filter_by_status(
    client: TestClient, acme: dict[str, str], api_dirs: dict[str, Path]
) -> None:
    store = _store(client)
    ids = [add_video(store, "acme", api_dirs["videos"] / f"v{i}.mp4").id for i in range(5)]
    store.set_status(ids[1], VideoStatus.INDEXED)
    seen, cursor = [], None
    for _ in range(5):
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get("/v1/videos", headers=acme, params=params).json()
        seen += [v["id"] for v in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids, reverse=True)  # newest first, no gaps, no repeats
    indexed = client.get("/v1/videos", headers=acme, params={"status": "indexed"}).json()["items"]
    assert [v["id"] for v in indexed] == [ids[1]]
    bad = client.get("/v1/videos", headers=acme, params={"cursor": "bm9wZTox"})
    assert bad.status_code == 400 and "cursor" in bad.json()["message"]
    assert client.get("/v1/videos", headers=acme, params={"limit": 0}).status_code == 422
    assert client.get("/v1/videos", headers=acme, params={"status": "nope"}).json()["code"] == "invalid_request"


def test_file_serves_ranges_a_player_can_seek_with(
    client: TestClient, acme: dict[str, str], api_dirs: dict[str, Path]
) -> None:
    data = bytes(range(256)) * 40
    file = api_dirs["videos"] / "clip.mp4"
    file.write_bytes(data)
    video = add_video(_store(client), "acme", file)
    url = f"/v1/videos/{video.id}/file"

    whole = client.get(url, headers=acme)
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["accept-ranges"] == "bytes" and whole.headers["content-type"] == "video/mp4"

    part = client.get(url, headers={**acme, "Range": "bytes=1000-1999"})
    assert part.status_code == 206
    assert part.content == data[1000:2000]
    assert part.headers["content-range"] == f"bytes 1000-1999/{len(data)}"

    tail = client.get(url, headers={**acme, "Range": "bytes=-100"})
    assert tail.status_code == 206 and tail.content == data[-100:]
    open_end = client.get(url, headers={**acme, "Range": f"bytes={len(data) - 10}-"})
    assert open_end.content == data[-10:]

    beyond = client.get(url, headers={**acme, "Range": f"bytes={len(data) + 5}-{len(data) + 10}"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(data)}"


def test_captions_as_json_srt_and_vtt_from_stored_segments(
    client: TestClient, acme: dict[str, str], api_dirs: dict[str, Path]
) -> None:
    store = _store(client)
    video = add_video(store, "acme", api_dirs["videos"] / "cap.mp4")
    segments = (
        SegmentRecord(Source.CAPTION, 61.5, 63.25, text="A dog jumps\n\nover a fence."),
        SegmentRecord(Source.CAPTION, 1.0, 2.5, text="A man walks in."),
    )
    analysis = AnalysisRecord(AnalysisKind.CAPTION, "k", None, None, "m", None, None, segments=segments)
    store.replace_analysis(video.id, analysis, vectors=[_unit(0), _unit(1)], embedder="all-MiniLM-L6-v2")
    url = f"/v1/videos/{video.id}/captions"

    srt = client.get(url, headers=acme, params={"format": "srt"})
    assert srt.status_code == 200
    assert srt.text == (
        "1\n00:00:01,000 --> 00:00:02,500\nA man walks in.\n\n"
        "2\n00:01:01,500 --> 00:01:03,250\nA dog jumps over a fence.\n"
    )
    vtt = client.get(url, headers=acme, params={"format": "vtt"})
    assert vtt.headers["content-type"].startswith("text/vtt")
    assert vtt.text.startswith("WEBVTT\n\n00:00:01.000 --> 00:00:02.500\nA man walks in.\n")

    as_json = client.get(url, headers=acme, params={"time_format": "hmsf"}).json()
    assert [c["start_s"] for c in as_json["captions"]] == [1.0, 61.5]
    assert as_json["captions"][1]["start_tc"] == "00:01:01:12"  # frame 12 of 25 fps
    assert client.get(url, headers=acme, params={"format": "docx"}).status_code == 422


def test_events_group_answers_by_query_with_outcomes(
    client: TestClient, acme: dict[str, str], api_dirs: dict[str, Path]
) -> None:
    store = _store(client)
    video = add_video(store, "acme", api_dirs["videos"] / "ev.mp4")
    segments = (
        SegmentRecord(Source.QUERY_ANSWER, 5.0, 6.0, query="a door opens", score=0.4, rank=2),
        SegmentRecord(Source.QUERY_ANSWER, 1.0, 2.0, query="a door opens", score=0.9, rank=1),
    )
    outcomes = (
        OutcomeRecord("a door opens", QueryOutcome.FOUND),
        OutcomeRecord("a cat sings", QueryOutcome.NOT_FOUND, raw=("no",), issues=("said no",)),
    )
    analysis = AnalysisRecord(
        AnalysisKind.LOCATE, "k", None, None, "m", None, None, segments=segments, outcomes=outcomes
    )
    store.replace_analysis(video.id, analysis, vectors=[_unit(2), _unit(3)], embedder="all-MiniLM-L6-v2")
    body = client.get(f"/v1/videos/{video.id}/events", headers=acme).json()
    door, cat = body["queries"]
    assert door["query"] == "a door opens" and door["outcome"] == "found"
    assert [(s["rank"], s["start_s"]) for s in door["spans"]] == [(1, 1.0), (2, 5.0)]
    assert cat == {"query": "a cat sings", "outcome": "not_found", "spans": [], "issues": ["said no"]}


def test_locate_makes_a_job_with_merged_options_and_enqueues_it(
    client: TestClient, acme: dict[str, str], api_dirs: dict[str, Path], enqueue_fake: EnqueueFake
) -> None:
    video = add_video(_store(client), "acme", api_dirs["videos"] / "loc.mp4")
    url = f"/v1/videos/{video.id}/locate"
    response = client.post(url, headers=acme, json={"queries": ["a bike jumps"], "options": {"nframes": 16}})
    assert response.status_code == 202, response.text
    job = response.json()["job"]
    assert response.json()["enqueued"] is True
    assert [j.id for j in enqueue_fake.sent] == [job["id"]]
    assert job["kind"] == "locate" and job["request"] == {"queries": ["a bike jumps"]}
    assert job["options"]["sampling"]["nframes"] == 16 and job["options"]["sampling"]["fps"] is None

    out_of_bounds = client.post(url, headers=acme, json={"queries": ["x"], "options": {"fps": -1}})
    assert out_of_bounds.status_code == 400 and "--fps" in out_of_bounds.json()["message"]
    unknown = client.post(url, headers=acme, json={"queries": ["x"], "options": {"speed": 3}})
    assert unknown.status_code == 400 and "speed" in unknown.json()["message"]
    assert client.post(url, headers=acme, json={"queries": []}).status_code == 422
    assert client.post(url, headers=acme, json={"queries": ["  "]}).status_code == 400
    assert len(enqueue_fake.sent) == 1  # refused requests enqueue nothing


def test_jobs_page_get_and_cancel(client: TestClient, engine, acme: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    made = [
        jobs.create(engine, tenant="acme", kind=JobKind.LOCATE, video_id=None, request={}, options={}, params_hash="h")
        for _ in range(3)
    ]
    first = client.get("/v1/jobs", headers=acme, params={"limit": 2}).json()
    second = client.get("/v1/jobs", headers=acme, params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [j["id"] for j in first["items"] + second["items"]] == [j.id for j in reversed(made)]
    assert second["next_cursor"] is None
    cancelled = client.post(f"/v1/jobs/{made[0].id}/cancel", headers=acme).json()
    assert cancelled["status"] == "cancelled"
    assert client.get(f"/v1/jobs/{made[0].id}", headers=acme).json()["status"] == "cancelled"
    assert client.get("/v1/jobs", headers=acme, params={"status": "queued"}).json()["items"][-1]["id"] == made[1].id


def test_delete_removes_rows_vectors_file_and_cancels_jobs(
    client: TestClient,
    engine,
    acme: dict[str, str],
    api_dirs: dict[str, Path],  # type: ignore[no-untyped-def]
) -> None:
    from sqlalchemy import text

    store = _store(client)
    stored = api_dirs["videos"] / "gone.mp4"
    stored.write_bytes(b"video")
    imported = api_dirs["import"] / "keep.mp4"
    imported.write_bytes(b"video too")
    video = add_video(store, "acme", stored)
    other = add_video(store, "acme", imported)
    analysis = AnalysisRecord(
        AnalysisKind.CAPTION, "k", None, None, "m", None, None, segments=(SegmentRecord(Source.CAPTION, 0, 1, "x"),)
    )
    store.replace_analysis(video.id, analysis, vectors=[_unit(4)], embedder="all-MiniLM-L6-v2")
    running = jobs.create(
        engine, tenant="acme", kind=JobKind.INGEST, video_id=video.id, request={}, options={}, params_hash="h"
    )
    jobs.claim(engine, running.id)

    assert client.delete(f"/v1/videos/{video.id}", headers=acme).status_code == 204
    assert client.get(f"/v1/videos/{video.id}", headers=acme).status_code == 404
    assert not stored.exists()
    with engine.connect() as connection:
        tables = ("segments", "segment_embeddings")
        counts = [connection.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in tables]
    assert counts == [0, 0]
    assert jobs.is_cancelled(engine, running.id) or _job_gone(engine, running.id)

    assert client.delete(f"/v1/videos/{other.id}", headers=acme).status_code == 204
    assert imported.exists()  # a file outside the storage folder is never deleted


def _job_gone(engine, job_id: int) -> bool:  # type: ignore[no-untyped-def]
    from vidground.errors import NotFoundError

    try:
        jobs.get(engine, job_id)
    except NotFoundError:
        return True
    return False


@pytest.mark.slow  # loads the sentence embedder (torch): about 2 s on an idle machine
def test_search_finds_a_caption_of_this_tenant_only(
    client: TestClient, acme: dict[str, str], globex: dict[str, str], api_dirs: dict[str, Path]
) -> None:
    from vidground.index.embed import get_embedder

    embedder = get_embedder("all-MiniLM-L6-v2")
    store = _store(client)
    texts = ["a red bicycle jumps over a ramp", "a chef slices onions in a kitchen"]
    video = add_video(store, "acme", api_dirs["videos"] / "s.mp4")
    segments = tuple(SegmentRecord(Source.CAPTION, i * 5.0, i * 5.0 + 4, text=t) for i, t in enumerate(texts))
    analysis = AnalysisRecord(AnalysisKind.CAPTION, "k", None, None, "m", None, None, segments=segments)
    store.replace_analysis(video.id, analysis, vectors=embedder.embed(texts), embedder=embedder.name)

    body = client.get("/v1/search", headers=acme, params={"q": "bicycle jump"}).json()
    assert body["hits"][0]["video_id"] == video.id
    assert body["hits"][0]["text"] == texts[0] and "video_path" not in body["hits"][0]
    assert client.get("/v1/search", headers=globex, params={"q": "bicycle jump"}).json()["hits"] == []
    # The next page of a search does not embed its query again.
    app = client.app
    embedded: list[str] = []
    real_embed = app.state.embedder.embed  # type: ignore[attr-defined]
    app.state.embedder.embed = lambda texts: embedded.extend(texts) or real_embed(texts)  # type: ignore[attr-defined]
    query = {"q": "bicycle or onions", "limit": 1}  # both captions hold a word of it
    first = client.get("/v1/search", headers=acme, params=query).json()
    second = client.get("/v1/search", headers=acme, params={**query, "cursor": first["next_cursor"]}).json()
    assert embedded == ["bicycle or onions"]
    assert sorted([first["hits"][0]["text"], second["hits"][0]["text"]]) == sorted(texts)
    # An exclusion is not embedded: "-bicycle" finds only what lacks the word, not its nearest meaning (the bicycle).
    excluded = client.get("/v1/search", headers=acme, params={"q": "-bicycle"}).json()["hits"]
    assert [(h["text"], h["signals"]) for h in excluded] == [(texts[1], ["text"])]
    assert client.get("/v1/search", headers=acme, params={"q": "   "}).status_code == 400
    assert client.get("/v1/search", headers=acme, params={"q": "x", "cursor": "zzz"}).status_code == 400
