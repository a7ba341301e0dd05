"""The API against a real PostgreSQL (``pg_database``, migrated to head), through FastAPI's TestClient.

``enqueue_fake`` stands in for ``api.queue.enqueue`` (the broker is the workers' side): it records the jobs sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from vidground.jobs import JobRecord
from vidground.settings import Settings

FAKE_BROKER = "redis://127.0.0.1:9/0"  # never contacted: enqueue is faked


@dataclass
class EnqueueFake:
    """Records what ``api.queue.enqueue`` was asked to send."""

    sent: list[JobRecord] = field(default_factory=list)

    def __call__(self, job: JobRecord) -> None:
        self.sent.append(job)


@pytest.fixture
def api_dirs(tmp_path: Path) -> dict[str, Path]:
    dirs = {name: tmp_path / name for name in ("data", "videos", "import")}
    for folder in dirs.values():
        folder.mkdir()
    return dirs


@pytest.fixture
def api_settings(pg_database: str, api_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> Settings:
    from vidground.index.sql import migrate
    from vidground.index.sql.engine import make_engine

    monkeypatch.delenv("VIDGROUND_REDIS_URL", raising=False)
    engine = make_engine(pg_database)
    migrate.upgrade(engine)
    engine.dispose()
    return Settings(
        database_url=pg_database,
        data_dir=api_dirs["data"],
        storage_dir=api_dirs["videos"],
        import_root=api_dirs["import"],
        redis_url=FAKE_BROKER,
    )


@pytest.fixture
def enqueue_fake(monkeypatch: pytest.MonkeyPatch) -> EnqueueFake:
    from api import queue

    fake = EnqueueFake()
    monkeypatch.setattr(queue, "enqueue", fake)
    return fake


@pytest.fixture
def client(api_settings: Settings, enqueue_fake: EnqueueFake) -> Iterator[TestClient]:
    from api.main import create_app

    app = create_app(api_settings)
    with TestClient(app) as test_client:
        yield test_client
    app.state.store.engine.dispose()


@pytest.fixture
def engine(client: TestClient):  # type: ignore[no-untyped-def]
    return client.app.state.store.engine  # type: ignore[attr-defined]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def acme(engine) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Headers with a key of tenant ``acme``."""
    from vidground import keys

    return bearer(keys.create(engine, tenant="acme").key)


@pytest.fixture
def globex(engine) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Headers with a key of another tenant, ``globex``."""
    from vidground import keys

    return bearer(keys.create(engine, tenant="globex").key)


def add_video(store, tenant: str, path: Path, *, content_hash: str | None = None):  # type: ignore[no-untyped-def]
    """A video row for ``path`` (facts made up, content hash from the name unless given): no probing needed."""
    import hashlib

    from vidground.index.records import NewVideo

    return store.add_video(
        NewVideo(
            content_hash=content_hash or hashlib.sha256(str(path).encode()).hexdigest(),
            path=str(path),
            size_bytes=path.stat().st_size if path.exists() else 0,
            duration_s=10.0,
            fps=25.0,
            width=64,
            height=48,
            probe={},
            tenant=tenant,
        )
    )
