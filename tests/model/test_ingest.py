"""``vidground ingest`` end to end: real videos, the tiny checkpoint, a real PostgreSQL with pgvector.

Each test gets its own database (``pg_database``); the commands run through ``vidground.cli.main`` as a user runs
them, and the rows are checked with SQL.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from vidground.cli import main

SRT = """1
00:00:01,000 --> 00:00:02,500
Two riders race down the hill.

2
00:00:06,250 --> 00:00:08,000
The crowd cheers at the finish line.
"""


@pytest.fixture
def library(tmp_path: Path, bikes_video: Path, cfr_video: Path) -> Path:
    folder = tmp_path / "library"
    folder.mkdir()
    shutil.copy(bikes_video, folder / "bikes.mp4")
    (folder / "bikes.srt").write_text(SRT, encoding="utf-8")
    shutil.copy(cfr_video, folder / "bars.mp4")
    (folder / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 200)
    (folder / "notes.txt").write_text("not a video")
    return folder


@pytest.fixture
def index_env(pg_database: str, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    monkeypatch.setenv("VIDGROUND_DATABASE_URL", pg_database)
    monkeypatch.setenv("VIDGROUND_MODEL_ID", str(tiny_model_dir))
    monkeypatch.setenv("VIDGROUND_DEVICE", "cpu")
    monkeypatch.setenv("VIDGROUND_RESIZE", "fast")
    monkeypatch.setenv("VIDGROUND_DATA_DIR", str(tmp_path / "data"))
    assert main(["db", "upgrade"]) == 0
    return pg_database


def rows(url: str, sql: str, **params: object) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return [tuple(r) for r in connection.execute(text(sql), params)]
    finally:
        engine.dispose()


INGEST = ["ingest", "--nframes", "8", "--query", "a bike", "--quiet"]


def test_ingest_a_folder_reindex_nothing_replace_on_change_and_forget(
    index_env: str, library: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # One bad file among good ones: reported in one line, skipped; the rest are indexed; exit 2.
    assert main([*INGEST, str(library)]) == 2
    err = capsys.readouterr().err
    assert "2 ingested, 0 already indexed, 1 failed" in err
    assert f"failed: {library / 'broken.mp4'}: " in err and "Traceback" not in err
    videos = rows(index_env, "SELECT id, path, status FROM videos ORDER BY path")
    assert [(Path(str(p)).name, s) for _, p, s in videos] == [("bars.mp4", "indexed"), ("bikes.mp4", "indexed")]
    bikes_id = next(i for i, p, _ in videos if str(p).endswith("bikes.mp4"))
    kinds = rows(index_env, "SELECT kind FROM analyses WHERE video_id = :v ORDER BY kind", v=bikes_id)
    assert [k for (k,) in kinds] == ["caption", "locate", "subtitles"]
    subtitles = rows(
        index_env,
        "SELECT start_s, end_s, text FROM segments WHERE video_id = :v AND source = 'subtitle' ORDER BY start_s",
        v=bikes_id,
    )
    assert subtitles == [
        (1.0, 2.5, "Two riders race down the hill."),
        (6.25, 8.0, "The crowd cheers at the finish line."),
    ]
    outcomes = rows(index_env, "SELECT query, outcome FROM query_outcomes")
    assert sorted(q for q, _ in outcomes) == ["a bike", "a bike"]  # one per video: "not found" is a result too
    assert all(o in ("found", "not_found", "unreadable") for _, o in outcomes)
    n_segments = rows(index_env, "SELECT count(*) FROM segments")[0][0]
    n_vectors = rows(index_env, "SELECT count(*), min(model), max(model) FROM segment_embeddings")[0]
    assert n_vectors == (n_segments, "all-MiniLM-L6-v2", "all-MiniLM-L6-v2")

    # Search finds the subtitle's words at its seconds, with the full-text signal.
    assert main(["search", "riders race down the hill", "--format", "json"]) == 0
    hits = json.loads(capsys.readouterr().out)["hits"]
    top = hits[0]
    assert (top["start_s"], top["end_s"], top["source"]) == (1.0, 2.5, "subtitle")
    assert Path(top["video"]).name == "bikes.mp4" and "text" in top["signals"]

    # The same files again, and a copy under another name: nothing added.
    shutil.copy(library / "bikes.mp4", library / "bikes-copy.mp4")
    (library / "broken.mp4").unlink()
    assert main([*INGEST, str(library)]) == 0
    assert "0 ingested, 3 already indexed, 0 failed" in capsys.readouterr().err
    assert rows(index_env, "SELECT count(*) FROM videos")[0][0] == 2
    assert rows(index_env, "SELECT count(*) FROM segments")[0][0] == n_segments

    # Another option: that analysis is replaced, never duplicated; the subtitles stay as they were.
    params_before = rows(index_env, "SELECT params_hash FROM analyses WHERE kind = 'caption' AND video_id = :v",
                         v=bikes_id)  # fmt: skip
    assert main(["ingest", "--nframes", "6", "--query", "a bike", "--quiet", str(library / "bikes.mp4")]) == 0
    assert "1 ingested" in capsys.readouterr().err
    after = rows(index_env, "SELECT kind, params_hash FROM analyses WHERE video_id = :v ORDER BY kind", v=bikes_id)
    assert [k for k, _ in after] == ["caption", "locate", "subtitles"]
    assert dict(after)["caption"] != params_before[0][0]

    # videos lists them; forget by a hash prefix removes rows and vectors, and only those.
    assert main(["videos", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    bikes = next(v for v in listed if v["id"] == bikes_id)
    assert bikes["status"] == "indexed" and bikes["analyses"] == ["caption", "locate", "subtitles"]
    assert main(["forget", bikes["content_hash"][:10]]) == 0
    assert rows(index_env, "SELECT count(*) FROM segments WHERE video_id = :v", v=bikes_id)[0][0] == 0
    assert rows(index_env, "SELECT count(*) FROM segment_embeddings WHERE video_id = :v", v=bikes_id)[0][0] == 0
    assert rows(index_env, "SELECT count(*) FROM videos")[0][0] == 1
    assert main(["forget", bikes["content_hash"][:10]]) == 2
    assert "no indexed video matches" in capsys.readouterr().err


def test_subtitles_only_need_no_model(
    pg_database: str, library: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VIDGROUND_DATABASE_URL", pg_database)
    monkeypatch.setenv("VIDGROUND_MODEL_ID", str(tmp_path / "no-such-model"))  # never looked up
    assert main(["db", "upgrade"]) == 0
    assert main(["ingest", "--no-captions", "--quiet", str(library / "bikes.mp4")]) == 0
    assert "1 ingested" in capsys.readouterr().err
    assert rows(pg_database, "SELECT count(*) FROM segments WHERE source = 'subtitle'")[0][0] == 2


def test_an_external_database_must_be_migrated_first(
    pg_database: str, library: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VIDGROUND_DATABASE_URL", pg_database)
    assert main(["db", "status"]) == 2
    assert "behind: run `vidground db upgrade`" in capsys.readouterr().out
    assert main(["ingest", "--no-captions", str(library / "bikes.mp4")]) == 2
    assert "run `vidground db upgrade`" in capsys.readouterr().err
    assert main(["db", "upgrade"]) == 0
    assert main(["db", "status"]) == 0
    assert "(head 0003): at head" in capsys.readouterr().out


def test_an_interrupted_ingest_leaves_no_half_written_analysis(
    pg_database: str, library: Path, tiny_model_dir: Path
) -> None:
    from vidground.index.embed import get_embedder
    from vidground.index.sql import migrate
    from vidground.index.sql.store import PostgresStore
    from vidground.ingest import IngestRequest, ingest_file
    from vidground.model.runner import QwenRunner
    from vidground.options import AnalysisOptions, DecodeOptions, SamplingOptions

    engine = create_engine(pg_database)
    migrate.upgrade(engine)
    real = get_embedder("all-MiniLM-L6-v2")

    class InterruptedEmbedder:
        """Embeds the first analysis (subtitles), then the user presses Ctrl-C during the second (captions)."""

        name, dim, calls = real.name, real.dim, 0

        def embed(self, texts: list[str]) -> list[list[float]]:
            self.calls += 1
            if self.calls == 2:
                raise KeyboardInterrupt
            return real.embed(texts)

    request = IngestRequest(model_id=str(tiny_model_dir), queries=("a bike",))
    options = AnalysisOptions(sampling=SamplingOptions(nframes=8), decoding=DecodeOptions(resize="fast"))
    runner = QwenRunner(str(tiny_model_dir), device="cpu")
    store = PostgresStore(engine)
    with pytest.raises(KeyboardInterrupt):
        ingest_file(library / "bikes.mp4", request, store=store, embedder=InterruptedEmbedder(), runner=runner,
                    options=options)  # fmt: skip
    stored = rows(pg_database, "SELECT kind FROM analyses")
    assert stored == [("subtitles",)]  # the finished analysis is kept whole; the interrupted one left nothing
    assert rows(pg_database, "SELECT count(*) FROM segments WHERE source <> 'subtitle'")[0][0] == 0
    # Running again completes what is missing and skips what is there.
    report = ingest_file(library / "bikes.mp4", request, store=store, embedder=real, runner=runner, options=options)
    assert report.stored == ("caption", "locate") and report.skipped == ("subtitles",)
    engine.dispose()
