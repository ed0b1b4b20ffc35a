"""Property tests: parsers are total, encodings round-trip, signatures and seals bind every field."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from schemas import (
    CredsRequest,
    CredsResponseError,
    CredsResponseOk,
    DeviceKeys,
    SchemaError,
    SealedPayload,
    SealError,
    SegmentClosed,
    Status,
    b64url_decode,
    b64url_encode,
    build_error_response,
    build_ok_response,
    build_request,
    encode,
    open_ok_response,
    parse_event,
    parse_request,
    parse_response,
    parse_sealed_payload,
    parse_status,
    sign_segment_closed,
    sign_status,
    verify_error_response,
    verify_request,
    verify_segment_closed,
    verify_status,
)
from tests.schemas import strategies as S

KEYS = DeviceKeys.from_secret(b64url_encode(bytes(range(32))))
OTHER_KEYS = DeviceKeys.from_secret(b64url_encode(bytes(range(1, 33))))

PARSERS: list[Callable[[bytes], Any]] = [
    parse_request,
    parse_response,
    parse_event,
    parse_status,
    parse_sealed_payload,
]

FAST = settings(max_examples=150, deadline=None)
SLOW = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _total(parse: Callable[[bytes], Any], payload: bytes) -> None:
    try:
        result = parse(payload)
    except SchemaError:
        return
    assert isinstance(result, BaseModel)


# -- any bytes on a topic: a model or a SchemaError, nothing else -----------------------------


@FAST
@given(st.binary(max_size=400))
def test_any_bytes_give_a_model_or_schema_error(payload: bytes) -> None:
    for parse in PARSERS:
        _total(parse, payload)


@FAST
@given(S.json_values)
def test_any_json_gives_a_model_or_schema_error(value: Any) -> None:
    payload = json.dumps(value).encode()
    for parse in PARSERS:
        _total(parse, payload)


def _mutations(valid: st.SearchStrategy[BaseModel]) -> st.SearchStrategy[bytes]:
    """Valid messages with one field replaced, dropped, or an extra one added."""

    @st.composite
    def mutate(draw: st.DrawFn) -> bytes:
        obj = json.loads(encode(draw(valid)))
        action = draw(st.sampled_from(["replace", "drop", "add"]))
        name = draw(st.sampled_from(sorted(obj)))
        if action == "replace":
            obj[name] = draw(S.json_values)
        elif action == "drop":
            del obj[name]
        else:
            obj[draw(st.text(max_size=8))] = draw(S.json_values)
        return json.dumps(obj).encode()

    return mutate()


@FAST
@given(
    st.one_of(
        _mutations(S.requests),
        _mutations(S.ok_responses),
        _mutations(S.error_responses),
        _mutations(S.segments),
        _mutations(S.hls_keys),
        _mutations(S.statuses),
        _mutations(S.sealed_payloads),
    )
)
def test_mutated_messages_give_a_model_or_schema_error(payload: bytes) -> None:
    for parse in PARSERS:
        _total(parse, payload)


@FAST
@given(S.requests, st.data())
def test_corrupted_request_bytes_give_a_model_or_schema_error(
    req: CredsRequest, data: st.DataObject
) -> None:
    raw = bytearray(encode(req))
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    _total(parse_request, bytes(raw))


# -- round trips -------------------------------------------------------------------------------


def _round_trip(model: BaseModel, parse: Callable[[bytes], Any]) -> None:
    payload = encode(model)
    parsed = parse(payload)
    assert parsed == model
    assert type(parsed) is type(model)
    assert encode(parsed) == payload


@FAST
@given(S.requests)
def test_request_round_trip(model: CredsRequest) -> None:
    _round_trip(model, parse_request)


@FAST
@given(S.ok_responses | S.error_responses)
def test_response_round_trip(model: CredsResponseOk | CredsResponseError) -> None:
    _round_trip(model, parse_response)


@FAST
@given(S.segments)
def test_segment_round_trip(model: SegmentClosed) -> None:
    _round_trip(model, parse_event)


@FAST
@given(S.statuses)
def test_status_round_trip(model: Status) -> None:
    _round_trip(model, parse_status)


@FAST
@given(S.sealed_payloads)
def test_sealed_payload_round_trip(model: SealedPayload) -> None:
    _round_trip(model, parse_sealed_payload)


# -- a signature over one field set never verifies another -------------------------------------


def _changed(
    data: st.DataObject, fields: dict[str, st.SearchStrategy[Any]], base: dict[str, Any]
) -> dict[str, Any]:
    name = data.draw(st.sampled_from(sorted(fields)))
    new = data.draw(fields[name])
    assume(new != base[name])
    return {**base, name: new}


@FAST
@given(st.fixed_dictionaries(S.request_fields), st.data())
def test_request_signature_binds_every_field(fields: dict[str, Any], data: st.DataObject) -> None:
    req = build_request(
        KEYS,
        fields["device_id"],
        **{k: v for k, v in fields.items() if k not in {"device_id", "issued_at_ms"}},
        now_ms=fields["issued_at_ms"],
    )
    assert verify_request(KEYS, req)
    assert not verify_request(OTHER_KEYS, req)
    changed = _changed(data, S.request_fields, fields)
    forged = CredsRequest(**changed, sig=req.sig)
    assert not verify_request(KEYS, forged)


@FAST
@given(st.fixed_dictionaries(S.error_fields), S.free_text, st.data())
def test_error_signature_binds_every_signed_field(
    fields: dict[str, Any], message: str, data: st.DataObject
) -> None:
    resp = build_error_response(KEYS, message=message, **fields)
    assert verify_error_response(KEYS, resp)
    assert not verify_error_response(OTHER_KEYS, resp)
    changed = _changed(data, S.error_fields, fields)
    forged = build_error_response(KEYS, message=message, **changed).model_copy(
        update={"sig": resp.sig}
    )
    assert not verify_error_response(KEYS, forged)


@FAST
@given(st.fixed_dictionaries(S.segment_fields), st.data())
def test_segment_signature_binds_every_field(fields: dict[str, Any], data: st.DataObject) -> None:
    ev = sign_segment_closed(KEYS, **fields)
    assert verify_segment_closed(KEYS, ev)
    assert not verify_segment_closed(OTHER_KEYS, ev)
    forged = SegmentClosed(**_changed(data, S.segment_fields, fields), sig=ev.sig)
    assert not verify_segment_closed(KEYS, forged)


@FAST
@given(st.fixed_dictionaries(S.status_fields), st.data())
def test_status_signature_binds_every_field(fields: dict[str, Any], data: st.DataObject) -> None:
    st_ = sign_status(KEYS, **fields)
    assert verify_status(KEYS, st_)
    assert not verify_status(OTHER_KEYS, st_)
    forged = Status(**_changed(data, S.status_fields, fields), sig=st_.sig)
    assert not verify_status(KEYS, forged)


# -- a sealed reply with any change fails to open -----------------------------------------------


def _ok(payload: SealedPayload, device_id: str, request_id: str, t: int) -> CredsResponseOk:
    return build_ok_response(
        KEYS, device_id=device_id, request_id=request_id, server_time_ms=t, payload=payload
    )


@SLOW
@given(S.sealed_payloads, S.device_ids, S.hex_ids, S.millis, st.data())
def test_any_flipped_bit_in_the_sealed_blob_fails(
    payload: SealedPayload, device_id: str, request_id: str, t: int, data: st.DataObject
) -> None:
    resp = _ok(payload, device_id, request_id, t)
    assert open_ok_response(KEYS, resp) == payload
    blob = bytearray(b64url_decode(resp.sealed))
    bit = data.draw(st.integers(0, len(blob) * 8 - 1))
    blob[bit // 8] ^= 1 << (bit % 8)
    tampered = resp.model_copy(update={"sealed": b64url_encode(bytes(blob))})
    try:
        open_ok_response(KEYS, tampered)
    except SealError:
        return
    raise AssertionError("tampered blob opened")


@SLOW
@given(S.sealed_payloads, S.device_ids, S.hex_ids, S.millis, st.data())
def test_any_change_to_the_sealed_text_fails(
    payload: SealedPayload, device_id: str, request_id: str, t: int, data: st.DataObject
) -> None:
    resp = _ok(payload, device_id, request_id, t)
    text = list(resp.sealed)
    pos = data.draw(st.integers(0, len(text) - 1))
    replacement = data.draw(st.characters(codec="ascii"))
    assume(replacement != text[pos])
    text[pos] = replacement
    tampered = resp.model_copy(update={"sealed": "".join(text)})
    try:
        open_ok_response(KEYS, tampered)
    except SealError:
        return
    raise AssertionError("tampered text opened")


@SLOW
@given(S.sealed_payloads, S.device_ids, S.hex_ids, S.millis, st.data())
def test_any_changed_aad_field_fails(
    payload: SealedPayload, device_id: str, request_id: str, t: int, data: st.DataObject
) -> None:
    resp = _ok(payload, device_id, request_id, t)
    header = {"device_id": S.device_ids, "request_id": S.hex_ids, "server_time_ms": S.millis}
    base = {"device_id": device_id, "request_id": request_id, "server_time_ms": t}
    changed = _changed(data, header, base)
    moved = CredsResponseOk(**changed, sealed=resp.sealed)
    try:
        open_ok_response(KEYS, moved)
    except SealError:
        return
    raise AssertionError("reply opened with a changed header")


@SLOW
@given(S.sealed_payloads)
def test_sealed_for_another_device_fails(payload: SealedPayload) -> None:
    resp = _ok(payload, "cam-0001", "ab" * 16, 1)
    try:
        open_ok_response(OTHER_KEYS, resp)
    except SealError:
        return
    raise AssertionError("opened with another device's key")
