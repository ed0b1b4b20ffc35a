"""A camera in HLS mode, live in the console: the real agent (pattern source, spool, uploader,
STS credentials from the real responder over Mosquitto), the emulator, and the console
subscribed to the same broker."""

from __future__ import annotations

import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from cloud.console import Console, Ledger, RegistryDevices
from device.agent.agent import Agent
from simulator.emulator.handle import EmulatorHandle
from tests.cloud.console.conftest import console_settings, login
from tests.cloud.console.waiting import wait_until
from tests.device.stack import Stack
from tests.fixtures.broker import MosquittoFactory

DEVICE = "cam-hls-live"
PREFIX = f"videos/{DEVICE}/"


@pytest.fixture
def device_stack(
    mosquitto_factory: MosquittoFactory,
    make_emulator: Callable[..., EmulatorHandle],
    tmp_path: Path,
) -> Iterator[Stack]:
    stack = Stack(mosquitto_factory(), make_emulator(), tmp_path)
    yield stack
    stack.close()


@pytest.fixture
def console(device_stack: Stack) -> Iterator[Console]:
    master = device_stack.settings.registry.master_key
    assert master is not None
    settings = console_settings(
        device_stack.emulator,
        mqtt={"enabled": True, "url": device_stack.broker.url, "client_id": "console-hls"},
        registry={"master_key": master.get_secret_value()},
    )
    console = Console(
        settings,
        devices=RegistryDevices(device_stack.registry),
        ledger=Ledger(":memory:"),
        clock=time.time,
    )
    console.start()
    yield console
    console.stop()
    console.parts.ledger.close()


def _segments(playlist: str) -> list[str]:
    return [line for line in playlist.splitlines() if line and not line.startswith("#")]


def test_a_live_hls_session_is_listed_and_its_playlist_grows_until_final(
    device_stack: Stack, console: Console, tmp_path: Path
) -> None:
    settings = device_stack.agent_settings(
        DEVICE,
        tmp_path / "spool",
        source={"kind": "pattern", "duration_s": 8.0},
        output={
            "format": "hls",
            "mode": "vod",
            "stream": "front",
            "session": "S1",
            "frame_rate": 10,
            "target_duration_s": 0.5,
        },
    )
    console.parts.service.sync_cameras()
    assert console.wait_subscribed(10)
    agent = Agent(settings)
    recording = threading.Thread(target=agent.run, kwargs={"until_drained": True}, daemon=True)
    recording.start()
    bucket = device_stack.bucket()

    def stored_segments() -> list[str]:
        listing = bucket.list_objects_v2(PREFIX).object_list
        return sorted(o.key for o in listing if o.key.endswith(".ts"))

    assert wait_until(lambda: bool(stored_segments()), 30), "no segment stored"
    first_stored = time.monotonic()
    service = console.parts.service
    assert wait_until(lambda: service.in_progress(DEVICE) is not None, 10)
    assert time.monotonic() - first_stored <= 10

    with httpx.Client(base_url=console.url, timeout=10) as http:
        csrf = login(http)
        live = http.get(f"/api/cameras/{DEVICE}/live").json()["in_progress"]
        assert live["object_key"] == PREFIX + "front/S1.m3u8"
        assert live["live_id"] in http.get(f"/cameras/{DEVICE}").text
        assert live["live_id"] in http.get("/").text

        first = http.get(live["playlist"])
        assert first.status_code == 200, first.text
        assert "#EXT-X-ENDLIST" not in first.text
        assert "#EXT-X-PLAYLIST-TYPE:EVENT" in first.text
        listed = _segments(first.text)
        assert listed
        # Presigned links to the camera's own stored segments, in order.
        stored = stored_segments()
        for url in listed:
            assert "x-oss-signature=" in url
            path = urllib.parse.unquote(urllib.parse.urlsplit(url).path)
            assert any(path.endswith("/" + key) for key in stored), path
        segment = httpx.get(listed[0], timeout=10)
        assert segment.status_code == 200
        assert segment.content[:1] == b"\x47"  # an MPEG-TS packet

        assert wait_until(
            lambda: len(_segments(http.get(live["playlist"]).text)) > len(listed), 15
        ), "the live playlist did not grow"

        # A clip of the session so far: its stored segments, concatenated.
        clip = http.post(
            f"/api/cameras/{DEVICE}/clips",
            json={"from_ms": live["start_ms"], "to_ms": int(time.time() * 1000)},
            headers={"X-CSRF-Token": csrf},
        )
        assert clip.status_code == 200, clip.text
        assert clip.headers["content-type"].startswith("video/mp2t")
        assert clip.content[:1] == b"\x47"
        assert len(clip.content) % 188 == 0

        recording.join(60)
        assert not recording.is_alive()
        assert wait_until(lambda: service.in_progress(DEVICE) is None, 15), "still in progress"
        final = http.get(live["playlist"]).text
        assert final.rstrip().endswith("#EXT-X-ENDLIST")
        assert len(_segments(final)) == len(stored_segments())
        # The closed session is an ordinary recording again, played as before.
        (closed,) = http.get(f"/api/cameras/{DEVICE}/recordings").json()["items"]
        replay = http.get(f"/api/recordings/{closed['recording_id']}/playlist.m3u8")
        assert replay.status_code == 200
        assert len(_segments(replay.text)) == len(_segments(final))
