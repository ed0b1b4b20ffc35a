"""HTML pages over real HTTP: login form, guards, CSRF on forms, escaping, secrets shown once."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import oss2
import pytest

from tests.cloud.console.conftest import OPERATOR, PASSWORD, Stack

PAGES_GET = [
    "/",
    "/cameras/cam-1",
    "/recordings/0123456789abcdef0123456789abcdef",
    "/recordings/0123456789abcdef0123456789abcdef/download",
    "/recordings/0123456789abcdef0123456789abcdef/delete",
    "/retention",
    "/devices",
]
PAGES_POST = [
    "/logout",
    "/cameras/cam-1/retention",
    "/recordings/0123456789abcdef0123456789abcdef/verify",
    "/recordings/0123456789abcdef0123456789abcdef/delete",
    "/retention",
    "/devices",
    "/devices/cam-1/revoke",
    "/devices/cam-1/rotate",
]


def hidden_token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF field in the page"
    return found.group(1)


def form_login(http: httpx.Client, next_path: str = "/") -> httpx.Response:
    form = http.get("/login", params={"next": next_path})
    assert form.status_code == 200
    return http.post(
        "/login",
        data={
            "csrf_token": hidden_token(form.text),
            "next": next_path,
            "username": OPERATOR,
            "password": PASSWORD,
        },
    )


@pytest.fixture
def browser(stack: Stack) -> Iterator[httpx.Client]:
    """A client that logged in through the login form, like a browser."""
    with httpx.Client(base_url=stack.url, timeout=10, follow_redirects=False) as http:
        reply = form_login(http)
        assert reply.status_code == 303
        yield http


@pytest.mark.parametrize("path", PAGES_GET)
def test_pages_redirect_to_login(shared_anon: httpx.Client, path: str) -> None:
    reply = shared_anon.get(path)
    assert reply.status_code == 303
    assert reply.headers["location"].startswith("/login?next=")


@pytest.mark.parametrize("path", PAGES_POST)
def test_form_posts_need_login(shared_anon: httpx.Client, path: str) -> None:
    assert shared_anon.post(path, data={"csrf_token": "x"}).status_code == 401


def test_login_form_round_trip_goes_where_the_operator_was_going(stack: Stack) -> None:
    with httpx.Client(base_url=stack.url) as http:
        reply = form_login(http, "/devices")
        assert reply.status_code == 303
        assert reply.headers["location"] == "/devices"
        cookie = next(h for h in reply.headers.get_list("set-cookie") if "ossmedia_session" in h)
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
        assert http.get("/devices").status_code == 200


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil", "x"])
def test_login_never_redirects_off_site(stack: Stack, target: str) -> None:
    with httpx.Client(base_url=stack.url) as http:
        assert form_login(http, target).headers["location"] == "/"


def test_login_form_needs_its_token(stack: Stack) -> None:
    with httpx.Client(base_url=stack.url) as http:
        # No pre-login cookie: a cross-site form post.
        forged = http.post(
            "/login",
            data={"csrf_token": "abc", "username": OPERATOR, "password": PASSWORD},
        )
        assert forged.status_code == 403
        assert "ossmedia_session" not in forged.headers.get("set-cookie", "")


def test_wrong_password_page(stack: Stack) -> None:
    with httpx.Client(base_url=stack.url) as http:
        form = http.get("/login")
        reply = http.post(
            "/login",
            data={"csrf_token": hidden_token(form.text), "username": OPERATOR, "password": "no"},
        )
        assert reply.status_code == 401
        assert "Wrong user name or password" in reply.text


@pytest.mark.parametrize("path", PAGES_POST)
def test_form_posts_need_the_csrf_field(stack: Stack, browser: httpx.Client, path: str) -> None:
    stack.camera("cam-1")
    for data in ({}, {"csrf_token": "wrong"}):
        reply = browser.post(path, data={**data, "days": "3", "device_id": "cam-2"})
        assert reply.status_code == 403
    assert browser.get("/").status_code == 200  # still logged in: nothing happened
    assert [d.device_id for d in stack.registry.list()] == ["cam-1"]


def test_fleet_camera_and_recording_pages(stack: Stack, browser: httpx.Client) -> None:
    cam = stack.camera("cam-1")
    stack.camera("cam-2")
    now = int(stack.clock() * 1000)
    stack.ingest(cam.status(now, spool_bytes=2048, dropped_bytes=5, last_upload_ms=now - 2000))
    event = cam.record("a.mp4", b"m" * 1000, now - 120_000, now - 60_000)
    stack.ingest(event)

    fleet = browser.get("/")
    assert fleet.status_code == 200
    assert 'data-device="cam-1"' in fleet.text
    assert 'data-device="cam-2"' in fleet.text
    assert "never seen" in fleet.text  # cam-2 never reported
    assert "2.0 KiB" in fleet.text

    page = browser.get("/cameras/cam-1")
    assert page.status_code == 200
    assert f'href="/recordings/{event.event_id}"' in page.text
    assert 'class="gap"' in page.text  # the day before the recording is a gap

    player = browser.get(f"/recordings/{event.event_id}")
    assert player.status_code == 200
    assert 'id="player"' in player.text
    src = re.search(r'<video id="player"[^>]* src="([^"]+)"', player.text)
    assert src is not None
    assert "x-oss-signature" in src.group(1)
    csp = player.headers["content-security-policy"]
    assert f"media-src {stack.emulator.oss_endpoint}" in csp
    assert "no-store" in player.headers["cache-control"]

    download = browser.get(f"/recordings/{event.event_id}/download")
    assert download.status_code == 303
    assert "response-content-disposition=attachment" in download.headers["location"]


def test_camera_page_warns_about_a_reused_seq(stack: Stack, browser: httpx.Client) -> None:
    cam = stack.camera("cam-1")
    now = int(stack.clock() * 1000)
    for name in ("a.ts", "b.ts"):
        key, crc = cam.upload(name, b"x" * 10)
        stack.ingest(cam.segment(key, 10, crc, now - 60_000, now - 30_000, seq=7))
    page = browser.get("/cameras/cam-1")
    assert page.status_code == 200
    assert 'class="warning"' in page.text
    assert "1 recording reused a sequence number" in page.text
    other = stack.camera("cam-2")
    key, crc = other.upload("c.ts", b"y" * 10)
    stack.ingest(other.segment(key, 10, crc, now - 60_000, now - 30_000))
    assert 'class="warning"' not in browser.get("/cameras/cam-2").text


def test_hostile_object_key_is_escaped(stack: Stack, browser: httpx.Client) -> None:
    cam = stack.camera("cam-1")
    name = '<script>alert("x")</script>.mp4'
    event = cam.record(name, b"v" * 10, 0, 1000)
    stack.ingest(event)
    for path in (f"/recordings/{event.event_id}", f"/recordings/{event.event_id}/delete"):
        html = browser.get(path).text
        assert "<script>alert" not in html
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html


def test_hostile_path_parameters_get_error_pages(browser: httpx.Client) -> None:
    for path in (
        "/cameras/%3Cscript%3E",
        "/cameras/..%2F..%2Fetc",
        "/recordings/..%2Fsecret",
        "/cameras/cam-1?day=%3Cscript%3E",
    ):
        reply = browser.get(path)
        # 404 where the decoded slash no longer matches a route, 400 where it does.
        assert reply.status_code in {400, 404}, path
        assert "<script>" not in reply.text


def test_delete_asks_first_then_deletes(
    stack: Stack, browser: httpx.Client, root_bucket: oss2.Bucket
) -> None:
    cam = stack.camera("cam-1")
    event = cam.record("del.mp4", b"d" * 10, 86_400_000 * 3, 86_400_000 * 3 + 5000)
    stack.ingest(event)
    confirm = browser.get(f"/recordings/{event.event_id}/delete")
    assert confirm.status_code == 200
    assert "cannot be undone" in confirm.text
    assert root_bucket.object_exists(event.key)  # asking deleted nothing
    done = browser.post(
        f"/recordings/{event.event_id}/delete", data={"csrf_token": hidden_token(confirm.text)}
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/cameras/cam-1?day=1970-01-04"
    assert not root_bucket.object_exists(event.key)
    assert browser.get(f"/recordings/{event.event_id}").status_code == 404


def test_provisioning_shows_the_secret_once(stack: Stack, browser: httpx.Client) -> None:
    devices = browser.get("/devices")
    made = browser.post(
        "/devices", data={"csrf_token": hidden_token(devices.text), "device_id": "cam-5"}
    )
    assert made.status_code == 200
    assert made.headers["cache-control"] == "no-store"
    secret = re.search(r'<code id="secret">([A-Za-z0-9_-]{43})</code>', made.text)
    assert secret is not None
    for path in ("/devices", "/", "/cameras/cam-5"):
        assert secret.group(1) not in browser.get(path).text
    rotated = browser.post("/devices/cam-5/rotate", data={"csrf_token": hidden_token(devices.text)})
    new_secret = re.search(r'<code id="secret">([A-Za-z0-9_-]{43})</code>', rotated.text)
    assert new_secret is not None
    assert new_secret.group(1) != secret.group(1)
    revoked = browser.post("/devices/cam-5/revoke", data={"csrf_token": hidden_token(devices.text)})
    assert revoked.status_code == 303
    assert stack.registry.get("cam-5").status.value == "revoked"
    bad = browser.post(
        "/devices", data={"csrf_token": hidden_token(devices.text), "device_id": "<b>x</b>"}
    )
    assert bad.status_code == 400
    assert "<b>x</b>" not in bad.text


def test_retention_forms(stack: Stack, browser: httpx.Client) -> None:
    stack.camera("cam-1")
    page = browser.get("/retention")
    token = hidden_token(page.text)
    assert browser.post("/retention", data={"csrf_token": token, "days": "30"}).status_code == 303
    assert "ossmedia-fleet" in browser.get("/retention").text
    ok = browser.post("/cameras/cam-1/retention", data={"csrf_token": token, "days": "7"})
    assert ok.status_code == 303
    conflict = browser.post("/retention", data={"csrf_token": token, "days": "5"})
    assert conflict.status_code == 409
    assert "shorter than the fleet" in conflict.text
    bad = browser.post("/retention", data={"csrf_token": token, "days": "many"})
    assert bad.status_code == 400
    browser.post("/cameras/cam-1/retention", data={"csrf_token": token, "days": ""})
    browser.post("/retention", data={"csrf_token": token, "days": ""})
    assert stack.console.parts.service.retention().rules == ()


def test_logout_form(stack: Stack, browser: httpx.Client) -> None:
    token = hidden_token(browser.get("/").text)
    assert browser.post("/logout", data={"csrf_token": token}).status_code == 303
    assert browser.get("/").status_code == 303


def test_static_files_are_served_without_login(shared_anon: httpx.Client) -> None:
    css = shared_anon.get("/static/console.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert shared_anon.get("/static/../templates/base.html").status_code == 404
