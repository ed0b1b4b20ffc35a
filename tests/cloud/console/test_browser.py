"""End to end in a real headless Chromium (Debian's, driven by Playwright; no browser download).

The stack is real: the OSS emulator, Mosquitto, and the console subscribed to it. The
operator logs in, provisions a camera in the browser and copies its secret; a test camera
with that secret uploads a real H.264 fragmented MP4 and publishes signed ``status`` and
``segment.closed`` messages. The operator then sees the camera, plays the recording (the
``<video>`` element's ``currentTime`` must advance), finds a tampered recording flagged, and
deletes a recording. Every page is saved as a screenshot under ``artifacts/console/``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import oss2
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from playwright.sync_api import Browser, Page, expect, sync_playwright

from schemas import DeviceKeys
from simulator.broker import MosquittoProcess
from tests.cloud.console.camera import TestCamera, wire
from tests.cloud.console.conftest import OPERATOR, PASSWORD, Stack, StackFactory
from tests.cloud.console.media import fragmented_mp4
from tests.cloud.console.waiting import wait_until

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
    stack: Stack = stack_factory(
        mqtt={"enabled": True, "host": mosquitto.host, "port": mosquitto.port}
    )
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
