"""``vidground.broker``: the configured Redis as given, else a real embedded Valkey started, used and stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from vidground import broker
from vidground.errors import ConfigError
from vidground.settings import Settings


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    broker.release_broker(tmp_path)


def test_configured_url_is_used_and_nothing_starts(tmp_path: Path) -> None:
    settings = Settings(redis_url="redis://cache.internal:6380/2", data_dir=tmp_path)

    assert broker.broker_url(settings) == "redis://cache.internal:6380/2"
    assert not (tmp_path / "valkey").exists()


def test_embedded_valkey_starts_answers_and_stops(data_dir: Path) -> None:
    import redis

    url = broker.broker_url(Settings(data_dir=data_dir))  # redis_url not set: its default does not count

    assert url.startswith("redis://127.0.0.1:") and url.endswith("/0")
    client = redis.Redis.from_url(url)
    assert client.ping() is True
    pid = broker.embedded_broker_pid(data_dir)
    assert pid is not None
    assert broker.broker_url(Settings(data_dir=data_dir)) == url  # the same server, not a second one
    os.kill(pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the whole group: only the owner may stop the server
    assert client.ping() is True

    broker.release_broker(data_dir)

    assert broker.embedded_broker_pid(data_dir) is None
    with pytest.raises(redis.exceptions.ConnectionError):
        client.ping()


def test_a_message_round_trips_through_the_embedded_valkey(data_dir: Path) -> None:
    from kombu import Connection

    with Connection(broker.broker_url(Settings(data_dir=data_dir))) as conn:
        q = conn.SimpleQueue("vidground-test")
        q.put({"job_id": 7})
        message = q.get(timeout=5)
        message.ack()
        q.close()

    assert message.payload == {"job_id": 7}


def test_valkey_left_by_a_killed_owner_is_replaced(tmp_path: Path) -> None:
    code = (
        "import os, signal, sys; from pathlib import Path; from vidground import broker; "
        "from vidground.settings import Settings; print(broker.broker_url(Settings(data_dir=Path(sys.argv[1]))), "
        "flush=True); os.kill(os.getpid(), signal.SIGKILL)"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], env=env, timeout=30, check=False)
    orphan = broker.embedded_broker_pid(tmp_path)
    assert orphan is not None  # its owner died without stopping it

    try:
        broker.broker_url(Settings(data_dir=tmp_path))
        replacement = broker.embedded_broker_pid(tmp_path)
        assert replacement is not None and replacement != orphan
        assert not _alive(orphan)
    finally:
        broker.release_broker(tmp_path)
        if _alive(orphan):
            os.kill(orphan, signal.SIGKILL)


def test_a_second_live_owner_is_refused(data_dir: Path) -> None:
    broker.broker_url(Settings(data_dir=data_dir))
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    owner_file = data_dir / "valkey" / "owner.pid"
    try:
        owner_file.write_text(str(other.pid))  # as if that process had started the running server
        with broker._lock:
            broker._embedded.clear()  # this process forgets its own server

        with pytest.raises(ConfigError, match=rf"already run by process {other.pid}.*VIDGROUND_REDIS_URL"):
            broker.broker_url(Settings(data_dir=data_dir))
    finally:
        other.kill()
        other.wait()
        pid = broker.embedded_broker_pid(data_dir)
        if pid is not None:
            os.kill(pid, signal.SIGTERM)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
