"""An operator's first hour, in real Chromium against real services, without a terminal.

Mosquitto, the OSS + STS emulator, the responder and the console run as they do in a
deployment, sharing one device registry. The operator signs in with the keyboard, provisions
``cam-journey``, downloads its ``camera.toml`` and starts ``ossmedia camera`` with it (the
camera adds only its own ``[spool]``, ``[source]`` and ``[upload]`` sections; nothing the
console wrote is changed). The fleet page, opened before the camera starts and never
reloaded, shows it come online and its recording in progress, which plays (hls.js over byte
ranges of the appendable object); once the camera closes it, the camera page, not reloaded,
lists the recording, which plays; revoking the camera in the console stops it with exit
status 3 and the pages say so.

Every step is checked and saved as a screenshot at 1280 px and at 390 px (a phone): nothing
may overflow the page sideways, leave its table row or overlap another control. Screenshots go
to ``$OSSMEDIA_TEST_ARTIFACTS/console-journey`` (a temporary directory when unset).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import oss2
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from pydantic import SecretStr

from cloud.console.ledger import CameraState
from cloud.console.player_cors import allow_console, console_origins
from cloud.responder.app import Responder, build_responder
from cloud.settings import BrokerSettings as ResponderBroker
from cloud.settings import (
    GrantSettings,
    Limits,
    RegistrySettings,
    ResponderSettings,
    ServiceSettings,
    StsSettings,
)
from simulator.broker import MosquittoProcess
from simulator.emulator.handle import EmulatorHandle, running_emulator
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
WIDE = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
LIVE_S = 10  # how soon an open page must show what changed

# Problems of the page as laid out now: sideways overflow of the page, table cells that do
# not span their row, content that leaves its row, and visible controls that overlap.
LAYOUT_PROBLEMS = """() => {
  const problems = [];
  const doc = document.documentElement;
  if (doc.scrollWidth > doc.clientWidth + 1)
    problems.push(`page is ${doc.scrollWidth}px wide in a ${doc.clientWidth}px window`);
  const name = (el) => `${el.tagName.toLowerCase()} "${(el.textContent || el.value || "")
    .trim().slice(0, 30)}"`;
  const shown = (el) => { const b = el.getBoundingClientRect(); return b.width > 0 && b.height > 0; };
  for (const row of document.querySelectorAll("tr")) {
    const r = row.getBoundingClientRect();
    // Every cell spans its row, so the row's lines run under all of them.
    for (const cell of row.children) {
      const c = cell.getBoundingClientRect();
      if (Math.abs(c.top - r.top) > 1 || Math.abs(c.bottom - r.bottom) > 1)
        problems.push(`a cell of row "${row.textContent.trim().slice(0, 20)}" does not span it`);
    }
    for (const el of row.querySelectorAll("a, button, input, .badge")) {
      if (!shown(el)) continue;
      const b = el.getBoundingClientRect();
      if (b.top < r.top - 1 || b.bottom > r.bottom + 1 || b.left < r.left - 1 || b.right > r.right + 1)
        problems.push(`${name(el)} lies outside its table row`);
    }
  }
  const controls = [...document.querySelectorAll(
    "a, button, input:not([type=hidden]), textarea, select, .badge, h1")].filter(shown);
  for (let i = 0; i < controls.length; i++) {
    for (let j = i + 1; j < controls.length; j++) {
      const a = controls[i], b = controls[j];
      if (a.contains(b) || b.contains(a)) continue;
      const p = a.getBoundingClientRect(), q = b.getBoundingClientRect();
      const w = Math.min(p.right, q.right) - Math.max(p.left, q.left);
      const h = Math.min(p.bottom, q.bottom) - Math.max(p.top, q.top);
      if (w > 1 && h > 1) problems.push(`${name(a)} overlaps ${name(b)}`);
    }
  }
  return problems;
}"""


def artifacts_dir() -> Path:
    root = os.environ.get("OSSMEDIA_TEST_ARTIFACTS") or tempfile.gettempdir()
    path = Path(root) / "console-journey"
    path.mkdir(parents=True, exist_ok=True)
    return path


def check(page: Page, step: str) -> None:
    """Lay the page out at both widths: assert its layout, save a screenshot of each."""
    folder = artifacts_dir()
    for label, size in (("1280", WIDE), ("390", PHONE)):
        page.set_viewport_size(size)
        problems = page.evaluate(LAYOUT_PROBLEMS)
        page.screenshot(path=str(folder / f"{step}-{label}.png"), full_page=True)
        assert problems == [], f"{step} at {label} px: {problems}"
    page.set_viewport_size(WIDE)


def focus_order(page: Page, stop_at: str, limit: int = 15) -> list[str]:
    """Tab through the page from the top; the accessible names met until ``stop_at``."""
    # Start where a keyboard user starts: before the first element of the page.
    page.evaluate(
        """() => { const start = document.createElement('span'); start.id = 'tab-start';
             start.tabIndex = -1; document.body.prepend(start); start.focus(); }"""
    )
    seen: list[str] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        page.evaluate("() => document.getElementById('tab-start')?.remove()")
        named = page.evaluate(
            """() => { const el = document.activeElement;
                 if (!el) return '';
                 if (el.labels && el.labels.length) return el.labels[0].textContent.trim();
                 return (el.getAttribute('aria-label') || el.textContent || '').trim(); }"""
        )
        seen.append(" ".join(str(named).split()))
        if seen[-1].startswith(stop_at):
            return seen
    raise AssertionError(f"never reached {stop_at!r} with Tab: {seen}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def console_emulator() -> Iterator[EmulatorHandle]:
    """An emulator of each test's own: the journey moves its clock."""
    with running_emulator(access_log=False) as handle:
        yield handle


@pytest.fixture
def responder(
    mosquitto: MosquittoProcess, console_emulator: EmulatorHandle, tmp_path: Path, master_key: str
) -> Iterator[Responder]:
    """The real responder on the console's registry (``registry`` fixture's file)."""
    emulator = console_emulator
    settings = ResponderSettings(
        broker=ResponderBroker(url=mosquitto.url, reconnect_initial_s=0.1, reconnect_max_s=1.0),
        sts=StsSettings(
            endpoint=emulator.sts_endpoint,
            region=emulator.region,
            access_key_id=emulator.access_key_id,
            access_key_secret=SecretStr(emulator.access_key_secret),
            role_arn=emulator.role_arn,
            max_duration_s=3600,
        ),
        grant=GrantSettings(
            bucket=emulator.bucket, oss_endpoint=emulator.oss_endpoint, region=emulator.region
        ),
        limits=Limits(device_requests_per_minute=600, device_burst=50),
        registry=RegistrySettings(
            url=f"sqlite://{tmp_path / 'registry.db'}", master_key=SecretStr(master_key)
        ),
        service=ServiceSettings(metrics_port=-1, workers=2),
    )
    service = build_responder(settings, with_http=False)
    service.start()
    try:
        assert service.service.wait_connected(10)
        yield service
    finally:
        service.stop()


# What only the camera knows: where it spools, what it records, how often it reports. The
# console's camera.toml ends with its [credentials] table; these tables follow it.
CAMERA_SECTIONS = """
[spool]
dir = "spool"
chunk_max_age_s = 0.2

[source]
kind = "directory"
path = "segments"
settle_s = 0.3

[upload]
rollover_s = 8
status_interval_s = 1
"""


def camera_state(stack: Stack) -> CameraState:
    state = stack.ledger.camera("cam-journey")
    assert state is not None
    return state


def test_first_hour(
    stack_factory: StackFactory,
    mosquitto: MosquittoProcess,
    console_emulator: EmulatorHandle,
    responder: Responder,
    root_bucket: oss2.Bucket,
    browser: Browser,
    tmp_path: Path,
) -> None:
    stack: Stack = stack_factory(mqtt={"enabled": True, "url": mosquitto.url})
    # hls.js reads byte ranges of the recording in progress: the bucket's CORS rule allows it.
    allow_console(root_bucket, console_origins(stack.url))
    assert stack.console.wait_subscribed(10)
    base = stack.url
    context = browser.new_context(viewport=WIDE, accept_downloads=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    context.set_default_timeout(15_000)
    fleet = context.new_page()
    camera_process: subprocess.Popen[bytes] | None = None
    try:
        # Sign in with the keyboard only: the form's first field has the focus.
        fleet.goto(base + "/")
        expect(fleet).to_have_url(base + "/login?next=%2F")
        check(fleet, "01-login")
        assert focus_order(fleet, "Log in") == ["ossmedia", "User name", "Password", "Log in"]
        fleet.get_by_label("User name").focus()
        fleet.keyboard.type(OPERATOR)
        fleet.keyboard.press("Tab")
        fleet.keyboard.type(PASSWORD)
        fleet.keyboard.press("Enter")
        expect(fleet).to_have_url(base + "/")
        check(fleet, "02-fleet-empty")
        fleet.evaluate("() => { window.journeyMark = 'never reloaded'; }")

        # Provision in a second tab, by keyboard; the fleet tab stays open.
        tab = context.new_page()
        tab.goto(base + "/devices")
        assert focus_order(tab, "New device id") == [
            "ossmedia",
            "Fleet",
            "Devices",
            "Retention",
            "Log out",
            "New device id",
        ]
        tab.keyboard.type("cam-journey")
        tab.keyboard.press("Enter")
        expect(tab.locator("h1")).to_have_text("cam-journey provisioned")
        expect(tab.locator("main")).to_contain_text("only time the secret and this camera.toml")
        check(tab, "03-provisioned")
        with tab.expect_download() as download:
            tab.click("#download-config")
        assert download.value.suggested_filename == "camera.toml"
        handed = Path(download.value.path()).read_text(encoding="utf-8")
        assert handed == tab.input_value("#camera-config")
        tab.get_by_role("button", name="Copy to clipboard").click()
        expect(tab.locator("#copy-state")).to_have_text("Copied.")
        assert tab.evaluate("() => navigator.clipboard.readText()") == handed
        secret = tab.inner_text("#secret")
        assert f'secret = "{secret}"' in handed
        assert f'url = "{mosquitto.url}"' in handed

        # The devices table: its buttons inside the row, at both widths.
        tab.goto(base + "/devices")
        assert secret not in tab.content()
        expect(tab.locator('tr[data-device="cam-journey"]')).to_contain_text("active")
        check(tab, "04-devices")

        # The camera starts with the file as handed over, plus its own sections.
        workdir = tmp_path / "camera"
        workdir.mkdir()
        segments = workdir / "segments"
        segments.mkdir()
        video = fragmented_mp4(width=160, height=120)
        (segments / "0001.mp4").write_bytes(video)
        config = workdir / "camera.toml"
        config.write_text(handed + CAMERA_SECTIONS, encoding="utf-8")
        assert config.read_text(encoding="utf-8").startswith(handed)
        log = workdir / "camera.log"
        with log.open("w") as stderr:
            camera_process = subprocess.Popen(
                [sys.executable, "-m", "ossmedia_cli", "camera", "--config", str(config)],
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )

        # The fleet page, never reloaded, shows it online within 10 s of the console knowing
        # (the camera process's start-up is not the page's to hurry on a loaded machine).
        assert wait_until(lambda: camera_state(stack).online, timeout_s=60), log.read_text()
        row = fleet.locator('tr[data-device="cam-journey"]')
        expect(row).to_contain_text("online", timeout=LIVE_S * 1000)
        check(fleet, "05-fleet-online")

        # Its recording in progress shows on the open fleet page and on the camera page,
        # and plays while the camera is still recording it.
        expect(row.locator("td.in-progress a")).to_have_count(1, timeout=LIVE_S * 1000)
        check(fleet, "06-fleet-recording-now")
        tab.goto(base + "/cameras/cam-journey")
        expect(tab.locator("#camera-state")).to_contain_text("online")
        expect(tab.locator("#in-progress")).to_be_visible()
        check(tab, "07-camera-recording-now")
        tab.click("#in-progress a.button")
        tab.wait_for_function(
            "() => { const v = document.getElementById('player');"
            " return v.getAttribute('data-hls-error') || v.currentTime > 0.5; }",
            timeout=30_000,
        )
        assert tab.get_attribute("#player", "data-hls-error") is None
        check(tab, "08-live-playing")

        # Once the camera closes it, the camera page, not reloaded, lists the recording,
        # which plays.
        tab.goto(base + "/cameras/cam-journey")
        tab.evaluate("() => { window.journeyMark = 'never reloaded'; }")
        recording = tab.locator("tr.recording")
        assert wait_until(lambda: camera_state(stack).recordings >= 1, timeout_s=60)
        expect(recording).to_have_count(1, timeout=LIVE_S * 1000)
        expect(tab.locator("figure.timeline rect.rec")).to_have_count(1)
        assert tab.evaluate("() => window.journeyMark") == "never reloaded"
        expect(row.locator("td.recordings")).to_contain_text("1", timeout=LIVE_S * 1000)
        check(tab, "09-camera-recording")
        check(fleet, "10-fleet-recording")
        recording.locator("a", has_text="Play").click()
        tab.evaluate(
            "() => { const v = document.getElementById('player'); v.muted = true; v.play(); }"
        )
        tab.wait_for_function(
            "() => { const v = document.getElementById('player'); "
            "return v.currentTime > 0.5 && !v.error; }"
        )
        assert tab.evaluate("() => document.getElementById('player').videoWidth") == 160
        check(tab, "11-recording-playing")
        tab.click("text=Delete…")
        check(tab, "12-delete-confirm")
        tab.goto(base + "/retention")
        check(tab, "13-retention")
        assert tab.goto(base + "/cameras/no-such-camera").status == 404  # type: ignore[union-attr]
        check(tab, "14-not-found")

        # Revoke it in the console (the confirmation accepted).
        tab.goto(base + "/devices")
        tab.on("dialog", lambda dialog: dialog.accept())
        tab.get_by_role("button", name="Revoke cam-journey").click()
        expect(tab.locator('tr[data-device="cam-journey"]')).to_contain_text("revoked")
        check(tab, "15-revoked")
        # A camera learns of its revocation when it next asks for credentials. Moving the
        # store's clock past their lifetime makes that the camera's next upload rather than
        # a refresh twelve minutes from now; the camera records its next segment.
        console_emulator.advance_clock(3600)
        (segments / "0002.mp4").write_bytes(video)
        assert camera_process.wait(timeout=60) == 3, log.read_text()
        expect(row).to_contain_text("revoked", timeout=LIVE_S * 1000)
        # Its last status said online; a revoked camera's messages are refused, so the page
        # no longer claims it is connected.
        expect(row.locator(".badge.online")).to_have_count(0)
        assert fleet.evaluate("() => window.journeyMark") == "never reloaded"
        check(fleet, "16-fleet-revoked")
    finally:
        if camera_process is not None and camera_process.poll() is None:
            camera_process.kill()
            camera_process.wait(10)
        context.close()


def test_open_pages_follow_a_camera_offline_and_back(
    stack_factory: StackFactory, browser: Browser
) -> None:
    stack: Stack = stack_factory()
    camera = stack.camera("cam-live")
    now = int(time.time() * 1000)
    stack.ingest(camera.status(now, spool_bytes=1024, last_upload_ms=now))
    context = browser.new_context(viewport=WIDE)
    context.set_default_timeout(15_000)
    try:
        fleet = context.new_page()
        fleet.goto(stack.url + "/login?next=%2F")
        fleet.fill("input[name=username]", OPERATOR)
        fleet.fill("input[name=password]", PASSWORD)
        fleet.click("button[type=submit]")
        row = fleet.locator('tr[data-device="cam-live"]')
        expect(row).to_contain_text("online")
        day = context.new_page()
        day.goto(stack.url + "/cameras/cam-live")
        expect(day.locator("tr.recording")).to_have_count(0)
        for tab in (fleet, day):
            tab.evaluate("() => { window.journeyMark = 'never reloaded'; }")

        # It goes offline: both open pages say so within 10 s. A keyboard user on the
        # camera's link keeps the focus there while the row changes around it.
        link = row.get_by_role("link", name="cam-live")
        link.focus()
        stack.ingest(camera.status(now + 1000, online=False, spool_bytes=1024))
        expect(row).to_contain_text("offline", timeout=LIVE_S * 1000)
        expect(link).to_be_focused()
        expect(day.locator("#camera-state")).to_contain_text("offline", timeout=LIVE_S * 1000)

        # It comes back with a fuller spool and a new recording.
        stack.ingest(camera.status(now + 2000, spool_bytes=8192, last_upload_ms=now + 2000))
        stack.ingest(camera.record("live.mp4", b"\0" * 2048, now - 60_000, now - 56_000))
        expect(row).to_contain_text("online", timeout=LIVE_S * 1000)
        expect(row).to_contain_text("8.0 KiB", timeout=LIVE_S * 1000)
        expect(day.locator("#camera-state")).to_contain_text("online", timeout=LIVE_S * 1000)
        expect(day.locator("#camera-status")).to_contain_text("8.0 KiB", timeout=LIVE_S * 1000)
        expect(day.locator("tr.recording")).to_have_count(1, timeout=LIVE_S * 1000)
        expect(row.locator("td.recordings")).to_have_text("1", timeout=LIVE_S * 1000)
        for tab in (fleet, day):
            assert tab.evaluate("() => window.journeyMark") == "never reloaded"
    finally:
        context.close()
