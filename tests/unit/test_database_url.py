"""Database URLs: every PostgreSQL spelling becomes SQLAlchemy's psycopg 3 driver; passwords never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from vidground.errors import ConfigError
from vidground.index.sql.engine import database_url, make_engine, mask_url, normalise_url


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://me:pw@db:5432/vid", "postgresql+psycopg://me:pw@db:5432/vid"),
        ("postgres://me:pw@db/vid", "postgresql+psycopg://me:pw@db/vid"),  # Heroku's spelling
        ("postgresql+psycopg2://me@db/vid?sslmode=require", "postgresql+psycopg://me@db/vid?sslmode=require"),
        ("postgresql+psycopg://me@/vid?host=/run/pg", "postgresql+psycopg://me@/vid?host=%2Frun%2Fpg"),
        ("postgresql://me:p%40ss@db/vid", "postgresql+psycopg://me:p%40ss@db/vid"),  # quoted password kept quoted
    ],
)
def test_postgresql_urls_get_the_psycopg_driver(given: str, expected: str) -> None:
    assert normalise_url(given) == expected


def test_a_configured_url_is_normalised_without_starting_anything(tmp_path: Path) -> None:
    assert database_url("  postgres://me@db/vid ", tmp_path) == "postgresql+psycopg://me@db/vid"
    assert not (tmp_path / "postgres").exists()


@pytest.mark.parametrize("url", ["sqlite:///index.db", "mysql://root:hunter2@db/vid"])
def test_another_database_is_refused_naming_it(url: str) -> None:
    with pytest.raises(ConfigError, match=r"is not PostgreSQL; vidground needs PostgreSQL with pgvector") as caught:
        normalise_url(url)
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize("url", ["not a url", "postgresql://me:hunter2@db:notaport/vid"])
def test_an_unparseable_url_is_refused_without_echoing_it(url: str) -> None:
    with pytest.raises(ConfigError, match=r"^database URL: cannot parse it \(expected postgresql://") as caught:
        make_engine(url)
    assert "hunter2" not in str(caught.value)


def test_mask_hides_the_password_in_the_userinfo_and_the_query() -> None:
    masked = mask_url("postgresql://me:hunter2@db/vid?password=hunter3&sslmode=require")
    assert "hunter2" not in masked and "hunter3" not in masked
    assert masked.startswith("postgresql://me:***@db/vid?") and "sslmode=require" in masked


def test_unset_database_url_means_embedded_and_roots_data_dir_is_outside_home(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from vidground import settings as settings_module

    monkeypatch.delenv("VIDGROUND_DATABASE_URL", raising=False)
    monkeypatch.delenv("VIDGROUND_DATA_DIR", raising=False)
    monkeypatch.setattr(settings_module.os, "geteuid", lambda: 0)
    as_root = settings_module.Settings()
    assert as_root.database_url is None
    assert as_root.data_dir == Path("/var/lib/vidground")
    monkeypatch.setattr(settings_module.os, "geteuid", lambda: 1000)
    assert settings_module.Settings().data_dir == Path.home() / ".local" / "share" / "vidground"
