"""End to end in a real headless Chromium (Debian's, driven by Playwright; no browser download).

The stack is real: the OSS emulator, Mosquitto, and the console subscribed to it. The
operator logs in, provisions a camera in the browser and copies its secret; a test camera
with that secret uploads a real H.264 fragmented MP4 and publishes signed ``status`` and
``segment.closed`` messages. The operator then sees the camera, plays the recording (the
``<video>`` element's ``currentTime`` must advance), finds a tampered recording flagged, and
deletes a recording. A second journey records an AES-128 encrypted HLS stream with the
camera's own code (``HlsStream``, keys delivered by ``MqttKeyDelivery`` over Mosquitto) and
plays it in the browser through hls.js. Every page is saved as a screenshot under
``artifacts/console/``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import oss2
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from playwright.sync_api import Browser, Page, expect, sync_playwright

from cloud.console.player_cors import allow_console, console_origins
from device.clock import SystemClock
from device.hls import EncryptionOptions, HlsOptions, HlsStream, OssBucketSink
from device.hls.delivery import MqttKeyDelivery
from device.mqtt import MqttLink
from device.settings import BrokerSettings
from schemas import DeviceKeys, Topics
from simulator.broker import MosquittoProcess
from simulator.emulator.handle import EmulatorHandle
from tests.cloud.console.camera import TestCamera, wire
from tests.cloud.console.conftest import OPERATOR, PASSWORD, Stack, StackFactory
from tests.cloud.console.media import fragmented_mp4
from tests.cloud.console.waiting import wait_until
from tests.device.hls.media import encode_video

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[3] / "artifacts" / "console"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    yield tab
    context.close()


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def publish(broker: MosquittoProcess, *messages: tuple[str, bytes, bool]) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="e2e-camera")
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        for topic, payload, retain in messages:
            client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)
    finally:
        client.loop_stop()
        client.disconnect()


def test_operator_journey(
    stack_factory: StackFactory,
    mosquitto: MosquittoProcess,
    root_bucket: oss2.Bucket,
    page: Page,
) -> None:
    stack: Stack = stack_factory(mqtt={"enabled": True, "url": mosquitto.url})
    assert stack.console.wait_subscribed(10)
    base = stack.url

    # Every page needs a login; the login form brings the operator back.
    page.goto(base + "/devices")
    expect(page).to_have_url(base + "/login?next=%2Fdevices")
    shot(page, "01-login")
    page.fill("input[name=username]", OPERATOR)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(base + "/devices")

    # Provision the camera in the browser; its secret is shown exactly once.
    page.fill("input[name=device_id]", "cam-e2e")
    page.click("text=Provision")
    secret = page.inner_text("#secret")
    assert len(secret) == 43
    shot(page, "02-device-secret")
    page.goto(base + "/devices")
    assert secret not in page.content()
    shot(page, "03-devices")

    # The camera records: a real fragmented MP4 uploaded, then reported over MQTT.
    camera = TestCamera("cam-e2e", DeviceKeys.from_secret(secret), root_bucket, "videos/cam-e2e/")
    now = int(time.time() * 1000)
    video = fragmented_mp4(width=160, height=120)
    good = camera.record("good.mp4", video, now - 300_000, now - 296_000)
    tampered = camera.record("tampered.mp4", video, now - 200_000, now - 196_000)
    status = camera.status(
        now,
        spool_bytes=4096,
        oldest_unsent_age_ms=1500,
        last_upload_ms=now - 1000,
        cred_expires_at_ms=now + 900_000,
        clock_offset_ms=12,
        uploaded_bytes=2 * len(video),
    )
    publish(
        mosquitto,
        (camera.status_topic(), wire(status), True),
        (camera.events_topic(), wire(good), False),
        (camera.events_topic(), wire(tampered), False),
    )
    assert wait_until(lambda: stack.ledger.camera("cam-e2e").recordings == 2)  # type: ignore[union-attr]
    # Someone overwrites the second object with other bytes of the same length.
    root_bucket.put_object(tampered.key, bytes(reversed(video)))

    # The fleet overview shows the camera online with its status.
    page.goto(base + "/")
    row = page.locator('tr[data-device="cam-e2e"]')
    expect(row).to_contain_text("online")
    expect(row).to_contain_text("4.0 KiB")
    shot(page, "04-fleet")

    # The camera's day: both recordings on the timeline and in the list.
    row.locator("a", has_text="cam-e2e").click()
    expect(page.locator("tr.recording")).to_have_count(2)
    expect(page.locator("figure.timeline rect.rec")).to_have_count(2)
    shot(page, "05-camera")

    # Open the first recording: the video really plays from the presigned URL.
    page.locator(f'tr[data-recording="{good.event_id}"] a', has_text="Play").click()
    expect(page).to_have_url(base + f"/recordings/{good.event_id}")
    src = page.get_attribute("#player", "src") or ""
    assert src.startswith(stack.emulator.oss_endpoint)
    assert "x-oss-signature=" in src
    page.evaluate(
        "() => { const v = document.getElementById('player'); v.muted = true; return v.play(); }"
    )
    page.wait_for_function(
        "() => { const v = document.getElementById('player'); "
        "return v.currentTime > 0.5 && !v.error; }"
    )
    playing = page.evaluate(
        "() => { const v = document.getElementById('player'); "
        "return [v.currentTime, v.duration, v.videoWidth]; }"
    )
    assert playing[0] > 0.5
    assert playing[1] == pytest.approx(4.0, abs=0.5)
    assert playing[2] == 160
    shot(page, "06-recording-playing")
    page.click("text=Check against OSS now")
    expect(page.locator("#verification")).to_have_text("verified")
    shot(page, "07-recording-verified")

    # The tampered recording is flagged, not verified.
    page.goto(base + f"/recordings/{tampered.event_id}")
    page.click("text=Check against OSS now")
    expect(page.locator("#verification")).to_have_text("flagged")
    expect(page.locator("main")).to_contain_text("CRC-64 mismatch")
    shot(page, "08-recording-flagged")
    flagged = stack.ledger.recording(tampered.event_id)
    assert flagged is not None
    assert flagged.verification.value == "flagged"

    # Delete it, after the confirmation page.
    page.click("text=Delete…")
    expect(page.locator("h1")).to_have_text("Delete this recording?")
    shot(page, "09-delete-confirm")
    page.click("#confirm-delete")
    expect(page).to_have_url(base + f"/cameras/cam-e2e?day={page.url.split('day=')[-1]}")
    expect(page.locator("tr.recording")).to_have_count(1)
    shot(page, "10-camera-after-delete")
    assert not root_bucket.object_exists(tampered.key)
    assert root_bucket.object_exists(good.key)

    # Retention is applied as a lifecycle rule.
    page.goto(base + "/retention")
    page.fill("input[name=days]", "30")
    page.click("text=Save")
    expect(page.locator("main")).to_contain_text("ossmedia-fleet")
    shot(page, "11-retention")
    rules = root_bucket.get_bucket_lifecycle().rules
    assert {(r.id, r.expiration.days) for r in rules} >= {("ossmedia-fleet", 30)}
    root_bucket.delete_bucket_lifecycle()


def _login(page: Page, base: str, target: str) -> None:
    page.goto(base + target)
    page.fill("input[name=username]", OPERATOR)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(base + target)


def test_encrypted_hls_recording_plays(
    stack_factory: StackFactory,
    console_emulator: EmulatorHandle,
    mosquitto: MosquittoProcess,
    root_bucket: oss2.Bucket,
    page: Page,
) -> None:
    stack: Stack = stack_factory(mqtt={"enabled": True, "url": mosquitto.url})
    # The players read the bucket from the browser: the bucket's own CORS rule allows it.
    allow_console(root_bucket, console_origins(stack.url))
    assert stack.console.wait_subscribed(10)
    camera = stack.camera("cam-hls")

    # The camera's own HLS writer, its keys delivered over its MQTT link.
    link = MqttLink(BrokerSettings.model_validate({"url": mosquitto.url}), client_id="cam-hls")
    link.start()
    try:
        assert link.wait_connected(10)
        delivery = MqttKeyDelivery(
            link,
            device_id="cam-hls",
            keys=camera.keys,
            topics=Topics("ossmedia"),
            clock=SystemClock(),
        )
        stream = HlsStream(OssBucketSink(root_bucket), key_delivery=delivery)
        stream.open(
            HlsOptions(
                prefix="videos/cam-hls/",
                stream="front",
                session="S1",
                mode="vod",
                frame_rate=10,
                target_duration_s=1.0,
                encryption=EncryptionOptions(device_id="cam-hls", rotate_every_segments=2),
            )
        )
        started = int(time.time() * 1000)
        for unit in encode_video(60, fps=10, gop=10):
            stream.write(video=unit.data, pts=unit.pts)
        assert stream.close()
    finally:
        link.stop()
    assert delivery.delivered == 3  # 6 segments, a new key every 2

    # Keys reached the console over MQTT; the playlist is reported like any object.
    playlist_key = "videos/cam-hls/front/S1.m3u8"
    stored = root_bucket.get_object(playlist_key).read()
    assert b"METHOD=AES-128" in stored
    crc = int(root_bucket.head_object(playlist_key).server_crc)
    event = camera.segment(playlist_key, len(stored), crc, started, started + 6000)
    publish(mosquitto, (camera.events_topic(), wire(event), False))
    assert wait_until(lambda: stack.ledger.recording(event.event_id) is not None)
    assert stack.console.parts.ingestor.counts().get("stored") == 4  # 3 keys, 1 recording

    segment_origins: set[str] = set()
    key_paths: list[str] = []

    def seen(response: object) -> None:
        url = urlsplit(getattr(response, "url", ""))
        if url.path.endswith(".ts"):
            assert "x-oss-signature=" in url.query
            segment_origins.add(f"{url.scheme}://{url.netloc}")
        if url.path.startswith("/api/keys/"):
            assert getattr(response, "status", 0) == 200
            key_paths.append(url.path)

    page.on("response", seen)
    _login(page, stack.url, f"/recordings/{event.event_id}")
    # hls.js feeds the element through Media Source Extensions, not a URL of its own; it
    # attaches once its script has run, which may be after the page has loaded.
    page.wait_for_function(
        "() => (document.querySelector('#player')?.src || '').startsWith('blob:')",
        timeout=15_000,
    )
    assert (page.get_attribute("#player", "src") or "").startswith("blob:")
    page.evaluate(
        "() => { const v = document.getElementById('player'); v.muted = true; return v.play(); }"
    )
    page.wait_for_function(
        "() => { const v = document.getElementById('player'); "
        "return v.currentTime > 2.5 && !v.error; }",
        timeout=30_000,
    )
    playing = page.evaluate(
        "() => { const v = document.getElementById('player'); "
        "return [v.currentTime, v.duration, v.videoWidth, v.getAttribute('data-hls-error')]; }"
    )
    shot(page, "12-hls-recording-playing")
    assert playing[0] > 2.5
    assert playing[1] == pytest.approx(6.0, abs=0.5)
    assert playing[2] == 160
    assert playing[3] is None
    # Segments came straight from OSS (presigned), keys from the console.
    assert segment_origins == {console_emulator.oss_endpoint.rstrip("/")}
    assert key_paths
    assert all(p.startswith("/api/keys/cam-hls/") for p in key_paths)
