"""Protocol conformance over real Mosquitto against a real responder and STS emulator.

The client side is tests/cloud/protocol_client.py, written from docs/protocol.md only. Every
error code of the protocol is produced here, plus the duplicate-versus-replay rule.
"""

from __future__ import annotations

import os
import time

import pytest
from cryptography.exceptions import InvalidTag

from simulator.emulator.handle import EmulatorHandle
from tests.cloud.protocol_client import (
    Delivery,
    Keys,
    ProtocolClient,
    b64url,
    encode,
    error_signature_ok,
    make_request,
    open_sealed,
    unb64url,
)
from tests.cloud.responder.harness import Live, LiveFactory


def _error(reply: Delivery, keys: Keys | None, code: str) -> dict[str, object]:
    doc = reply.doc
    assert doc["kind"] == "creds.response"
    assert doc["ok"] is False
    assert doc["error"]["code"] == code, doc["error"]
    assert set(doc) == {
        "v",
        "kind",
        "device_id",
        "request_id",
        "ok",
        "server_time_ms",
        "error",
        "sig",
    }
    if keys is None:
        assert doc["sig"] is None
    else:
        assert error_signature_ok(keys, doc)
    assert reply.retain is False
    return doc


def test_success_reply_follows_the_document(live: Live, client: ProtocolClient) -> None:
    keys = Keys.from_secret(live.provision("cam-0001"))
    request = make_request(keys, "cam-0001", duration_s=1200)
    before = int(time.time() * 1000)
    reply = client.ask("cam-0001", request)
    doc = reply.doc
    assert list(doc) == ["v", "kind", "device_id", "request_id", "ok", "server_time_ms", "sealed"]
    assert doc["v"] == 1
    assert doc["ok"] is True
    assert doc["device_id"] == "cam-0001"
    assert doc["request_id"] == request["request_id"]
    assert reply.retain is False
    assert reply.expiry == live.settings.broker.reply_expiry_s  # MQTT 5 message expiry
    payload = open_sealed(keys, doc)
    assert set(payload) == {"credentials", "grant"}
    creds, grant = payload["credentials"], payload["grant"]
    assert set(creds) == {"access_key_id", "access_key_secret", "security_token", "expiration_ms"}
    assert grant["prefix"] == "videos/cam-0001/"
    assert grant["access"] == "append"
    assert grant["bucket"] == live.settings.grant.bucket
    assert grant["expires_at_ms"] == creds["expiration_ms"]
    assert before + 1190_000 <= creds["expiration_ms"] <= before + 1210_000
    # Tampering with any authenticated header field makes the seal fail.
    with pytest.raises(InvalidTag):
        open_sealed(keys, {**doc, "server_time_ms": doc["server_time_ms"] + 1})
    raw = bytearray(unb64url(doc["sealed"]))
    raw[20] ^= 1
    with pytest.raises(InvalidTag):
        open_sealed(keys, {**doc, "sealed": b64url(bytes(raw))})


def test_invalid_requests_get_signed_invalid_request(live: Live, client: ProtocolClient) -> None:
    keys = Keys.from_secret(live.provision("cam-0002"))
    doc = _error(client.ask("cam-0002", b"\x00" * 17000), keys, "invalid_request")
    assert doc["request_id"] is None
    doc = _error(client.ask("cam-0002", b"not json"), keys, "invalid_request")
    assert doc["request_id"] is None
    request = make_request(keys, "cam-0002")
    del request["nonce"]
    doc = _error(client.ask("cam-0002", request), keys, "invalid_request")
    assert doc["request_id"] == request["request_id"]
    wrong_type = {**make_request(keys, "cam-0002"), "issued_at_ms": "1764380000123"}
    _error(client.ask("cam-0002", wrong_type), keys, "invalid_request")
    extra_field = {**make_request(keys, "cam-0002"), "admin": True}
    _error(client.ask("cam-0002", extra_field), keys, "invalid_request")


def test_topic_and_body_device_must_match(live: Live, client: ProtocolClient) -> None:
    keys_a = Keys.from_secret(live.provision("cam-000a"))
    keys_b = Keys.from_secret(live.provision("cam-000b"))
    reply = client.ask("cam-000a", make_request(keys_a, "cam-000a"), topic_device="cam-000b")
    doc = _error(reply, keys_b, "invalid_request")
    assert doc["device_id"] == "cam-000b"
    assert client.count("cam-000a") == 0


def test_unknown_device_gets_an_unsigned_reply(live: Live, client: ProtocolClient) -> None:
    keys = Keys.from_secret(b64url(os.urandom(32)))
    _error(client.ask("cam-ghost", make_request(keys, "cam-ghost")), None, "unknown_device")


def test_revoked_device(live: Live, client: ProtocolClient) -> None:
    keys = Keys.from_secret(live.provision("cam-0003"))
    assert client.ask("cam-0003", make_request(keys, "cam-0003")).doc["ok"] is True
    live.registry.revoke("cam-0003")
    _error(client.ask("cam-0003", make_request(keys, "cam-0003")), keys, "revoked")


def test_bad_signature_after_rotation(live: Live, client: ProtocolClient) -> None:
    old = Keys.from_secret(live.provision("cam-0004"))
    new = Keys.from_secret(live.registry.rotate("cam-0004")[1])
    _error(client.ask("cam-0004", make_request(old, "cam-0004")), new, "bad_signature")
    assert client.ask("cam-0004", make_request(new, "cam-0004")).doc["ok"] is True


def test_clock_skew_then_adopting_server_time(live: Live, client: ProtocolClient) -> None:
    keys = Keys.from_secret(live.provision("cam-0005"))
    camera_offset = -3_600_000  # the camera's clock is an hour behind
    local = int(time.time() * 1000) + camera_offset
    doc = _error(
        client.ask("cam-0005", make_request(keys, "cam-0005", issued_at_ms=local)),
        keys,
        "clock_skew",
    )
    adopted = doc["server_time_ms"] - local  # type: ignore[operator]
    again = make_request(
        keys, "cam-0005", issued_at_ms=int(time.time() * 1000) + camera_offset + adopted
    )
    assert client.ask("cam-0005", again).doc["ok"] is True


def test_duplicate_gets_the_same_answer_replay_does_not(
    live: Live, client: ProtocolClient, emulator: EmulatorHandle
) -> None:
    keys = Keys.from_secret(live.provision("cam-0006"))
    request = make_request(keys, "cam-0006")
    first = client.ask("cam-0006", request)
    second = client.ask("cam-0006", request)  # a QoS 1 redelivery of the very same request
    assert second.payload == first.payload
    assert open_sealed(keys, second.doc) == open_sealed(keys, first.doc)
    replay = make_request(keys, "cam-0006", nonce=request["nonce"])
    _error(client.ask("cam-0006", replay), keys, "replay")
    # The duplicate of a replay is a replay again; the original keeps its answer.
    _error(client.ask("cam-0006", replay), keys, "replay")
    assert client.ask("cam-0006", request).payload == first.payload


def test_rate_limited_with_retry_after(live_factory: LiveFactory, client: ProtocolClient) -> None:
    live = live_factory(limits={"device_requests_per_minute": 1, "device_burst": 1})
    keys = Keys.from_secret(live.provision("cam-0007"))
    assert client.ask("cam-0007", make_request(keys, "cam-0007")).doc["ok"] is True
    doc = _error(client.ask("cam-0007", make_request(keys, "cam-0007")), keys, "rate_limited")
    assert 55_000 <= doc["error"]["retry_after_ms"] <= 60_000  # type: ignore[index]


def test_access_denied(live: Live, client: ProtocolClient) -> None:
    keys = Keys.from_secret(live.provision("cam-0008", frozenset({"append"})))
    _error(
        client.ask("cam-0008", make_request(keys, "cam-0008", access="read")), keys, "access_denied"
    )


def test_sts_throttled_by_the_call_cap(live_factory: LiveFactory, client: ProtocolClient) -> None:
    live = live_factory(limits={"sts_calls_per_second": 0.2, "sts_max_queue_ms": 0})
    keys_a = Keys.from_secret(live.provision("cam-0009"))
    keys_b = Keys.from_secret(live.provision("cam-0010"))
    assert client.ask("cam-0009", make_request(keys_a, "cam-0009")).doc["ok"] is True
    doc = _error(client.ask("cam-0010", make_request(keys_b, "cam-0010")), keys_b, "sts_throttled")
    assert 1 <= doc["error"]["retry_after_ms"] <= 5_000  # type: ignore[index]


def test_sts_throttled_by_sts(live: Live, client: ProtocolClient, emulator: EmulatorHandle) -> None:
    keys = Keys.from_secret(live.provision("cam-0011"))
    emulator.set_faults({"rules": [{"operations": ["AssumeRole"], "throttle_rate": 1.0}]})
    doc = _error(client.ask("cam-0011", make_request(keys, "cam-0011")), keys, "sts_throttled")
    assert doc["error"]["retry_after_ms"]  # type: ignore[index]
    emulator.clear_faults()
    assert client.ask("cam-0011", make_request(keys, "cam-0011")).doc["ok"] is True


def test_sts_unavailable(live: Live, client: ProtocolClient, emulator: EmulatorHandle) -> None:
    keys = Keys.from_secret(live.provision("cam-0012"))
    emulator.set_faults({"rules": [{"operations": ["AssumeRole"], "error_rate": 1.0}]})
    doc = _error(client.ask("cam-0012", make_request(keys, "cam-0012")), keys, "sts_unavailable")
    assert doc["error"]["retry_after_ms"]  # type: ignore[index]


def test_internal_when_sts_refuses_the_role(
    live_factory: LiveFactory, client: ProtocolClient, emulator: EmulatorHandle
) -> None:
    # A role STS refuses is found by the start-up check (test_startup.py); here it is only
    # met by a request, as when the role is deleted while the responder runs.
    live = live_factory(
        role_arn=f"acs:ram::{emulator.account_id}:role/no-such-role", check_sts=False
    )
    keys = Keys.from_secret(live.provision("cam-0013"))
    doc = _error(client.ask("cam-0013", make_request(keys, "cam-0013")), keys, "internal")
    assert "secret" not in encode(doc).decode().lower()
    healthy, details = live.responder.health()
    assert not healthy
    assert details["dependencies"]["sts"] == {
        "ok": False,
        "reason": "STS refused AssumeRole (EntityNotExist.Role)",
    }
