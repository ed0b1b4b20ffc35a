"""The service-manager protocol against a fake ``NOTIFY_SOCKET``: READY, WATCHDOG, STOPPING."""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from device.agent.agent import Agent, Progress
from device.agent.notify import ServiceNotifier
from tests.device.agentkit import wait_until
from tests.device.stack import Stack
from tests.device.toml_out import write_camera_toml

REPO = Path(__file__).resolve().parents[2]


class FakeManager:
    """A datagram socket standing in for systemd; records each message with its arrival time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.messages: list[tuple[float, str]] = []
        # Called as each message arrives; what it returns is kept in ``observed``.
        self.probe: Callable[[], object] = lambda: None
        self.observed: list[tuple[str, object]] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._closed.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            seen = self.probe()
            with self._lock:
                self.messages.append((time.monotonic(), data.decode()))
                self.observed.append((data.decode(), seen))

    def received(self, key: str) -> list[float]:
        """Arrival times of messages holding ``key`` (``READY=1``, ``WATCHDOG=1`` ...)."""
        with self._lock:
            return [at for at, text in self.messages if key in text.split("\n")]

    def close(self) -> None:
        self._closed.set()
        self._thread.join(5)
        self.sock.close()


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[FakeManager]:
    fake = FakeManager(tmp_path / "notify.sock")
    yield fake
    fake.close()


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_environment_parsing() -> None:
    clock = FakeClock()
    env = {"NOTIFY_SOCKET": "/run/n.sock", "WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "42"}
    assert ServiceNotifier.from_environ(env, clock, 42).watchdog_interval_s == 2.0
    # The watchdog belongs to another process (a wrapper's): no keep-alives from here.
    assert ServiceNotifier.from_environ(env, clock, 43).watchdog_interval_s is None
    assert ServiceNotifier.from_environ({"WATCHDOG_USEC": "4000000"}, clock, 1).enabled is False
    bad = {"NOTIFY_SOCKET": "/run/n.sock", "WATCHDOG_USEC": "soon"}
    notifier = ServiceNotifier.from_environ(bad, clock, 1)
    assert notifier.enabled
    assert notifier.watchdog_interval_s is None


def test_keepalives_are_paced_at_half_the_period(manager: FakeManager) -> None:
    clock = FakeClock()
    notifier = ServiceNotifier(str(manager.path), 2.0, clock)
    for _ in range(5):  # a busy loop sends one keep-alive per second, not one per turn
        notifier.heartbeat()
    clock.now += 0.9
    notifier.heartbeat()
    clock.now += 0.2
    notifier.heartbeat()
    notifier.ready("up")
    wait_until(lambda: len(manager.messages) == 3, 10, "three datagrams")
    texts = [text for _, text in manager.messages]
    assert texts.count("WATCHDOG=1") == 2
    assert "READY=1\nSTATUS=up" in texts


def test_abstract_socket_address(tmp_path: Path) -> None:
    name = f"ossmedia-test-{os.getpid()}-{time.monotonic_ns()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(b"\0" + name.encode())
        sock.settimeout(10)
        ServiceNotifier(f"@{name}", None, time.monotonic).ready()
        assert sock.recv(100) == b"READY=1"


def test_unreachable_socket_is_not_fatal(tmp_path: Path) -> None:
    notifier = ServiceNotifier(str(tmp_path / "nobody-listens"), 1.0, time.monotonic)
    notifier.ready()
    notifier.heartbeat()
    notifier.stopping()


def test_ready_after_spool_open_and_keepalives_through_an_oss_outage(
    stack: Stack, manager: FakeManager, tmp_path: Path
) -> None:
    # OSS answers 503 to everything: uploads wait, the recording goes to the spool.
    stack.emulator.set_faults({"outages": [{"after_s": 0, "mode": "error"}]})
    spool = tmp_path / "spool"
    settings = stack.agent_settings(
        "cam-notify",
        spool,
        source={"kind": "pattern", "bitrate_bps": 1_000_000, "duration_s": None},
        oss={"client": "http"},
    )
    config = write_camera_toml(settings, tmp_path / "camera.toml")
    manager.probe = spool.is_dir
    env = {
        **os.environ,
        "NOTIFY_SOCKET": str(manager.path),
        "WATCHDOG_USEC": "600000",
        "PYTHONPATH": str(REPO),
    }
    child = subprocess.Popen(
        [sys.executable, "-m", "ossmedia_cli", "camera", "--config", str(config)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        wait_until(lambda: bool(manager.received("READY=1")), 60, "READY=1")
        # The spool directory existed when READY arrived (it does not before the agent opens it).
        assert [seen for text, seen in manager.observed if text.startswith("READY=1")] == [True]
        first = manager.received("READY=1")[0]
        assert all(at >= first for at in manager.received("WATCHDOG=1"))
        # Several seconds of outage: keep-alives keep coming at about 0.3 s intervals.
        wait_until(lambda: len(manager.received("WATCHDOG=1")) >= 12, 60, "keep-alives")
        beats = manager.received("WATCHDOG=1")
        assert max(b - a for a, b in itertools.pairwise(beats)) < 3.0
        assert stack.emulator.faults()["injected"], "uploads were not stuck behind the outage"
        child.send_signal(signal.SIGTERM)
        child.wait(60)
        wait_until(lambda: bool(manager.received("STOPPING=1")), 10, "STOPPING=1")
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
        assert child.stderr is not None
        child.stderr.close()


def test_keepalives_stop_when_the_main_loop_hangs(
    stack: Stack, manager: FakeManager, tmp_path: Path
) -> None:
    settings = stack.agent_settings(
        "cam-hang",
        tmp_path / "spool",
        source={"kind": "pattern", "bitrate_bps": 500_000, "duration_s": None},
        oss={"client": "http"},
    )
    agent = Agent(settings)
    notifier = ServiceNotifier(str(manager.path), 0.4, time.monotonic)
    hang = threading.Event()
    release = threading.Event()

    def progress(_: Progress) -> None:  # runs on the main loop's thread
        if hang.is_set():
            release.wait(60)

    thread = threading.Thread(
        target=agent.run,
        kwargs={"progress": progress, "progress_interval_s": 0.1, "heartbeat": notifier.heartbeat},
        daemon=True,
    )
    thread.start()
    try:
        wait_until(lambda: len(manager.received("WATCHDOG=1")) >= 4, 30, "keep-alives")
        hang.set()
        hung_at = time.monotonic()
        time.sleep(2.0)  # a silence can only be observed over a while
        late = [at for at in manager.received("WATCHDOG=1") if at > hung_at + 0.5]
        assert late == [], "keep-alives continued while the main loop hung"
        assert thread.is_alive()
    finally:
        release.set()
        agent.stop()
        thread.join(60)
