"""Property-based requests generated from the served OpenAPI schema (schemathesis): no input yields a 5xx.

Every operation gets generated path ids, query strings, JSON and multipart bodies, with a valid key of one tenant;
the app under test is the real one (real PostgreSQL, real storage folder, PyAV probing uploads) with the enqueue
fake of ``tests/api/conftest.py`` standing in for the broker.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

pytestmark = pytest.mark.slow


def test_no_generated_request_gets_a_server_error(
    client: TestClient, acme: dict[str, str], api_dirs: dict[str, Path]
) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15  # every route of the API is in the schema

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                  database=None)  # fmt: skip
        def no_server_error(case: Any) -> None:
            response = case.call(headers=acme)
            where = f"{case.method} {case.formatted_path}"
            if case.path == "/readyz":  # 503 is its answer while the broker is away (this app's broker is fake)
                assert response.status_code in (200, 503), f"{where}: {response.status_code}"
                return
            assert response.status_code < 500, f"{where}: {response.status_code} {response.text}"
            if response.status_code >= 400 and response.headers.get("content-type") == "application/json":
                body = response.json()
                assert set(body) == {"code", "message"} and body["message"], (where, body)  # the documented shape

        no_server_error()
    # No generated upload was a video: every one was refused and nothing of it stayed in storage.
    assert [p for p in api_dirs["videos"].rglob("*") if p.is_file()] == []
