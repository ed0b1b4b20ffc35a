"""Message models: strict validation, wire rules, encoding, safe errors and reprs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from schemas import (
    MAX_PAYLOAD_BYTES,
    Credentials,
    CredsRequest,
    CredsResponseError,
    CredsResponseOk,
    DeviceId,
    ErrorCode,
    Grant,
    InvalidMessage,
    PayloadTooLarge,
    SealedPayload,
    SegmentClosed,
    Status,
    StatusState,
    UnsupportedKind,
    encode,
    parse_event,
    parse_request,
    parse_response,
    parse_sealed_payload,
    parse_status,
)

SIG = "A" * 43

REQUEST: dict[str, Any] = {
    "v": 1,
    "kind": "creds.request",
    "device_id": "cam-0001",
    "request_id": "0123456789abcdef0123456789abcdef",
    "issued_at_ms": 1764380000123,
    "nonce": "oKGio6SlpqeoqaqrrK2urw",
    "access": "append",
    "duration_s": 900,
    "sig": SIG,
}

ERROR: dict[str, Any] = {
    "v": 1,
    "kind": "creds.response",
    "device_id": "cam-0001",
    "request_id": None,
    "ok": False,
    "server_time_ms": 5,
    "error": {"code": "clock_skew", "message": "off", "retry_after_ms": None},
    "sig": None,
}

SEGMENT: dict[str, Any] = {
    "v": 1,
    "kind": "segment.closed",
    "device_id": "cam-0001",
    "event_id": "fedcba9876543210fedcba9876543210",
    "seq": 0,
    "key": "videos/cam-0001/a.ts",
    "bytes": 10,
    "crc64": "18446744073709551615",
    "start_ms": 1,
    "end_ms": 2,
    "sig": SIG,
}

STATUS: dict[str, Any] = {
    "v": 1,
    "kind": "status",
    "device_id": "cam-0001",
    "ts_ms": 1,
    "state": "offline",
    "spool_bytes": 0,
    "oldest_unsent_age_ms": None,
    "last_upload_ms": None,
    "cred_expires_at_ms": None,
    "clock_offset_ms": -3,
    "uploaded_bytes": 0,
    "dropped_bytes": 0,
    "alerts": [],
    "sig": None,
}

SEALED: dict[str, Any] = {
    "credentials": {
        "access_key_id": "STS.id",
        "access_key_secret": "TOPSECRETVALUE",
        "security_token": "TOKENVALUE+/=",
        "expiration_ms": 9,
    },
    "grant": {
        "endpoint": "http://127.0.0.1:9000",
        "bucket": "videos",
        "region": "cn-hangzhou",
        "prefix": "videos/cam-0001/",
        "access": "read",
        "expires_at_ms": 9,
    },
}


def wire(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj).encode()


def with_field(obj: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**obj, **changes}


def without(obj: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k != name}


def test_valid_messages_parse() -> None:
    req = parse_request(wire(REQUEST))
    assert req.device_id == "cam-0001"
    assert type(req.device_id) is DeviceId
    assert req.access == "append"
    assert isinstance(parse_response(wire(ERROR)), CredsResponseError)
    ev = parse_event(wire(SEGMENT))
    assert ev.crc64 == 2**64 - 1
    assert parse_status(wire(STATUS)).state is StatusState.OFFLINE
    assert parse_sealed_payload(wire(SEALED)).grant.prefix == "videos/cam-0001/"


@pytest.mark.parametrize(
    "changes",
    [
        {"v": True},
        {"v": 2},
        {"v": "1"},
        {"v": None},
        {"kind": "creds.response"},
        {"device_id": "cam/0001"},
        {"device_id": "c"},
        {"request_id": "0123456789ABCDEF0123456789ABCDEF"},
        {"request_id": "0123456789abcdef0123456789abcde"},
        {"request_id": "0123456789abcdef0123456789abcdef\n"},
        {"issued_at_ms": -1},
        {"issued_at_ms": 2**53},
        {"issued_at_ms": "1764380000123"},
        {"issued_at_ms": True},
        {"nonce": "oKGio6SlpqeoqaqrrK2urw=="},
        {"nonce": "oKGio6SlpqeoqaqrrK2urx"},  # non-canonical trailing bits
        {"nonce": "oKGio6SlpqeoqaqrrK2ur"},
        {"access": "APPEND"},
        {"access": "a"},
        {"access": "delete"},
        {"access": None},
        {"duration_s": 0},
        {"duration_s": 43201},
        {"duration_s": "900"},
        {"sig": SIG + "="},
        {"sig": "A" * 42},
        {"sig": None},
        {"extra": 1},
    ],
)
def test_request_rejects(changes: dict[str, Any]) -> None:
    with pytest.raises(InvalidMessage):
        parse_request(wire(with_field(REQUEST, **changes)))


@pytest.mark.parametrize("name", list(REQUEST))
def test_request_requires_every_field(name: str) -> None:
    with pytest.raises(InvalidMessage, match=name):
        parse_request(wire(without(REQUEST, name)))


def test_duration_bounds_are_inclusive() -> None:
    assert parse_request(wire(with_field(REQUEST, duration_s=1))).duration_s == 1
    assert parse_request(wire(with_field(REQUEST, duration_s=43200))).duration_s == 43200


@pytest.mark.parametrize("name", ["request_id", "sig"])
def test_nullable_fields_must_still_be_present_on_the_wire(name: str) -> None:
    with pytest.raises(InvalidMessage, match=name):
        parse_response(wire(without(ERROR, name)))


def test_nested_fields_must_be_present_on_the_wire() -> None:
    error = {"code": "clock_skew", "message": "off"}
    with pytest.raises(InvalidMessage, match="retry_after_ms"):
        parse_response(wire(with_field(ERROR, error=error)))


def test_python_construction_may_omit_nullable_fields() -> None:
    resp = CredsResponseError(
        device_id=DeviceId("cam-0001"),
        server_time_ms=1,
        error={"code": "internal", "message": ""},  # type: ignore[arg-type]
    )
    assert resp.sig is None
    assert resp.request_id is None
    assert json.loads(encode(resp))["sig"] is None


@pytest.mark.parametrize("ok", [None, 1, 0, "true", "false"])
def test_response_needs_boolean_ok(ok: object) -> None:
    with pytest.raises(InvalidMessage, match="ok"):
        parse_response(wire(with_field(ERROR, ok=ok)))
    with pytest.raises(InvalidMessage, match="ok"):
        parse_response(wire(without(ERROR, "ok")))


def test_response_ok_true_with_error_fields_is_rejected() -> None:
    with pytest.raises(InvalidMessage):
        parse_response(wire(with_field(ERROR, ok=True)))


def test_error_codes_and_messages() -> None:
    for code in ErrorCode:
        error = {"code": code.value, "message": "m", "retry_after_ms": 5}
        assert parse_response(wire(with_field(ERROR, error=error))).error.code is code  # type: ignore[union-attr]
    for bad in [
        {"code": "nope", "message": "m", "retry_after_ms": None},
        {"code": "internal", "message": "x" * 513, "retry_after_ms": None},
        {"code": "internal", "message": "a\nb", "retry_after_ms": None},
        {"code": "internal", "message": "m", "retry_after_ms": -1},
        {"code": "internal", "message": "m", "retry_after_ms": None, "x": 1},
    ]:
        with pytest.raises(InvalidMessage):
            parse_response(wire(with_field(ERROR, error=bad)))


def test_crc64_travels_as_a_decimal_string() -> None:
    ev = parse_event(wire(SEGMENT))
    assert json.loads(encode(ev))["crc64"] == "18446744073709551615"
    for bad in ["18446744073709551616", "-1", "01", "", "1e3", " 1", "0x10", 5, None, "\uff11"]:
        with pytest.raises(InvalidMessage, match="crc64"):
            parse_event(wire(with_field(SEGMENT, crc64=bad)))
    assert parse_event(wire(with_field(SEGMENT, crc64="0"))).crc64 == 0


def test_crc64_accepts_int_in_python() -> None:
    fields = {k: v for k, v in SEGMENT.items() if k not in {"v", "kind", "crc64"}}
    assert SegmentClosed(**fields, crc64=7).crc64 == 7
    assert SegmentClosed(**fields, crc64="7").crc64 == 7
    for bad in [2**64, -1, True, 7.0]:
        with pytest.raises(InvalidMessage, match="crc64"):
            SegmentClosed(**fields, crc64=bad)


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/videos/a",
        "\\videos",
        "videos/../other/a",
        "videos/./a",
        "..",
        "videos/a\n",
        "videos/\x00",
        "videos/\x7f",
        "é" * 512,  # 1024 UTF-8 bytes
    ],
)
def test_object_keys_rejected(key: str) -> None:
    with pytest.raises(InvalidMessage, match="key"):
        parse_event(wire(with_field(SEGMENT, key=key)))


def test_object_key_accepts_unicode_up_to_1023_bytes() -> None:
    key = "v/" + "é" * 510 + "x"
    assert len(key.encode()) == 1023
    assert parse_event(wire(with_field(SEGMENT, key=key))).key == key


def test_unknown_event_kind_is_reported_as_unsupported() -> None:
    with pytest.raises(UnsupportedKind) as info:
        parse_event(wire(with_field(SEGMENT, kind="segment.renamed")))
    assert info.value.kind == "segment.renamed"
    with pytest.raises(UnsupportedKind) as info:
        parse_event(wire(with_field(SEGMENT, kind="k" * 1000)))
    assert len(info.value.kind) == 64
    for bad in [None, 1]:
        with pytest.raises(InvalidMessage):
            parse_event(wire(with_field(SEGMENT, kind=bad)))
    with pytest.raises(InvalidMessage):
        parse_event(wire(without(SEGMENT, "kind")))


def test_status_rules() -> None:
    with pytest.raises(InvalidMessage, match="unsigned"):
        parse_status(wire(with_field(STATUS, state="online")))
    assert parse_status(wire(with_field(STATUS, state="online", sig=SIG))).sig == SIG
    for changes in [
        {"state": "Online"},
        {"clock_offset_ms": -(2**53)},
        {"spool_bytes": -1},
        {"oldest_unsent_age_ms": -1},
        {"kind": "segment.closed"},
    ]:
        with pytest.raises(InvalidMessage):
            parse_status(wire(with_field(STATUS, **changes)))
    assert parse_status(wire(with_field(STATUS, clock_offset_ms=-(2**53) + 1))).clock_offset_ms < 0


@pytest.mark.parametrize(
    ("part", "changes"),
    [
        ("grant", {"prefix": "videos/cam-0001"}),
        ("grant", {"prefix": "videos/*/"}),
        ("grant", {"prefix": "videos/cam?/"}),
        ("grant", {"prefix": "videos/${aws:username}/"}),
        ("grant", {"prefix": "/videos/"}),
        ("grant", {"prefix": "videos//"}),
        ("grant", {"prefix": "videos/../"}),
        ("grant", {"prefix": "./"}),
        ("grant", {"prefix": "videos/a b/"}),
        ("grant", {"prefix": ""}),
        ("grant", {"bucket": "Videos"}),
        ("grant", {"bucket": "ab"}),
        ("grant", {"bucket": "-videos"}),
        ("grant", {"access": "delete"}),
        ("grant", {"endpoint": "http://a b"}),
        ("grant", {"region": "cn/hangzhou"}),
        ("credentials", {"access_key_secret": ""}),
        ("credentials", {"access_key_secret": "has space"}),
        ("credentials", {"security_token": "x" * 8193}),
        ("credentials", {"expiration_ms": None}),
    ],
)
def test_sealed_payload_rejects(part: str, changes: dict[str, Any]) -> None:
    bad = with_field(SEALED, **{part: with_field(SEALED[part], **changes)})
    with pytest.raises(InvalidMessage):
        parse_sealed_payload(wire(bad))


def test_secrets_never_in_reprs() -> None:
    payload = parse_sealed_payload(wire(SEALED))
    for text in (repr(payload), str(payload), repr(payload.credentials), str(payload.credentials)):
        assert "TOPSECRETVALUE" not in text
        assert "TOKENVALUE" not in text
        assert "STS.id" in text or "credentials" in text


def test_secrets_never_in_validation_errors() -> None:
    bad = with_field(
        SEALED,
        credentials=with_field(
            SEALED["credentials"], access_key_secret="TOP SECRET", security_token=["TOKENVALUE"]
        ),
    )
    with pytest.raises(InvalidMessage) as info:
        parse_sealed_payload(wire(bad))
    text = str(info.value) + repr(info.value) + info.value.reason
    assert "TOP SECRET" not in text
    assert "TOKENVALUE" not in text
    assert "access_key_secret" in info.value.reason
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__
    with pytest.raises(InvalidMessage) as info:
        Credentials(
            access_key_id="id",
            access_key_secret="TOP SECRET",
            security_token="t",
            expiration_ms=1,
        )
    assert "TOP SECRET" not in str(info.value)


def test_construction_raises_invalid_message_not_pydantic_errors() -> None:
    with pytest.raises(InvalidMessage) as info:
        CredsRequest(**with_field(REQUEST, duration_s=0))
    assert not isinstance(info.value, ValidationError)
    assert "duration_s" in info.value.reason
    with pytest.raises(InvalidMessage):
        Grant(**with_field(SEALED["grant"], bucket="B"))


def test_models_are_frozen_and_hashable() -> None:
    req = parse_request(wire(REQUEST))
    with pytest.raises(ValidationError):
        req.duration_s = 5  # type: ignore[misc]
    assert hash(req) == hash(parse_request(wire(REQUEST)))


def test_encode_is_compact_and_in_field_order() -> None:
    req = parse_request(wire(REQUEST))
    assert encode(req) == json.dumps(REQUEST, separators=(",", ":")).encode()
    assert list(json.loads(encode(parse_status(wire(STATUS))))) == list(STATUS)


def test_status_alerts_are_optional_on_the_wire_for_older_cameras() -> None:
    older = {k: v for k, v in STATUS.items() if k != "alerts"}
    assert parse_status(wire(older)).alerts == ()
    with_alert = parse_status(wire({**STATUS, "alerts": ["disk_full"]}))
    assert [a.value for a in with_alert.alerts] == ["disk_full"]
    with pytest.raises(InvalidMessage):
        parse_status(wire({**STATUS, "alerts": ["on_fire"]}))
    with pytest.raises(InvalidMessage):
        parse_status(wire({k: v for k, v in STATUS.items() if k != "dropped_bytes"}))


def test_encode_refuses_oversize_messages() -> None:
    creds = Credentials(
        access_key_id="x" * 128,
        access_key_secret="y" * 256,
        security_token="z" * 8192,
        expiration_ms=1,
    )
    grant = Grant(**SEALED["grant"])
    payload = SealedPayload(credentials=creds, grant=grant)
    assert len(encode(payload)) < MAX_PAYLOAD_BYTES
    huge = CredsResponseOk(
        device_id=DeviceId("cam-0001"),
        request_id="0" * 32,
        server_time_ms=1,
        sealed="A" * 16384,
    )
    with pytest.raises(PayloadTooLarge):
        encode(huge)


def test_payload_too_large_before_parsing_for_every_parser() -> None:
    payload = b" " * (MAX_PAYLOAD_BYTES + 1)
    for parse in (parse_request, parse_response, parse_event, parse_status, parse_sealed_payload):
        with pytest.raises(PayloadTooLarge):
            parse(payload)


def test_status_state_accepts_strings_in_python() -> None:
    st = Status(**with_field(STATUS, state="online", sig=SIG))
    assert st.state is StatusState.ONLINE
    assert json.loads(encode(st))["state"] == "online"
