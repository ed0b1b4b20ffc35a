"""The request pipeline as pure logic: fake clock, in-memory state, counting minter."""

from __future__ import annotations

import json
import uuid

import pytest
import redis

from cloud.errors import StsRejected, StsThrottled, StsUnavailable
from cloud.responder.pipeline import Dropped, Reply
from cloud.settings import Limits
from cloud.state.redis import RedisState
from schemas import (
    CredsResponseError,
    CredsResponseOk,
    DeviceKeys,
    Topics,
    build_request,
    encode,
    new_device_secret,
    open_ok_response,
    parse_response,
    verify_error_response,
)
from tests.cloud.kit import Rig, make_rig

TOPICS = Topics()


@pytest.fixture
def rig() -> Rig:
    return make_rig()


def _add(rig: Rig, device_id: str = "cam-0001", access: frozenset[str] | None = None) -> DeviceKeys:
    if access is None:
        _, secret = rig.registry.add(device_id)
    else:
        _, secret = rig.registry.add(device_id, access=access)
    return DeviceKeys.from_secret(secret)


def _request(
    rig: Rig,
    keys: DeviceKeys,
    device_id: str = "cam-0001",
    *,
    access: str = "append",
    duration_s: int = 900,
    skew_ms: int = 0,
    nonce: str | None = None,
    request_id: str | None = None,
) -> bytes:
    req = build_request(
        keys,
        device_id,
        access=access,
        duration_s=duration_s,
        now_ms=rig.clock() + skew_ms,
        nonce=nonce,
        request_id=request_id,
    )
    return encode(req)


def _send(rig: Rig, payload: bytes, device_id: str = "cam-0001") -> Reply:
    out = rig.pipeline.handle(TOPICS.creds_req(device_id), payload)
    assert isinstance(out, Reply)
    assert out.topic == TOPICS.creds_res(device_id)
    return out


def _error(reply: Reply, keys: DeviceKeys | None, code: str) -> CredsResponseError:
    resp = parse_response(reply.payload)
    assert isinstance(resp, CredsResponseError)
    assert resp.error.code == code
    assert reply.outcome == code
    if keys is None:
        assert resp.sig is None
    else:
        assert verify_error_response(keys, resp)
    return resp


def test_valid_request_gets_sealed_scoped_credentials(rig: Rig) -> None:
    keys = _add(rig)
    reply = _send(rig, _request(rig, keys, duration_s=1))
    resp = parse_response(reply.payload)
    assert isinstance(resp, CredsResponseOk)
    payload = open_ok_response(keys, resp)
    assert payload.grant.prefix == "videos/cam-0001/"
    assert payload.grant.access == "append"
    assert payload.grant.bucket == rig.settings.grant.bucket
    assert payload.credentials.access_key_id == "STS.fake0"
    assert resp.server_time_ms == rig.clock()
    [(session, policy, duration)] = rig.minter.calls
    assert session == "cam-0001"
    assert duration == 900  # clamped up to the protocol minimum
    doc = json.loads(policy)
    assert doc["Statement"][0]["Resource"] == ["acs:oss:*:*:ossmedia-videos/videos/cam-0001/*"]
    assert reply.credential_source == "miss"


def test_duration_is_clamped_to_the_configured_maximum() -> None:
    rig = make_rig(max_duration_s=1800)
    keys = _add(rig)
    _send(rig, _request(rig, keys, duration_s=43200))
    assert rig.minter.calls[0][2] == 1800


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"x" * 20000, "payload too large"),
        (b"\xff\xfe not json", "payload is not a JSON object"),
        (b"[1, 2]", "payload is not a JSON object"),
        (b"{" * 40 + b"}" * 40, "payload is not a JSON object"),
    ],
)
def test_unreadable_payload_is_invalid_request_signed_for_a_known_device(
    rig: Rig, payload: bytes, message: str
) -> None:
    keys = _add(rig)
    resp = _error(_send(rig, payload), keys, "invalid_request")
    assert resp.request_id is None
    assert resp.error.message == message


def test_schema_error_echoes_a_readable_request_id(rig: Rig) -> None:
    keys = _add(rig)
    doc = json.loads(_request(rig, keys))
    doc["duration_s"] = "900"
    resp = _error(_send(rig, json.dumps(doc).encode()), keys, "invalid_request")
    assert resp.request_id == doc["request_id"]
    assert not rig.minter.calls


def test_a_request_in_another_json_layout_is_served_like_a_compact_one(rig: Rig) -> None:
    keys = _add(rig)
    compact = _request(rig, keys)
    doc = json.loads(compact)
    spaced = json.dumps(doc, indent=1).encode()  # whitespace: read by the full JSON path
    reply = _send(rig, spaced)
    assert reply.outcome == "ok"
    assert isinstance(parse_response(reply.payload), CredsResponseOk)
    # The same request in compact form is a duplicate delivery: the stored answer again.
    assert _send(rig, compact).payload == reply.payload
    # Its nonce on another request is a replay, whichever layout the replay arrives in.
    other = json.loads(_request(rig, keys, nonce=doc["nonce"]))
    _error(_send(rig, json.dumps(other, indent=1).encode()), keys, "replay")


def test_unknown_device_gets_an_unsigned_error(rig: Rig) -> None:
    keys = DeviceKeys.from_secret(new_device_secret())
    _error(_send(rig, _request(rig, keys)), None, "unknown_device")
    # Even garbage on an unknown device's topic is answered, unsigned.
    _error(_send(rig, b"garbage"), None, "invalid_request")


def test_body_device_must_match_the_topic(rig: Rig) -> None:
    keys_a = _add(rig, "cam-a1")
    _add(rig, "cam-b1")
    # A valid request of cam-a1 published on cam-b1's topic: refused, answered to cam-b1.
    reply = _send(rig, _request(rig, keys_a, "cam-a1"), device_id="cam-b1")
    resp = parse_response(reply.payload)
    assert isinstance(resp, CredsResponseError)
    assert resp.error.code == "invalid_request"
    assert resp.device_id == "cam-b1"
    assert not rig.minter.calls


def test_revoked_device_gets_a_signed_revoked(rig: Rig) -> None:
    keys = _add(rig)
    rig.registry.revoke("cam-0001")
    _error(_send(rig, _request(rig, keys)), keys, "revoked")


def test_bad_signature_and_rotation(rig: Rig) -> None:
    old = _add(rig)
    _, secret = rig.registry.rotate("cam-0001")
    new = DeviceKeys.from_secret(secret)
    # Signed with the key the responder holds (the new one), so the old key cannot verify it.
    _error(_send(rig, _request(rig, old)), new, "bad_signature")
    assert isinstance(parse_response(_send(rig, _request(rig, new)).payload), CredsResponseOk)


@pytest.mark.parametrize("skew_s", [-301, 301, 3600, -86400])
def test_clock_skew_carries_server_time(rig: Rig, skew_s: int) -> None:
    keys = _add(rig)
    resp = _error(_send(rig, _request(rig, keys, skew_ms=skew_s * 1000)), keys, "clock_skew")
    assert resp.server_time_ms == rig.clock()


@pytest.mark.parametrize("skew_s", [-300, 300])
def test_skew_at_the_window_edge_is_accepted(rig: Rig, skew_s: int) -> None:
    keys = _add(rig)
    assert _send(rig, _request(rig, keys, skew_ms=skew_s * 1000)).outcome == "ok"


def test_checks_run_in_order(rig: Rig) -> None:
    keys = _add(rig)
    stranger = DeviceKeys.from_secret(new_device_secret())
    # Bad signature and clock skew at once: the signature is checked first.
    _error(_send(rig, _request(rig, stranger, skew_ms=10**7)), keys, "bad_signature")
    # Revoked and bad signature: revocation first.
    rig.registry.revoke("cam-0001")
    _error(_send(rig, _request(rig, stranger)), keys, "revoked")


def test_duplicate_gets_the_same_answer_and_one_sts_call(rig: Rig) -> None:
    keys = _add(rig)
    payload = _request(rig, keys)
    first = _send(rig, payload)
    rig.clock.advance(1000)
    again = _send(rig, payload)
    assert again.payload == first.payload
    assert again.outcome == "duplicate"
    assert len(rig.minter.calls) == 1


def test_reused_nonce_on_another_request_is_replay(rig: Rig) -> None:
    keys = _add(rig)
    payload = _request(rig, keys)
    nonce = json.loads(payload)["nonce"]
    _send(rig, payload)
    _error(_send(rig, _request(rig, keys, nonce=nonce)), keys, "replay")
    # Same request id and nonce, different fields (so a different signature): still a replay.
    request_id = json.loads(payload)["request_id"]
    other = _request(rig, keys, nonce=nonce, request_id=request_id, access="read")
    _error(_send(rig, other), keys, "replay")


def test_nonce_memory_covers_the_skew_window(rig: Rig) -> None:
    keys = _add(rig)
    # Issued as far in the future as the window allows: it stays valid for two windows.
    payload = _request(rig, keys, skew_ms=300_000)
    nonce = json.loads(payload)["nonce"]
    _send(rig, payload)
    rig.clock.advance(599_000)
    late = _request(rig, keys, nonce=nonce, skew_ms=-299_000)
    _error(_send(rig, late), keys, "replay")
    rig.clock.advance(2_000)
    # Past issued_at + window the old request could not pass the skew check any more.
    stale = build_request(
        keys, "cam-0001", access="append", duration_s=900, now_ms=rig.clock() - 301_000, nonce=nonce
    )
    _error(_send(rig, encode(stale)), keys, "clock_skew")


def test_per_device_rate_limit_with_retry_after() -> None:
    rig = make_rig(limits=Limits(device_requests_per_minute=2, device_burst=2))
    keys = _add(rig)
    other = _add(rig, "cam-0002")
    assert _send(rig, _request(rig, keys)).outcome == "ok"
    assert _send(rig, _request(rig, keys)).outcome == "ok"
    limited = _error(_send(rig, _request(rig, keys)), keys, "rate_limited")
    assert limited.error.retry_after_ms == 30_000
    # Other devices are not affected.
    assert _send(rig, _request(rig, other, "cam-0002"), "cam-0002").outcome == "ok"
    rig.clock.advance(30_000)
    assert _send(rig, _request(rig, keys)).outcome == "ok"


def test_duplicate_of_an_error_gets_the_same_error(rig: Rig) -> None:
    keys = _add(rig, access=frozenset({"append"}))
    payload = _request(rig, keys, access="read")
    first = _send(rig, payload)
    assert first.outcome == "access_denied"
    rig.clock.advance(1_000)
    assert _send(rig, payload).payload == first.payload


def test_a_duplicate_of_an_answered_request_skips_the_rate_check() -> None:
    rig = make_rig(limits=Limits(device_requests_per_minute=1, device_burst=1))
    keys = _add(rig)
    payload = _request(rig, keys)
    first = _send(rig, payload)
    assert first.outcome == "ok"
    again = _send(rig, payload)  # the bucket is empty, but this is the same request
    assert (again.outcome, again.payload) == ("duplicate", first.payload)


def test_a_rate_limited_request_leaves_no_nonce_behind() -> None:
    # Refused before its nonce is recorded: once the device is under its rate again, the
    # same (still fresh) request is decided anew instead of being answered from storage.
    rig = make_rig(limits=Limits(device_requests_per_minute=1, device_burst=1))
    keys = _add(rig)
    _send(rig, _request(rig, keys))
    payload = _request(rig, keys)
    assert _send(rig, payload).outcome == "rate_limited"
    rig.clock.advance(60_000)
    assert _send(rig, payload).outcome == "ok"


def test_a_flood_from_one_device_does_not_grow_the_shared_state(redis_url: str) -> None:
    # 2,000 validly signed, fresh requests from one camera over 20 s, against a real Redis:
    # only what its rate admits may be stored (the nonce records of admitted requests, the
    # rate key, the cached credential), not one record per request. After each rate_limited
    # answer the camera's requests are dropped until its retry_after has passed.
    state = RedisState.from_url(redis_url, key_prefix=f"flood-{uuid.uuid4().hex[:8]}")
    client = redis.Redis.from_url(redis_url)
    try:
        before = client.dbsize()
        rig = make_rig(limits=Limits(device_requests_per_minute=10, device_burst=5), state=state)
        keys = _add(rig)
        outcomes: dict[str, int] = {}
        for _ in range(2_000):
            out = rig.pipeline.handle(TOPICS.creds_req("cam-0001"), _request(rig, keys))
            outcome = out.outcome if isinstance(out, Reply) else f"dropped:{out.reason}"
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            rig.clock.advance(10)
        # burst 5, then one every 6 s (3 in 20 s); three refusals per retry-after, then muted
        assert outcomes["ok"] == 5 + 3
        assert outcomes["rate_limited"] <= 3 * 4
        assert outcomes["dropped:muted"] == 2_000 - outcomes["ok"] - outcomes["rate_limited"]
        assert client.dbsize() - before <= 8 + 3
    finally:
        client.close()
        state.close()


def test_a_refused_device_is_dropped_until_its_retry_after() -> None:
    muted_now: list[str] = []
    rig = make_rig(
        limits=Limits(device_requests_per_minute=2, device_burst=1), on_muted=muted_now.append
    )
    keys = _add(rig)
    other = _add(rig, "cam-0002")
    assert _send(rig, _request(rig, keys)).outcome == "ok"
    for _ in range(3):  # told three times to wait 30 s ...
        limited = _error(_send(rig, _request(rig, keys)), keys, "rate_limited")
        assert limited.error.retry_after_ms == 30_000
    muted = rig.pipeline.handle(TOPICS.creds_req("cam-0001"), _request(rig, keys))
    assert muted == Dropped("muted")  # ... then no longer answered until the 30 s are over
    assert muted_now == ["cam-0001"]  # told once, at the moment it was muted
    assert _send(rig, _request(rig, other, "cam-0002"), "cam-0002").outcome == "ok"
    rig.clock.advance(30_000)  # a camera that waits as told is answered again
    assert _send(rig, _request(rig, keys)).outcome == "ok"


def test_access_not_granted_is_denied(rig: Rig) -> None:
    keys = _add(rig, access=frozenset({"append"}))
    _error(_send(rig, _request(rig, keys, access="read")), keys, "access_denied")
    _error(_send(rig, _request(rig, keys, access="write")), keys, "access_denied")
    assert _send(rig, _request(rig, keys, access="append")).outcome == "ok"
    assert len(rig.minter.calls) == 1


@pytest.mark.parametrize(
    ("error", "code", "retry"),
    [
        (StsThrottled("x", code="Throttling.User", retry_after_ms=1234), "sts_throttled", 1234),
        (StsUnavailable("x", code="SDK.HttpError"), "sts_unavailable", 5000),
        (StsRejected("x", code="NoPermission", http_status=403), "internal", None),
    ],
)
def test_sts_failures_map_to_codes(
    rig: Rig, error: Exception, code: str, retry: int | None
) -> None:
    keys = _add(rig)
    rig.minter.fail_with = error  # type: ignore[assignment]
    resp = _error(_send(rig, _request(rig, keys)), keys, code)
    assert resp.error.retry_after_ms == retry


def test_cached_credentials_are_reused_while_half_the_lifetime_remains(rig: Rig) -> None:
    keys = _add(rig)
    first = open_ok_response(keys, parse_response(_send(rig, _request(rig, keys)).payload))  # type: ignore[arg-type]
    rig.clock.advance(449_000)
    reply = _send(rig, _request(rig, keys))
    assert reply.credential_source == "hit"
    second = open_ok_response(keys, parse_response(reply.payload))  # type: ignore[arg-type]
    assert second.credentials.access_key_id == first.credentials.access_key_id
    rig.clock.advance(2_000)
    reply = _send(rig, _request(rig, keys))
    assert reply.credential_source == "miss"
    assert len(rig.minter.calls) == 2
    # Another access mode has its own policy, so its own credentials.
    assert _send(rig, _request(rig, keys, access="read")).credential_source == "miss"


@pytest.mark.parametrize(
    "topic",
    [
        "ossmedia/v1/cam-0001/creds/res",
        "ossmedia/v1/cam-0001/events",
        "ossmedia/v1/../creds/req",
        "ossmedia/v1/a/creds/req",
        "ossmedia/v2/cam-0001/creds/req",
        "other/v1/cam-0001/creds/req",
        "ossmedia/v1/cam 1/creds/req",
        "",
    ],
)
def test_topics_that_name_no_device_are_dropped(rig: Rig, topic: str) -> None:
    _add(rig)
    assert isinstance(rig.pipeline.handle(topic, b"{}"), Dropped)


def test_registry_lookups_are_reused_for_the_device_cache_time() -> None:
    rig = make_rig(limits=Limits(device_cache_s=2))
    keys = _add(rig)
    assert _send(rig, _request(rig, keys)).outcome == "ok"
    rig.registry.revoke("cam-0001")
    # Within the cache time the revocation is not seen yet; right after it, it is.
    assert _send(rig, _request(rig, keys)).outcome == "ok"
    rig.clock.advance(2_000)
    _error(_send(rig, _request(rig, keys)), keys, "revoked")
    # Unknown devices are cached too, and provisioning shows up after the cache time.
    stranger = DeviceKeys.from_secret(new_device_secret())
    _error(_send(rig, _request(rig, stranger, "cam-late"), "cam-late"), None, "unknown_device")
    _, secret = rig.registry.add("cam-late")
    late = DeviceKeys.from_secret(secret)
    _error(_send(rig, _request(rig, late, "cam-late"), "cam-late"), None, "unknown_device")
    rig.clock.advance(2_000)
    assert _send(rig, _request(rig, late, "cam-late"), "cam-late").outcome == "ok"


def test_success_reply_bytes_match_the_schemas_encoder() -> None:
    from cloud.responder.pipeline import ok_reply_bytes
    from schemas import CredsResponseOk, DeviceId

    sealed = "wMHCw8TFxsfIycrLqXOgZGQMcpyWEaSs6166m1w_RvsOzRa9UjYFW7tdjEALOX57"
    model = CredsResponseOk(
        device_id=DeviceId("cam-0001"),
        request_id="0123456789abcdef0123456789abcdef",
        server_time_ms=1764380000456,
        sealed=sealed,
    )
    expected = encode(model)
    assert (
        ok_reply_bytes("cam-0001", "0123456789abcdef0123456789abcdef", 1764380000456, sealed)
        == expected
    )
