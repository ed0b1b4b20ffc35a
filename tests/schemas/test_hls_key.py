"""``hls.key`` events: round trips, what the signature and the seal bind, hostile payloads."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from schemas import (
    CredsResponseOk,
    DeviceKeys,
    HlsKey,
    InvalidMessage,
    SchemaError,
    SealError,
    SegmentClosed,
    UnsupportedKind,
    b64url_decode,
    b64url_encode,
    build_hls_key,
    encode,
    hls_key_aad,
    open_hls_key,
    open_ok_response,
    parse_event,
    seal,
    verify_hls_key,
)
from schemas.content_keys import hls_key_canonical
from tests.schemas import strategies as S

KEYS = DeviceKeys.from_secret(b64url_encode(bytes(range(32))))
OTHER_KEYS = DeviceKeys.from_secret(b64url_encode(bytes(range(1, 33))))
FAST = settings(max_examples=120, deadline=None)

content_keys = st.binary(min_size=16, max_size=16)
key_fields: dict[str, st.SearchStrategy[Any]] = {
    "device_id": S.device_ids,
    "key_id": S.hex_ids,
    "created_ms": S.millis,
}


def _event(key: bytes = b"k" * 16, **overrides: Any) -> HlsKey:
    fields: dict[str, Any] = {
        "device_id": "cam-0001",
        "key_id": "ab" * 16,
        "created_ms": 1_764_380_000_000,
        **overrides,
    }
    return build_hls_key(KEYS, key=key, **fields)


@FAST
@given(S.hls_keys)
def test_round_trip(model: HlsKey) -> None:
    payload = encode(model)
    parsed = parse_event(payload)
    assert type(parsed) is HlsKey
    assert parsed == model
    assert encode(parsed) == payload


@FAST
@given(st.fixed_dictionaries(key_fields), content_keys)
def test_built_event_verifies_and_opens_to_the_key(fields: dict[str, Any], key: bytes) -> None:
    ev = build_hls_key(KEYS, key=key, **fields)
    received = parse_event(encode(ev))
    assert isinstance(received, HlsKey)
    assert verify_hls_key(KEYS, received)
    assert not verify_hls_key(OTHER_KEYS, received)
    assert open_hls_key(KEYS, received) == key
    with pytest.raises(SealError):
        open_hls_key(OTHER_KEYS, received)


@FAST
@given(st.fixed_dictionaries(key_fields), content_keys, st.data())
def test_signature_binds_every_field(
    fields: dict[str, Any], key: bytes, data: st.DataObject
) -> None:
    ev = build_hls_key(KEYS, key=key, **fields)
    name = data.draw(st.sampled_from([*sorted(key_fields), "sealed"]))
    if name == "sealed":
        new: Any = data.draw(S.sealed_content_keys)
    else:
        new = data.draw(key_fields[name])
    assume(new != getattr(ev, name))
    forged = ev.model_copy(update={name: new})
    assert not verify_hls_key(KEYS, forged)


@FAST
@given(st.fixed_dictionaries(key_fields), content_keys, st.data())
def test_seal_binds_device_and_key_id(
    fields: dict[str, Any], key: bytes, data: st.DataObject
) -> None:
    ev = build_hls_key(KEYS, key=key, **fields)
    name = data.draw(st.sampled_from(["device_id", "key_id"]))
    new = data.draw(key_fields[name])
    assume(new != getattr(ev, name))
    # Re-signed by the sender, so only the seal can tell the key was moved.
    moved = HlsKey(**{**fields, name: new}, sealed=ev.sealed, sig=ev.sig)
    with pytest.raises(SealError):
        open_hls_key(KEYS, moved)


@FAST
@given(content_keys, st.data())
def test_any_flipped_bit_fails_to_open(key: bytes, data: st.DataObject) -> None:
    ev = _event(key)
    blob = bytearray(b64url_decode(ev.sealed))
    bit = data.draw(st.integers(0, len(blob) * 8 - 1))
    blob[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(SealError):
        open_hls_key(KEYS, ev.model_copy(update={"sealed": b64url_encode(bytes(blob))}))


def test_a_sealed_credential_reply_is_not_a_content_key() -> None:
    # Same seal_key, same nonce and plaintext length, but the associated data differs.
    aad_reply = b"ossmedia/v1\ncreds.response\ncam-0001\n" + b"ab" * 16 + b"\n1"
    sealed = seal(KEYS.seal_key, b"k" * 16, aad_reply)
    ev = _event().model_copy(update={"sealed": sealed})
    with pytest.raises(SealError):
        open_hls_key(KEYS, ev)
    assert hls_key_aad(device_id="cam-0001", key_id="ab" * 16).startswith(b"ossmedia/v1\nhls.key\n")


def test_a_content_key_does_not_open_as_a_reply() -> None:
    ev = _event()
    reply = CredsResponseOk(
        device_id="cam-0001", request_id="ab" * 16, server_time_ms=1, sealed=ev.sealed
    )
    with pytest.raises(SealError):
        open_ok_response(KEYS, reply)


@pytest.mark.parametrize("length", [0, 15, 17, 32])
def test_builder_refuses_keys_of_the_wrong_length(length: int) -> None:
    with pytest.raises(InvalidMessage) as info:
        _event(bytes([0x5A]) * length)
    assert "16 bytes" in str(info.value)
    assert "5a5a" not in str(info.value).lower()


def test_a_sealed_blob_of_another_length_is_refused_by_the_parser() -> None:
    obj = json.loads(encode(_event()))
    for blob in (bytes(43), bytes(45), bytes(60)):
        obj["sealed"] = b64url_encode(blob)
        with pytest.raises(InvalidMessage):
            parse_event(json.dumps(obj).encode())


def test_sealed_must_be_canonical_base64url() -> None:
    obj = json.loads(encode(_event()))
    sealed = obj["sealed"]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    # 44 bytes leave 2 unused bits in the last character; setting one re-spells the same bytes.
    respelled = sealed[:-1] + alphabet[alphabet.index(sealed[-1]) | 1]
    for bad in (respelled, sealed + "=", sealed[:-1] + "+"):
        obj["sealed"] = bad
        with pytest.raises(InvalidMessage):
            parse_event(json.dumps(obj).encode())


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("key_id", "AB" * 16),
        ("key_id", "ab" * 15),
        ("key_id", "../" + "a" * 29),
        ("key_id", None),
        ("created_ms", -1),
        ("created_ms", 2**53),
        ("created_ms", "1764380000000"),
        ("device_id", "cam/0001"),
        ("device_id", "+"),
        ("sig", None),
        ("v", 2),
    ],
)
def test_hostile_fields_are_refused(field: str, value: object) -> None:
    obj = json.loads(encode(_event()))
    obj[field] = value
    with pytest.raises(InvalidMessage):
        parse_event(json.dumps(obj).encode())


def test_missing_and_extra_fields_are_refused() -> None:
    obj = json.loads(encode(_event()))
    for name in obj:
        partial = {k: v for k, v in obj.items() if k != name}
        with pytest.raises(InvalidMessage):
            parse_event(json.dumps(partial).encode())
    with pytest.raises(InvalidMessage):
        parse_event(json.dumps({**obj, "key": "AAAA"}).encode())


def test_segment_fields_under_the_hls_kind_are_refused() -> None:
    seg = SegmentClosed(
        device_id="cam-0001",
        event_id="ab" * 16,
        seq=0,
        key="videos/cam-0001/a.ts",
        bytes=1,
        crc64=0,
        start_ms=0,
        end_ms=0,
        sig="A" * 43,
    )
    obj = json.loads(encode(seg))
    obj["kind"] = "hls.key"
    with pytest.raises(InvalidMessage):
        parse_event(json.dumps(obj).encode())
    obj["kind"] = "hls.keys"
    with pytest.raises(UnsupportedKind):
        parse_event(json.dumps(obj).encode())


def test_reprs_and_errors_never_show_the_key() -> None:
    key = bytes(range(0xA0, 0xB0))
    ev = _event(key)
    for text in (repr(ev), str(ev), encode(ev).decode(), hls_key_canonical(ev)):
        assert key.hex() not in text
        assert b64url_encode(key) not in text
    tampered = ev.model_copy(update={"key_id": "cd" * 16})
    with pytest.raises(SchemaError) as info:
        open_hls_key(KEYS, tampered)
    assert key.hex() not in str(info.value)
