"""``vidground keys create|list|revoke`` against a real database; the printed key works on the API."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import bearer
from vidground.cli import main
from vidground.index.sql.engine import make_engine
from vidground.keys import authenticate, webhook_secret
from vidground.settings import Settings


def test_keys_create_list_revoke(
    api_settings: Settings, client: TestClient, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VIDGROUND_DATABASE_URL", str(api_settings.database_url))

    assert main(["keys", "create", "--tenant", "acme", "--name", "ci"]) == 0
    created = capsys.readouterr()
    key = created.out.strip().splitlines()[-1]  # the last line of stdout is the key
    assert key.startswith("vg_") and key not in created.err
    assert client.get("/v1/videos", headers=bearer(key)).status_code == 200
    secret = created.err.split("webhook secret (verifies this key's job webhooks): ")[1].split()[0]
    engine = make_engine(str(api_settings.database_url))
    assert secret == webhook_secret(engine, authenticate(engine, key).id)  # what signs this key's webhooks
    engine.dispose()

    assert main(["keys", "list", "--format", "json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert (listed["tenant"], listed["name"], listed["revoked_at"]) == ("acme", "ci", None)
    assert key.startswith(listed["prefix"]) and key not in json.dumps(listed)

    assert main(["keys", "revoke", listed["prefix"]]) == 0
    capsys.readouterr()
    assert client.get("/v1/videos", headers=bearer(key)).status_code == 401
    assert main(["keys", "revoke", "vg_nothing"]) == 2
    assert "no API key" in capsys.readouterr().err
    assert main(["keys", "create", "--tenant", "bad name!"]) == 2
