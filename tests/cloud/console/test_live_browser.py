"""The live edge in a real headless Chromium, against demo-like services.

Mosquitto, the OSS + STS emulator, the device registry and the credential responder run as
``ossmedia demo`` runs them (:func:`simulator.fleet.services.local_services`), with the web
console beside them and two real camera agents recording H.264 test-pattern video as
fragmented MP4 into appendable objects (one fragment a second). The bucket is reached
through a CORS front, as a bucket CORS rule does on OSS, so hls.js may read byte ranges.

Within 30 s of the cameras starting the camera page lists the recording in progress; it
plays; without a reload, 20 s later its ``currentTime`` has passed the first playable edge
and ``seekable.end`` has grown; "Go live" lands within 6 s of the newest stored fragment.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from cloud.console import Console, ConsoleSettings, RegistryDevices
from device.agent.agent import Agent
from device.settings import AgentSettings
from simulator.broker import DEFAULT_CONSOLE_USER
from simulator.fleet.camera import ChunkLog, LoggingSource
from simulator.fleet.services import LocalServices, local_services
from simulator.video import PatternSettings, encode_test_pattern
from tests.cloud.console.conftest import OPERATOR, PASSWORD, PASSWORD_HASH, SESSION_SECRET
from tests.cloud.console.cors import cors_front
from tests.cloud.console.test_browser import browser, page, shot

__all__ = ["browser", "page"]  # the fixtures, shared with the other browser journeys

CAMERAS = ("cam-live-a", "cam-live-b")
RECORD_S = 90.0


def _agent(services: LocalServices, device_id: str, spool: Path) -> Agent:
    settings = AgentSettings.model_validate(
        {
            "device_id": device_id,
            "secret": services.provision(device_id),
            "broker": {"url": services.urls.broker_url, "username": device_id,
                       "reconnect_initial_s": 0.2, "reconnect_max_s": 2.0},
            "credentials": {"request_timeout_s": 5.0, "retry_initial_s": 0.2, "retry_max_s": 2.0},
            "spool": {"dir": str(spool / device_id), "chunk_bytes": 64 * 1024,
                      "chunk_max_age_s": 0.2},
            "upload": {"rollover_s": 3600, "status_interval_s": 30.0},
        }
    )  # fmt: skip
    video = PatternSettings(width=160, height=120, fps=10, bitrate=200_000, gop_s=1.0)
    source = LoggingSource(
        device_id,
        seed=1,
        bitrate_bps=200_000,
        chunk_bytes=64 * 1024,
        duration_s=RECORD_S,
        log=ChunkLog(),
        stream=encode_test_pattern(device_id, RECORD_S, video),
        piece_interval_s=1.0,
    )
    return Agent(settings, source=source)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[str, list[Agent]]]:
    with local_services(tmp_path) as services:
        allowed: list[str] = []
        with cors_front(services.emulator.oss_endpoint, allowed) as oss_front:
            emulator = services.emulator
            data: dict[str, Any] = {
                "http": {"host": "127.0.0.1", "port": 0},
                "session": {"secret": SESSION_SECRET},
                "operators": [{"username": OPERATOR, "password_hash": PASSWORD_HASH}],
                "mqtt": {"url": services.urls.broker_url, "username": DEFAULT_CONSOLE_USER},
                "oss": {"endpoint": oss_front, "bucket": emulator.bucket,
                        "region": emulator.region, "access_key_id": emulator.access_key_id,
                        "access_key_secret": emulator.access_key_secret},
                "ledger": {"path": str(tmp_path / "console.sqlite3")},
                "reconcile": {"enabled": False},
                "registry": {"url": services.settings.registry.url},
            }  # fmt: skip
            console = Console(
                ConsoleSettings.model_validate(data), devices=RegistryDevices(services.registry)
            )
            url = console.start()
            allowed.append(url.rstrip("/"))
            assert console.wait_subscribed(15)
            agents = [_agent(services, d, tmp_path / "spool") for d in CAMERAS]
            runs = [threading.Thread(target=a.run, daemon=True) for a in agents]
            try:
                for run in runs:
                    run.start()
                yield url.rstrip("/"), agents
            finally:
                for agent in agents:
                    agent.stop()
                for run in runs:
                    run.join(60)
                console.stop()


def _video(page: Page, expression: str) -> float:
    value = page.evaluate(
        f"() => {{ const v = document.getElementById('player'); return {expression}; }}"
    )
    return float(value)


SEEKABLE_END = "v.seekable.length ? v.seekable.end(v.seekable.length - 1) : 0"


def test_a_recording_in_progress_plays_follows_the_live_edge_and_goes_live(
    demo: tuple[str, list[Agent]], page: Page
) -> None:
    base, _ = demo
    started = time.monotonic()
    page.goto(base + "/login")
    page.fill("input[name=username]", OPERATOR)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")

    for device_id in CAMERAS:
        while True:
            page.goto(f"{base}/cameras/{device_id}")
            if page.locator("#in-progress").count():
                break
            assert time.monotonic() - started < 30, f"{device_id}: no recording in progress"
            page.wait_for_timeout(500)
    shot(page, "20-camera-recording-now")
    page.goto(base + "/")
    assert page.locator("td.in-progress a").count() == len(CAMERAS)
    shot(page, "21-fleet-recording-now")

    page.goto(f"{base}/cameras/{CAMERAS[0]}")
    page.click("#in-progress a.button")
    page.wait_for_function(
        "() => { const v = document.getElementById('player');"
        " return v.getAttribute('data-hls-error') || v.currentTime > 0.5; }",
        timeout=30_000,
    )
    assert page.get_attribute("#player", "data-hls-error") is None
    first_edge = _video(page, SEEKABLE_END)
    assert first_edge > 0
    shot(page, "22-live-playing")

    page.wait_for_timeout(20_000)  # watching, no reload
    assert page.get_attribute("#player", "data-hls-error") is None
    assert _video(page, "v.currentTime") > first_edge
    edge = _video(page, SEEKABLE_END)
    assert edge > first_edge + 5  # the playlist grew with the recording

    page.click("#go-live")
    page.wait_for_function(
        "() => { const v = document.getElementById('player');"
        f" const end = {SEEKABLE_END}; return end - v.currentTime < 6; }}",
        timeout=10_000,
    )
    lag = _video(page, SEEKABLE_END) - _video(page, "v.currentTime")
    assert 0 <= lag < 6
    shot(page, "23-live-edge")
