"""``ossmedia console`` drains on SIGTERM: new connections are refused, the request in flight
finishes, the MQTT session is closed cleanly, and the process exits within its shutdown
timeout even when a request would take longer."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from cloud.registry import new_master_key
from simulator.broker import MosquittoProcess
from simulator.emulator.handle import EmulatorHandle, running_emulator
from tests.cloud.console.conftest import PASSWORD_HASH, login

WAIT_S = 30.0


@pytest.fixture
def slow_emulator() -> Iterator[EmulatorHandle]:
    """An emulator of its own: the tests slow one operation down."""
    with running_emulator(access_log=False) as handle:
        yield handle


def _config(
    tmp_path: Path, emulator: EmulatorHandle, broker: MosquittoProcess, timeout: int
) -> Path:
    (tmp_path / "oss.secret").write_text(emulator.access_key_secret + "\n")
    config = tmp_path / "console.toml"
    config.write_text(
        f"""
[http]
port = 0
shutdown_timeout_s = {timeout}
[[operators]]
username = "operator"
password_hash = "{PASSWORD_HASH}"
[mqtt]
url = "mqtt://{broker.host}:{broker.port}"
client_id = "console-under-test"
[oss]
endpoint = "{emulator.oss_endpoint}"
bucket = "{emulator.bucket}"
region = "{emulator.region}"
access_key_id = "{emulator.access_key_id}"
access_key_secret_file = "{tmp_path / "oss.secret"}"
[ledger]
path = "{tmp_path / "ledger.db"}"
[registry]
url = "sqlite://{tmp_path / "registry.db"}"
[reconcile]
enabled = false
"""
    )
    return config


class _Console:
    def __init__(self, config: Path) -> None:
        env = {**os.environ, "OSSMEDIA_MASTER_KEY": new_master_key()}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ossmedia_cli", "console", "--config", str(config)],
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert self.proc.stderr is not None
        line = self.proc.stderr.readline()
        assert "serving on http://127.0.0.1:" in line, line
        self.url = line.rsplit(" ", 1)[1].strip()
        self.log: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.log.append(line)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self._reader.join(10)
        if self.proc.stderr is not None:
            self.proc.stderr.close()


def _wait(condition: object, timeout_s: float = WAIT_S) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def _refused(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
    except OSError:
        return True
    return False


def _slow_retention(emulator: EmulatorHandle, seconds: float) -> None:
    emulator.set_faults(
        {"rules": [{"operations": ["GetBucketLifecycle"], "latency_ms": seconds * 1000}]}
    )


def _set_retention(http: httpx.Client, csrf: str) -> httpx.Response:
    # Setting the fleet retention reads the bucket's lifecycle rules from OSS, then writes them.
    return http.put("/api/retention", json={"days": 30}, headers={"X-CSRF-Token": csrf})


def _delayed(emulator: EmulatorHandle) -> int:
    per_op = emulator.stats().get("faults", {}).get("GetBucketLifecycle", {})
    return int(per_op.get("delayed", 0))


def test_sigterm_finishes_the_request_in_flight_and_closes_the_mqtt_session(
    tmp_path: Path, slow_emulator: EmulatorHandle, mosquitto: MosquittoProcess
) -> None:
    console = _Console(_config(tmp_path, slow_emulator, mosquitto, timeout=30))
    try:
        assert _wait(lambda: "console-under-test" in mosquitto.log_tail(200))
        with httpx.Client(base_url=console.url, timeout=WAIT_S) as http:
            csrf = login(http, "operator")
            _slow_retention(slow_emulator, 3)
            replies: list[httpx.Response] = []
            slow = threading.Thread(target=lambda: replies.append(_set_retention(http, csrf)))
            slow.start()
            assert _wait(lambda: _delayed(slow_emulator) == 1)

            console.proc.send_signal(signal.SIGTERM)

            assert _wait(lambda: _refused(console.url), timeout_s=2.5)
            assert slow.is_alive(), "the request in flight did not last until the stop"
            slow.join(WAIT_S)
        assert [r.status_code for r in replies] == [200]
        assert console.proc.wait(WAIT_S) == 0, "".join(console.log)
        assert "Client console-under-test disconnected" in mosquitto.log_tail(200)
    finally:
        console.close()


def test_a_request_longer_than_the_shutdown_timeout_does_not_hold_the_exit(
    tmp_path: Path, slow_emulator: EmulatorHandle, mosquitto: MosquittoProcess
) -> None:
    console = _Console(_config(tmp_path, slow_emulator, mosquitto, timeout=1))
    try:
        with httpx.Client(base_url=console.url, timeout=WAIT_S) as http:
            csrf = login(http, "operator")
            _slow_retention(slow_emulator, 60)
            replies: list[httpx.Response] = []
            slow = threading.Thread(
                target=lambda: replies.append(_set_retention(http, csrf)), daemon=True
            )
            slow.start()
            assert _wait(lambda: _delayed(slow_emulator) == 1)
            started = time.monotonic()

            console.proc.send_signal(signal.SIGTERM)

            code = console.proc.wait(WAIT_S)
            took = time.monotonic() - started
            slow.join(WAIT_S)
        # Cancelled at the timeout: an error answer, never the success of an unfinished call.
        assert [r.status_code for r in replies] == [500]
        assert code == 0, "".join(console.log)
        assert took < 8, f"the console took {took:.1f} s with a 1 s shutdown timeout"
        assert not psutil.pid_exists(console.proc.pid) or (
            psutil.Process(console.proc.pid).status() == psutil.STATUS_ZOMBIE
        )
    finally:
        console.close()
