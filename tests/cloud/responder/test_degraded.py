"""Dependencies failing while the responder runs: Redis stopped mid-run, an STS black hole.

Real Redis (stopped and restarted on its port), real Mosquitto, the real STS emulator.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cloud.protocol_client import Keys, ProtocolClient, error_signature_ok, make_request
from tests.cloud.responder.harness import LiveFactory
from tests.fixtures.redis import RedisServer

DEADLINE_S = 20.0


def _get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return int(resp.status), bytes(resp.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), bytes(exc.read())


def _wait_health(port: int, status: int) -> dict[str, Any]:
    deadline = time.monotonic() + DEADLINE_S
    while True:
        code, body = _get(port, "/healthz")
        if code == status:
            doc: dict[str, Any] = json.loads(body)
            return doc
        assert time.monotonic() < deadline, (code, body)
        time.sleep(0.05)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[list[RedisServer]]:
    """A Redis of this test's own (a list: the test replaces it when it restarts it)."""
    servers = [RedisServer(tmp_path / "redis")]
    yield servers
    servers[-1].stop()


def test_redis_stopped_mid_run_gives_retryable_answers_degraded_health_and_recovers(
    live_factory: LiveFactory,
    broad_role: str,
    client: ProtocolClient,
    own_redis: list[RedisServer],
    tmp_path: Path,
) -> None:
    server = own_redis[0]
    live = live_factory(
        role_arn=broad_role,
        state={"url": server.url},
        service={"health_interval_s": 0.2},
    )
    http = live.responder.http
    assert http is not None
    keys = Keys.from_secret(live.provision("cam-redis"))
    assert client.ask("cam-redis", make_request(keys, "cam-redis")).doc["ok"] is True
    assert _wait_health(http.port, 200)["dependencies"]["state"] == {"ok": True}

    server.stop()
    reply = client.ask("cam-redis", make_request(keys, "cam-redis")).doc
    assert reply["ok"] is False
    assert reply["error"]["code"] == "unavailable"
    assert reply["error"]["retry_after_ms"] == 3000
    assert error_signature_ok(keys, reply)
    health = _wait_health(http.port, 503)
    assert health["status"] == "degraded"
    assert health["broker_connected"] is True
    assert health["dependencies"]["state"]["ok"] is False
    _, metrics = _get(http.port, "/metrics")
    text = metrics.decode()
    assert 'ossmedia_responder_dependency_errors_total{dependency="state"}' in text
    assert 'ossmedia_responder_dependency_up{dependency="state"} 0.0' in text
    assert 'ossmedia_responder_requests_total{outcome="unavailable"} 1.0' in text
    assert "_created" not in text

    # Redis back on the same port: health and answers recover without a restart.
    own_redis.append(RedisServer(tmp_path / "redis-again", port=server.port))
    assert _wait_health(http.port, 200)["status"] == "ok"
    assert client.ask("cam-redis", make_request(keys, "cam-redis")).doc["ok"] is True


class BlackHole:
    """A TCP server that accepts connections and never answers."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port: int = self._sock.getsockname()[1]
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        self._sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._held.append(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for conn in self._held:
            conn.close()
        self._sock.close()


@pytest.fixture
def black_hole() -> Iterator[BlackHole]:
    hole = BlackHole()
    yield hole
    hole.close()


def test_an_sts_black_hole_is_answered_within_the_deadline(
    live_factory: LiveFactory, client: ProtocolClient, black_hole: BlackHole
) -> None:
    # Four attempts of 3 s each would take 12 s, beyond the camera's 10 s request timeout.
    live = live_factory(
        sts={
            "endpoint": f"http://127.0.0.1:{black_hole.port}",
            "timeout_s": 3.0,
            "attempts": 4,
            "deadline_s": 2.0,
        },
        check_sts=False,
    )
    keys = Keys.from_secret(live.provision("cam-hole"))
    started = time.monotonic()
    reply = client.ask("cam-hole", make_request(keys, "cam-hole")).doc
    elapsed = time.monotonic() - started
    assert reply["ok"] is False
    assert reply["error"]["code"] == "sts_unavailable"
    assert elapsed < 2.0 + 2.5, elapsed  # the deadline plus slack for a loaded machine
    sts = live.responder.metrics.sts_latency.collect()[0]
    count = next(s.value for s in sts.samples if s.name.endswith("_count"))
    assert count >= 1
