"""The stdlib client against oss2: same requests on the wire, same errors, reused connections.

The contract tests in test_store.py run against both clients; these pin what they cannot:
that the stdlib client signs and addresses exactly as oss2 does for the same inputs (so the
signature cannot drift), that both clients raise the same exception for the same answer, and
that connections are kept alive and replaced when the server has dropped them.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import oss2
import pytest

import device.osshttp
from device.clock import ManualClock
from device.errors import DeviceError, ObjectNotFound
from device.oss_auth import ClockedAuth
from device.osshttp import AccessKeys, HttpObjectStore, RequestSigner
from device.osshttp.addressing import Address
from device.osshttp.signing import canonical_resource, string_to_sign
from device.store import ObjectStore, OssObjectStore
from simulator.emulator.handle import EmulatorHandle
from tests.device.capture_server import Captured, capture_server
from tests.device.stores import camera_store, root_store

PREFIX = "videos/cam-test/"
# STS-like values: the token holds the characters that break naive encoders.
KEYS = AccessKeys("STS.NUexampleKEYid", "sts/Secret+example==", "CAIS+tok/en==\u00e9x")
# Headers only one client sends, or that describe the connection or the framing rather than
# the request (oss2 sends an empty body chunked; the bodies are compared de-chunked).
TRANSPORT_HEADERS = {
    "user-agent",
    "accept",
    "connection",
    "accept-encoding",
    "content-length",
    "transfer-encoding",
}


def _oss2_store(endpoint: str, clock: ManualClock) -> OssObjectStore:
    provider = oss2.credentials.StaticCredentialsProvider(
        KEYS.access_key_id, KEYS.access_key_secret, KEYS.security_token
    )
    return OssObjectStore(ClockedAuth(provider, clock), endpoint, "media-bucket", timeout_s=5)


def _http_store(endpoint: str, clock: ManualClock) -> HttpObjectStore:
    return HttpObjectStore(RequestSigner(lambda: KEYS, clock), endpoint, "media-bucket")


def _calls(store: ObjectStore) -> None:
    store.append("videos/cam 1/a+b\u00e4.mp4", 0, b"first")
    store.append("videos/cam 1/a+b\u00e4.mp4", 5, b"second")
    store.put("videos/cam 1/live.m3u8", b"#EXTM3U\n", content_type="application/x-mpegURL")
    store.put("videos/cam 1/seg.ts", b"\x47" * 188)
    store.put("videos/cam 1/noext", b"")
    store.head("videos/cam 1/%2F/x.mp4")
    store.get("videos/cam 1/x.mp4", 1, 3)
    store.get("videos/cam 1/x.mp4", 7)
    store.delete("videos/cam 1/x.mp4")


def _comparable(request: Captured) -> tuple[str, str, dict[str, str], bytes]:
    headers = {k: v for k, v in request.headers.items() if k not in TRANSPORT_HEADERS}
    return request.method, request.target, headers, request.body


def test_requests_on_the_wire_match_oss2() -> None:
    clock = ManualClock(wall_ms=1_764_380_000_000)
    with capture_server() as server:
        _calls(_oss2_store(server.endpoint, clock))
        _calls(_http_store(server.endpoint, clock))
    requests = [_comparable(r) for r in server.requests]
    by_oss2, by_http = requests[:9], requests[9:]
    assert len(by_http) == 9
    for ours, theirs in zip(by_http, by_oss2, strict=True):
        assert ours == theirs
    append = by_http[0]
    assert append[2]["authorization"].startswith(f"OSS {KEYS.access_key_id}:")
    assert append[2]["x-oss-security-token"] == KEYS.security_token
    assert append[2]["date"] == "Sat, 29 Nov 2025 01:33:20 GMT"


def test_signature_moves_with_the_device_clock() -> None:
    clock = ManualClock(wall_ms=1_764_380_000_000)
    headers: dict[str, str] = {}
    RequestSigner(lambda: KEYS, clock).sign("HEAD", "b", "k", {}, headers)
    clock.advance(3600)
    later: dict[str, str] = {}
    RequestSigner(lambda: KEYS, clock).sign("HEAD", "b", "k", {}, later)
    assert later["date"] == "Sat, 29 Nov 2025 02:33:20 GMT"
    assert later["authorization"] != headers["authorization"]


def test_string_to_sign_matches_the_protocol_reference_vector() -> None:
    # docs: oss-sts-protocol.md section 1.1, checked there against oss2 2.19.1.
    headers = {
        "content-type": "text/plain",
        "x-oss-meta-owner": "me",
        "date": "Sat, 05 Dec 2015 11:10:29 GMT",
    }
    resource = canonical_resource(
        "my-bucket", "logs/app 1.log", {"append": "", "position": "0", "foo": "bar"}
    )
    text = string_to_sign("POST", headers, resource)
    assert text == (
        "POST\n\ntext/plain\nSat, 05 Dec 2015 11:10:29 GMT\nx-oss-meta-owner:me\n"
        "/my-bucket/logs/app 1.log?append&position=0"
    )
    # The signer dates the request itself: a clock at the vector's date gives its signature.
    signed = {"content-type": "text/plain", "x-oss-meta-owner": "me"}
    RequestSigner(
        lambda: AccessKeys("AKIDEXAMPLE", "SECRETEXAMPLE"),
        ManualClock(wall_ms=1_449_313_829_000),
    ).sign("POST", "my-bucket", "logs/app 1.log", {"append": "", "position": "0"}, signed)
    assert signed["date"] == headers["date"]
    assert signed["authorization"] == "OSS AKIDEXAMPLE:zvPc8isQ5xosH8S8fWimugTjSD0="
    assert "x-oss-security-token" not in signed


@pytest.mark.parametrize(
    ("endpoint", "host", "host_header", "target"),
    [
        ("http://127.0.0.1:9000", "127.0.0.1", "127.0.0.1:9000", "/media/a%2Fb%20c"),
        ("http://localhost:9000", "localhost", "localhost:9000", "/media/a%2Fb%20c"),
        ("http://[::1]:9000", "::1", "[::1]:9000", "/media/a%2Fb%20c"),
        ("https://oss-cn-hangzhou.aliyuncs.com", "media.oss-cn-hangzhou.aliyuncs.com",
         "media.oss-cn-hangzhou.aliyuncs.com", "/a%2Fb%20c"),
        ("oss.local:8080", "media.oss.local", "media.oss.local:8080", "/a%2Fb%20c"),
    ],
)  # fmt: skip
def test_path_style_for_ip_and_localhost_virtual_host_otherwise(
    endpoint: str, host: str, host_header: str, target: str
) -> None:
    address = Address.of(endpoint, "media")
    assert (address.connect_host(), address.host_header) == (host, host_header)
    assert address.target("a/b c") == target
    if host == "::1":
        return  # oss2 2.19.1 drops an IPv6 endpoint's brackets and builds "media.::1:9000"
    # The URL oss2 builds for the same endpoint, bucket and key.
    url_maker = oss2.api._UrlMaker(oss2.api._normalize_endpoint(endpoint), False, False)
    assert url_maker("media", "a/b c") == f"{address.scheme}://{host_header}{target}"


def test_the_package_surface() -> None:
    assert device.osshttp.__all__ == ["AccessKeys", "HttpObjectStore", "RequestSigner"]
    assert "secret" not in repr(AccessKeys("id", "secret", "token"))
    assert "token" not in repr(AccessKeys("id", "secret", "token"))


def _outcome(call: Callable[[], object]) -> tuple[object, ...]:
    failure: DeviceError | None = None
    try:
        value = call()
    except DeviceError as exc:
        failure = exc
    if failure is None:
        return ("ok", type(value).__name__)
    return (type(failure).__name__, failure.code, failure.object_key, failure.position,
            bool(failure.request_id), getattr(failure, "next_position", None),
            failure.__cause__)  # fmt: skip


def _failing_calls(store: ObjectStore, key: str) -> list[Callable[[], object]]:
    return [
        lambda: store.append(key, 4, b"x"),  # PositionNotEqualToLength
        lambda: store.append(PREFIX + "normal", 3, b"x"),  # ObjectNotAppendable
        lambda: store.append(key, 10, b"x" * 95),  # ObjectSizeTooLarge
        lambda: store.delete(key),  # AccessDenied by the session policy
        lambda: store.append("videos/other/x.mp4", 0, b"x"),  # AccessDenied
        lambda: store.head("videos/other/x.mp4"),  # AccessDenied on HEAD (x-oss-err)
        lambda: store.get(PREFIX + "missing"),  # NoSuchKey
        lambda: store.head(PREFIX + "missing"),  # None
    ]


def test_both_clients_raise_the_same_error_for_the_same_answer(
    make_emulator: Callable[..., EmulatorHandle],
) -> None:
    emulator = make_emulator(max_append_size=100)
    root_store(emulator).put(PREFIX + "normal", b"put")
    outcomes = []
    for client in ("oss2", "http"):
        key = f"{PREFIX}{client}.mp4"
        store = camera_store(emulator, PREFIX, client=client)
        store.append(key, 0, b"0123456789")
        outcomes.append([_outcome(call) for call in _failing_calls(store, key)])
    by_oss2, by_http = outcomes
    # The keys differ by client name; compare everything else.
    strip = [tuple(v.replace("http", "oss2") if isinstance(v, str) else v for v in o)
             for o in by_http]  # fmt: skip
    assert strip == by_oss2
    names = [o[0] for o in by_http]
    assert names == ["PositionMismatch", "ObjectNotAppendable", "ObjectTooLarge", "AccessDenied",
                     "AccessDenied", "AccessDenied", "ObjectNotFound", "ok"]  # fmt: skip


def test_head_of_a_missing_bucket_raises(emulator: EmulatorHandle) -> None:
    store = HttpObjectStore(
        RequestSigner(lambda: AccessKeys(emulator.access_key_id, emulator.access_key_secret),
                      ManualClock(wall_ms=_now_ms())),
        emulator.oss_endpoint,
        "no-such-bucket",
    )  # fmt: skip
    with pytest.raises(ObjectNotFound) as info:
        store.head("x")
    assert info.value.code == "NoSuchBucket"


def _now_ms() -> int:
    return int(time.time() * 1000)


def test_keep_alive_reuses_one_connection(emulator: EmulatorHandle) -> None:
    store = camera_store(emulator, PREFIX, client="http")
    assert isinstance(store, HttpObjectStore)
    position = 0
    for _ in range(20):
        position = store.append(PREFIX + "kept.mp4", position, b"x" * 1000).next_position
    assert store.head(PREFIX + "kept.mp4") is not None
    assert position == 20_000
    assert store.connections_opened == 1


def test_a_connection_the_server_dropped_is_replaced() -> None:
    clock = ManualClock(wall_ms=_now_ms())
    with capture_server(drop_after_answer=True) as server:
        store = _http_store(server.endpoint, clock)
        for position in range(0, 50, 10):
            # Each answer says keep-alive, then the server closes: the next request must
            # go out on a new connection instead of failing on the dead one.
            assert store.append("k.mp4", position, b"0123456789").next_position == position + 10
            assert server.dropped.acquire(timeout=5)
        assert store.connections_opened == server.connections == 5
        assert len(server.requests) == 5


def test_answers_oss2_would_not_parse_still_raise_device_errors() -> None:
    clock = ManualClock(wall_ms=_now_ms())
    error = b"<Error><Code>InternalError</Code><Message>x & y</Message></Error>"  # not XML
    with capture_server() as server:
        server.canned = [
            (404, {}, b""),  # a HEAD 404 without x-oss-err: no such object
            (404, {"x-oss-err": "bm90IGJhc2U2NA=="}, b""),  # x-oss-err that is not XML
            (200, {"x-oss-next-append-position": "twelve"}, b""),
            (409, {}, b"<Error><Code>PositionNotEqualToLength</Code></Error>"),  # no position
            (500, {"Content-Type": "application/xml"}, error),
            (200, {"x-oss-hash-crc64ecma": "1"}, b""),  # a put whose CRC differs
        ]
        store = _http_store(server.endpoint, clock)
        assert store.head("a.mp4") is None
        assert store.head("b.mp4") is None
        outcomes = [
            _outcome(lambda: store.append("k.mp4", 0, b"x")),
            _outcome(lambda: store.append("k.mp4", 3, b"x")),
            _outcome(lambda: store.append("k.mp4", 3, b"x")),
            _outcome(lambda: store.put("k.m3u8", b"x")),
        ]
    assert [o[:4] for o in outcomes] == [
        ("TransientStorageError", "bad_response", "k.mp4", 0),
        ("TransientStorageError", "bad_response", "k.mp4", 3),
        ("TransientStorageError", "InternalError", "k.mp4", 3),
        ("IntegrityError", "integrity", "k.m3u8", None),
    ]
