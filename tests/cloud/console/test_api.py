"""REST API: every endpoint, over real HTTP, against the real registry, ledger and emulator."""

from __future__ import annotations

import httpx
import oss2
import pytest
import requests

from cloud.console.web.openapi import openapi_document
from tests.cloud.console.conftest import (
    OPERATOR,
    PASSWORD,
    Operator,
    Stack,
    StackFactory,
    login,
)

RID = "0123456789abcdef0123456789abcdef"
KID = "fedcba9876543210fedcba9876543210"

# Every API operation with concrete path parameters, for the blanket auth and CSRF checks.
API_CALLS: list[tuple[str, str]] = [
    ("GET", "/api/openapi.json"),
    ("DELETE", "/api/session"),
    ("GET", "/api/cameras"),
    ("GET", "/api/cameras/cam-1"),
    ("GET", "/api/cameras/cam-1/recordings"),
    ("GET", "/api/cameras/cam-1/timeline"),
    ("PUT", "/api/cameras/cam-1/retention"),
    ("GET", f"/api/recordings/{RID}"),
    ("DELETE", f"/api/recordings/{RID}"),
    ("GET", f"/api/recordings/{RID}/playback"),
    ("GET", f"/api/recordings/{RID}/download"),
    ("POST", f"/api/recordings/{RID}/verify"),
    ("GET", f"/api/recordings/{RID}/playlist.m3u8"),
    ("GET", f"/api/keys/cam-1/{KID}"),
    ("GET", "/api/cameras/cam-1/live"),
    ("GET", f"/api/live/{RID}/playlist.m3u8"),
    ("POST", "/api/cameras/cam-1/clips"),
    ("GET", "/api/retention"),
    ("PUT", "/api/retention"),
    ("GET", "/api/retention/bucket"),
    ("POST", "/api/retention/reapply"),
    ("GET", "/api/devices"),
    ("POST", "/api/devices"),
    ("POST", "/api/devices/cam-1/revoke"),
    ("POST", "/api/devices/cam-1/rotate"),
]
UNSAFE_CALLS = [(m, p) for m, p in API_CALLS if m not in {"GET", "HEAD"}]


def test_the_call_list_covers_every_documented_operation() -> None:
    documented = {
        (method.upper(), path)
        for path, ops in openapi_document()["paths"].items()
        for method in ops
        if path != "/api/session" or method == "delete"
    }
    listed = {
        (
            m,
            p.replace(f"/api/live/{RID}", "/api/live/{live_id}")
            .replace(RID, "{recording_id}")
            .replace(KID, "{key_id}")
            .replace("cam-1", "{device_id}"),
        )
        for m, p in API_CALLS
    }
    assert listed == documented


# -- authentication ----------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), API_CALLS)
def test_every_api_call_needs_a_session(shared_anon: httpx.Client, method: str, path: str) -> None:
    reply = shared_anon.request(method, path, json={"days": 3, "device_id": "cam-2"})
    assert reply.status_code == 401
    assert reply.json()["error"] == "login_required"


@pytest.mark.parametrize(("method", "path"), API_CALLS)
def test_a_forged_session_cookie_is_refused(shared_stack: Stack, method: str, path: str) -> None:
    with httpx.Client(base_url=shared_stack.url) as http:
        http.cookies.set("ossmedia_session", "made-up-session-id.bm90LWEtc2lnbmF0dXJl")
        assert http.request(method, path).status_code == 401


@pytest.mark.parametrize(("method", "path"), UNSAFE_CALLS)
def test_every_state_change_needs_the_csrf_header(
    shared_operator: Operator, method: str, path: str
) -> None:
    operator = shared_operator
    body = {"days": 3, "device_id": "cam-2"}
    missing = operator.http.request(method, path, json=body)
    wrong = operator.http.request(method, path, json=body, headers={"X-CSRF-Token": "x" * 43})
    assert (missing.status_code, missing.json()["error"]) == (403, "csrf")
    assert (wrong.status_code, wrong.json()["error"]) == (403, "csrf")
    # The session survived: the refused calls changed nothing.
    assert operator.http.get("/api/session").json()["authenticated"] is True


def test_login_needs_the_pre_login_token(anon: httpx.Client) -> None:
    body = {"username": OPERATOR, "password": PASSWORD}
    assert anon.post("/api/session", json=body).status_code == 403
    anon.get("/api/session")  # sets the pre-login cookie
    assert anon.post("/api/session", json=body, headers={"X-CSRF-Token": "nope"}).status_code == 403


def test_login_with_a_wrong_password_fails_and_locks_out(stack: Stack, anon: httpx.Client) -> None:
    token = anon.get("/api/session").json()["csrf_token"]
    headers = {"X-CSRF-Token": token}
    for _ in range(3):
        reply = anon.post(
            "/api/session", json={"username": OPERATOR, "password": "wrong"}, headers=headers
        )
        assert reply.status_code == 401
    right = {"username": OPERATOR, "password": PASSWORD}
    assert anon.post("/api/session", json=right, headers=headers).status_code == 429
    stack.clock.advance(61)
    assert anon.post("/api/session", json=right, headers=headers).status_code == 200


def test_unknown_user_is_refused(anon: httpx.Client) -> None:
    token = anon.get("/api/session").json()["csrf_token"]
    reply = anon.post(
        "/api/session",
        json={"username": "mallory", "password": PASSWORD},
        headers={"X-CSRF-Token": token},
    )
    assert reply.status_code == 401


def test_session_cookie_is_httponly_strict_and_signed(anon: httpx.Client) -> None:
    token = anon.get("/api/session").json()["csrf_token"]
    reply = anon.post(
        "/api/session",
        json={"username": OPERATOR, "password": PASSWORD},
        headers={"X-CSRF-Token": token},
    )
    cookie = next(h for h in reply.headers.get_list("set-cookie") if "ossmedia_session=" in h)
    lowered = cookie.lower()
    assert "httponly" in lowered
    assert "samesite=strict" in lowered
    value = cookie.split("=", 1)[1].split(";")[0]
    assert "." in value  # id.signature
    session_id, _, signature = value.rpartition(".")
    assert len(session_id) >= 40
    assert len(signature) >= 40


def test_logout_ends_the_session_for_good(stack: Stack, operator: Operator) -> None:
    cookie = operator.http.cookies.get("ossmedia_session")
    assert operator.http.delete("/api/session", headers=operator.headers()).status_code == 204
    with httpx.Client(base_url=stack.url) as replay:
        replay.cookies.set("ossmedia_session", cookie or "")
        assert replay.get("/api/cameras").status_code == 401


def test_sessions_expire(stack: Stack, operator: Operator) -> None:
    assert operator.http.get("/api/cameras").status_code == 200
    stack.clock.advance(12 * 3600 + 1)
    assert operator.http.get("/api/cameras").status_code == 401


def test_session_endpoint_reports_the_operator(operator: Operator) -> None:
    state = operator.http.get("/api/session").json()
    assert state == {"authenticated": True, "username": OPERATOR, "csrf_token": operator.csrf}


# -- cameras and recordings --------------------------------------------------------------


def test_cameras_paginate_with_opaque_cursors(stack: Stack, operator: Operator) -> None:
    for n in range(5):
        stack.camera(f"cam-{n:02d}")
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = operator.http.get("/api/cameras", params=params).json()
        seen += [c["device_id"] for c in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert "cam-" not in cursor  # opaque, not the raw position
    assert seen == [f"cam-{n:02d}" for n in range(5)]
    assert pages == 3


def test_bad_cursors_are_refused(stack: Stack, operator: Operator) -> None:
    for n in range(3):
        stack.camera(f"cam-{n}")
    cursor = operator.http.get("/api/cameras", params={"limit": 1}).json()["next_cursor"]
    tampered = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    for bad in (tampered, "not-base64!", "x" * 600):
        reply = operator.http.get("/api/cameras", params={"cursor": bad})
        assert reply.status_code == 400, bad
    # A cursor of one listing is not accepted by another.
    assert operator.http.get("/api/devices", params={"cursor": cursor}).status_code == 400


def test_camera_details(stack: Stack, operator: Operator) -> None:
    cam = stack.camera("cam-7")
    now = int(stack.clock() * 1000)
    stack.ingest(
        cam.status(
            now,
            spool_bytes=1234,
            oldest_unsent_age_ms=5000,
            last_upload_ms=now - 1000,
            cred_expires_at_ms=now + 600_000,
            clock_offset_ms=-42,
            uploaded_bytes=10_000,
            dropped_bytes=7,
        )
    )
    body = operator.http.get("/api/cameras/cam-7").json()
    assert body["online"] is True
    assert body["registry_state"] == "active"
    assert (body["spool_bytes"], body["oldest_unsent_age_ms"]) == (1234, 5000)
    assert (body["clock_offset_ms"], body["dropped_bytes"]) == (-42, 7)
    assert body["credential_expires_ms"] == now + 600_000
    assert operator.http.get("/api/cameras/cam-404").status_code == 404


def test_recordings_window_pagination_and_timeline(stack: Stack, operator: Operator) -> None:
    cam = stack.camera("cam-1")
    day0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
    events = []
    # Six one-minute recordings, two of them starting at the same millisecond.
    starts = [day0 + 60_000 * i for i in (0, 1, 1, 2, 10, 11)]
    for i, start in enumerate(starts):
        events.append(cam.record(f"r{i}.mp4", b"v" * (100 + i), start, start + 60_000))
        stack.ingest(events[-1])
    got: list[str] = []
    cursor = None
    while True:
        params = {"limit": "4", "from_ms": str(day0), "to_ms": str(day0 + 86_400_000)}
        if cursor:
            params["cursor"] = cursor
        page = operator.http.get("/api/cameras/cam-1/recordings", params=params).json()
        got += [r["recording_id"] for r in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(got) == sorted(e.event_id for e in events)
    assert len(got) == len(set(got)) == 6
    # The cursor is bound to its window.
    first = operator.http.get(
        "/api/cameras/cam-1/recordings", params={"limit": "1", "from_ms": str(day0)}
    ).json()["next_cursor"]
    other = operator.http.get(
        "/api/cameras/cam-1/recordings", params={"cursor": first, "from_ms": "1"}
    )
    assert other.status_code == 400

    timeline = operator.http.get("/api/cameras/cam-1/timeline", params={"day": "2026-01-01"})
    body = timeline.json()
    assert body["day"] == "2026-01-01"
    assert len(body["recordings"]) == 6
    gaps = [(g["start_ms"] - day0, g["end_ms"] - day0) for g in body["gaps"]]
    assert gaps[0] == (3 * 60_000, 10 * 60_000)
    assert gaps[1] == (12 * 60_000, 86_400_000)


def test_recording_playback_download_verify_delete(
    stack: Stack, operator: Operator, root_bucket: oss2.Bucket
) -> None:
    cam = stack.camera("cam-1")
    now = int(stack.clock() * 1000)
    data = b"\x00\x01video-bytes" * 50
    event = cam.record("clip.mp4", data, now - 30_000, now)
    stack.ingest(event)
    rid = event.event_id

    body = operator.http.get(f"/api/recordings/{rid}").json()
    assert body["verification"] == "pending"
    assert body["bytes"] == len(data)
    assert body["crc64"] == str(event.crc64)

    checked = operator.http.post(f"/api/recordings/{rid}/verify", headers=operator.headers())
    assert checked.json()["verification"] == "verified"

    play = operator.http.get(f"/api/recordings/{rid}/playback").json()
    assert play["expires_at_ms"] == now + 60_000
    fetched = requests.get(play["url"], timeout=10)
    assert fetched.status_code == 200
    assert fetched.content == data
    assert "x-oss-signature-version=OSS4-HMAC-SHA256" in play["url"]
    assert "x-oss-expires=60" in play["url"]

    down = operator.http.get(f"/api/recordings/{rid}/download").json()
    saved = requests.get(down["url"], timeout=10)
    assert saved.content == data
    assert saved.headers["content-disposition"].startswith("attachment;")

    gone = operator.http.delete(f"/api/recordings/{rid}", headers=operator.headers())
    assert gone.status_code == 204
    assert not root_bucket.object_exists(event.key)
    assert operator.http.get(f"/api/recordings/{rid}").status_code == 404
    assert operator.http.get(f"/api/recordings/{rid}/playback").status_code == 404
    assert (
        operator.http.delete(f"/api/recordings/{rid}", headers=operator.headers()).status_code
        == 404
    )
    # A redelivered event does not bring it back.
    assert stack.ingest(event) == "duplicate"
    assert operator.http.get(f"/api/recordings/{rid}").status_code == 404
    assert operator.http.get("/api/cameras/cam-1").json()["recordings"] == 0


def test_delete_reports_oss_failure_and_keeps_the_recording(
    stack_factory: StackFactory, operator: Operator
) -> None:
    broken = stack_factory(oss={"endpoint": "http://127.0.0.1:9", "connect_timeout_s": 1})
    cam = broken.camera("cam-1")
    now = int(broken.clock() * 1000)
    event = cam.record("x.mp4", b"abc", now - 1000, now)
    broken.ingest(event)
    with httpx.Client(base_url=broken.url) as http:
        csrf = login(http)
        reply = http.delete(f"/api/recordings/{event.event_id}", headers={"X-CSRF-Token": csrf})
        assert reply.status_code == 502
        assert reply.json()["error"] == "storage_unavailable"
        assert http.get(f"/api/recordings/{event.event_id}").status_code == 200


# -- devices -----------------------------------------------------------------------------


def test_device_provisioning_revocation_rotation(stack: Stack, operator: Operator) -> None:
    made = operator.http.post(
        "/api/devices", json={"device_id": "cam-new"}, headers=operator.headers()
    )
    assert made.status_code == 201
    secret = made.json()["secret"]
    assert len(secret) == 43
    listing = operator.http.get("/api/devices")
    assert [d["device_id"] for d in listing.json()["items"]] == ["cam-new"]
    assert secret not in listing.text
    assert operator.http.get("/api/cameras/cam-new").json()["registry_state"] == "active"

    again = operator.http.post(
        "/api/devices", json={"device_id": "cam-new"}, headers=operator.headers()
    )
    assert again.status_code == 409

    rotated = operator.http.post("/api/devices/cam-new/rotate", headers=operator.headers())
    assert rotated.status_code == 200
    body = rotated.json()
    assert body["device"]["secret_version"] == 2
    assert body["secret"] != secret
    assert body["secret"] not in operator.http.get("/api/devices").text

    revoked = operator.http.post("/api/devices/cam-new/revoke", headers=operator.headers())
    assert revoked.json()["status"] == "revoked"
    assert operator.http.get("/api/cameras/cam-new").json()["registry_state"] == "revoked"
    for action in ("revoke", "rotate"):
        missing = operator.http.post(f"/api/devices/nobody/{action}", headers=operator.headers())
        assert missing.status_code == 404


def test_devices_paginate(stack: Stack, operator: Operator) -> None:
    for n in range(5):
        stack.registry.add(f"dev-{n}")
    first = operator.http.get("/api/devices", params={"limit": 3}).json()
    second = operator.http.get(
        "/api/devices", params={"limit": 3, "cursor": first["next_cursor"]}
    ).json()
    names = [d["device_id"] for d in first["items"] + second["items"]]
    assert names == [f"dev-{n}" for n in range(5)]
    assert second["next_cursor"] is None


# -- hostile input -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/cameras/%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "/api/cameras/..%2F..%2Fetc%2Fpasswd",
        "/api/cameras/a",
        "/api/cameras/" + "a" * 33,
        "/api/recordings/..%2F..%2Fvideos%2Fcam-1%2Fx.mp4",
        "/api/recordings/0123456789ABCDEF0123456789ABCDEF",
        "/api/recordings/%00%00",
        "/api/cameras/cam-1/recordings?limit=100000",
        "/api/cameras/cam-1/recordings?limit=-1",
        "/api/cameras/cam-1/recordings?from_ms=99999999999999999999",
        "/api/cameras/cam-1/recordings?unknown=1",
        "/api/cameras/cam-1/timeline?day=2026-02-30",
        "/api/cameras/cam-1/timeline?day=%3Cb%3E",
    ],
)
def test_hostile_input_is_refused_without_echo(stack: Stack, operator: Operator, path: str) -> None:
    stack.camera("cam-1")
    reply = operator.http.get(path)
    assert 400 <= reply.status_code < 500
    assert "<script>" not in reply.text
    assert "<b>" not in reply.text


def test_oversized_requests_are_refused(operator: Operator) -> None:
    long_query = operator.http.get("/api/cameras", params={"cursor": "a" * 5000})
    assert long_query.status_code == 414
    big = operator.http.post(
        "/api/devices",
        content=b'{"device_id": "' + b"a" * 40_000 + b'"}',
        headers={**operator.headers(), "content-type": "application/json"},
    )
    assert big.status_code == 413


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"device_id": "cam-x"', "application/json"),
        (b'{"device_id": "cam-x"}', "text/plain"),
        (b'{"device_id": "cam/x"}', "application/json"),
        (b'{"device_id": "cam-x", "secret": "mine"}', "application/json"),
        (b'["cam-x"]', "application/json"),
        (b"\xff\xfe", "application/json"),
    ],
)
def test_malformed_bodies_are_400(operator: Operator, content: bytes, content_type: str) -> None:
    reply = operator.http.post(
        "/api/devices",
        content=content,
        headers={**operator.headers(), "content-type": content_type},
    )
    assert reply.status_code == 400
    assert operator.http.get("/api/devices").json()["items"] == []


def test_security_headers(operator: Operator) -> None:
    reply = operator.http.get("/api/cameras")
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert reply.headers["x-frame-options"] == "DENY"
    assert reply.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in reply.headers["content-security-policy"]


def test_unknown_api_path_and_method_are_json_errors(operator: Operator) -> None:
    missing = operator.http.get("/api/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"
    wrong = operator.http.patch("/api/cameras", headers=operator.headers())
    assert wrong.status_code == 405
    assert wrong.json()["error"] == "method_not_allowed"


def test_openapi_document_is_served_and_matches_the_routes(
    stack: Stack, operator: Operator
) -> None:
    doc = operator.http.get("/api/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    served = {
        (m, r.path)
        for r in stack.console.app.routes
        if getattr(r, "path", "").startswith("/api/")
        for m in (getattr(r, "methods", None) or set())
        if m != "HEAD"
    }
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    assert served == documented
    for path, ops in doc["paths"].items():
        for op in ops.values():
            if path != "/api/session":
                assert "401" in op["responses"], path


def test_sign_in_attempts_from_one_address_get_429_with_retry_after(
    stack_factory: StackFactory,
) -> None:
    stack = stack_factory(session={"login_burst": 3, "login_attempts_per_address_per_minute": 6})
    with httpx.Client(base_url=stack.url) as http:
        token = http.get("/api/session").json()["csrf_token"]
        codes = []
        for n in range(5):
            reply = http.post(
                "/api/session",
                json={"username": f"random-{n}", "password": "guess"},
                headers={"X-CSRF-Token": token},
            )
            codes.append(reply.status_code)
        assert codes == [401, 401, 401, 429, 429]
        assert reply.json()["error"] == "too_many_attempts"
        assert int(reply.headers["Retry-After"]) == 10
        stack.clock.advance(10)  # one more attempt a while later
        login(http)
