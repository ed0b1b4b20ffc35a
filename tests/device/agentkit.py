"""Helpers for agent tests: run an agent in a thread, watch its MQTT traffic, wait for states."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

from device.agent.agent import Agent
from schemas.events import SegmentClosed, SegmentOpened, Status
from schemas.keys import DeviceKeys
from schemas.messages import parse_event, parse_status
from schemas.protocol import verify_segment_closed, verify_segment_opened, verify_status
from schemas.topics import Topics
from tests.fixtures.broker import MqttProbe


def wait_until(predicate: Callable[[], bool], timeout: float = 20.0, what: str = "") -> None:
    """Poll a condition until it holds (fails the test after ``timeout``)."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        pause.wait(0.02)


def directory_stored(agent: Agent, segments: Path, suffixes: Collection[str] | None = None) -> bool:
    """Whether the agent stored every file of its directory source ``segments``.

    True once the directory holds no file (no file with one of ``suffixes``, when given), the
    spool is empty and the uploader idle.
    """
    left = [path for path in segments.iterdir() if suffixes is None or path.suffix in suffixes]
    return not left and agent.spool.stats().chunks == 0 and agent.uploader.idle.is_set()


@dataclass
class AgentRun:
    """An agent running ``run(until_drained=True)`` in a thread."""

    agent: Agent
    thread: threading.Thread = field(init=False)
    exit_code: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.thread = threading.Thread(
            target=lambda: self.exit_code.append(self.agent.run(until_drained=True)),
            daemon=True,
        )
        self.thread.start()

    def join(self, timeout: float = 60.0) -> int:
        self.thread.join(timeout)
        if self.thread.is_alive():
            self.agent.stop()
            self.thread.join(10)
            raise AssertionError("agent did not finish in time")
        return self.exit_code[0]


class Watcher:
    """Subscribes to a device's events and status and verifies their signatures."""

    def __init__(self, probe: MqttProbe, device_id: str, secret: str) -> None:
        self.probe = probe
        self.keys = DeviceKeys.from_secret(secret)
        self.topics = Topics("ossmedia")
        self.device_id = device_id
        probe.subscribe(self.topics.events(device_id))
        probe.subscribe(self.topics.status(device_id))

    def events(self) -> list[SegmentClosed]:
        return [e for e in self.all_events() if isinstance(e, SegmentClosed)]

    def opened(self) -> list[SegmentOpened]:
        return [e for e in self.all_events() if isinstance(e, SegmentOpened)]

    def all_events(self) -> list[SegmentClosed | SegmentOpened]:
        out: list[SegmentClosed | SegmentOpened] = []
        for message in self.probe.received(self.topics.events(self.device_id)):
            event = parse_event(message.payload)
            if isinstance(event, SegmentOpened):
                assert verify_segment_opened(self.keys, event), "event signature does not verify"
            else:
                assert isinstance(event, SegmentClosed)
                assert verify_segment_closed(self.keys, event), "event signature does not verify"
            out.append(event)
        return out

    def statuses(self) -> list[Status]:
        out = []
        for message in self.probe.received(self.topics.status(self.device_id)):
            status = parse_status(message.payload)
            if status.sig is not None:
                assert verify_status(self.keys, status), "status signature does not verify"
            out.append(status)
        return out
