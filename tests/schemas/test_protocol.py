"""High-level helpers: both ends of each exchange, through real wire bytes."""

from __future__ import annotations

import pytest

from schemas import (
    Access,
    Credentials,
    CredsResponseError,
    CredsResponseOk,
    DeviceKeys,
    ErrorCode,
    Grant,
    InvalidIdentifier,
    InvalidMessage,
    SealedPayload,
    SealError,
    SegmentOpened,
    StatusState,
    build_error_response,
    build_last_will,
    build_ok_response,
    build_request,
    encode,
    new_device_secret,
    open_ok_response,
    opened_canonical,
    parse_event,
    parse_request,
    parse_response,
    parse_status,
    sign_segment_closed,
    sign_segment_opened,
    sign_status,
    verify_error_response,
    verify_request,
    verify_segment_closed,
    verify_segment_opened,
    verify_status,
)

KEYS = DeviceKeys.from_secret(new_device_secret())
OTHER_KEYS = DeviceKeys.from_secret(new_device_secret())

PAYLOAD = SealedPayload(
    credentials=Credentials(
        access_key_id="STS.abc",
        access_key_secret="s3cr3t",
        security_token="tok+/=",
        expiration_ms=1_000_000,
    ),
    grant=Grant(
        endpoint="http://127.0.0.1:9000",
        bucket="videos",
        region="cn-hangzhou",
        prefix="videos/cam-0001/",
        access=Access.APPEND,
        expires_at_ms=1_000_000,
    ),
)


def test_request_round_trip() -> None:
    req = build_request(KEYS, "cam-0001", access="append", duration_s=900, now_ms=123)
    received = parse_request(encode(req))
    assert received == req
    assert verify_request(KEYS, received)
    assert not verify_request(OTHER_KEYS, received)
    assert received.issued_at_ms == 123
    assert received.access is Access.APPEND


def test_requests_get_fresh_ids_and_nonces() -> None:
    a = build_request(KEYS, "cam-0001", access=Access.READ, duration_s=60, now_ms=1)
    b = build_request(KEYS, "cam-0001", access=Access.READ, duration_s=60, now_ms=1)
    assert a.request_id != b.request_id
    assert a.nonce != b.nonce
    assert a.sig != b.sig


def test_build_request_validates() -> None:
    with pytest.raises(InvalidIdentifier):
        build_request(KEYS, "cam/1", access="append", duration_s=900, now_ms=1)
    with pytest.raises(InvalidMessage, match="access"):
        build_request(KEYS, "cam-1", access="delete", duration_s=900, now_ms=1)
    with pytest.raises(InvalidMessage, match="duration_s"):
        build_request(KEYS, "cam-1", access="append", duration_s=43201, now_ms=1)
    with pytest.raises(InvalidMessage, match="nonce"):
        build_request(KEYS, "cam-1", access="append", duration_s=9, now_ms=1, nonce="short")


def test_ok_response_round_trip() -> None:
    resp = build_ok_response(
        KEYS, device_id="cam-0001", request_id="ab" * 16, server_time_ms=77, payload=PAYLOAD
    )
    received = parse_response(encode(resp))
    assert isinstance(received, CredsResponseOk)
    assert open_ok_response(KEYS, received) == PAYLOAD
    with pytest.raises(SealError):
        open_ok_response(OTHER_KEYS, received)


@pytest.mark.parametrize(
    "changes",
    [{"device_id": "cam-0002"}, {"request_id": "cd" * 16}, {"server_time_ms": 78}],
)
def test_ok_response_header_is_bound(changes: dict[str, object]) -> None:
    resp = build_ok_response(
        KEYS, device_id="cam-0001", request_id="ab" * 16, server_time_ms=77, payload=PAYLOAD
    )
    moved = CredsResponseOk(**{**resp.model_dump(), **changes})
    with pytest.raises(SealError):
        open_ok_response(KEYS, moved)


def test_ok_response_with_garbage_plaintext_is_invalid_message() -> None:
    from schemas import response_aad, seal

    aad = response_aad(device_id="cam-0001", request_id="ab" * 16, server_time_ms=1)
    resp = CredsResponseOk(
        device_id="cam-0001",  # type: ignore[arg-type]
        request_id="ab" * 16,
        server_time_ms=1,
        sealed=seal(KEYS.seal_key, b'{"credentials":null}', aad),
    )
    with pytest.raises(InvalidMessage):
        open_ok_response(KEYS, resp)


def test_signed_error_round_trip() -> None:
    resp = build_error_response(
        KEYS,
        device_id="cam-0001",
        request_id="ab" * 16,
        server_time_ms=99,
        code=ErrorCode.STS_THROTTLED,
        message="slow down",
        retry_after_ms=250,
    )
    received = parse_response(encode(resp))
    assert isinstance(received, CredsResponseError)
    assert received.sig is not None
    assert verify_error_response(KEYS, received)
    assert not verify_error_response(OTHER_KEYS, received)
    assert received.error.retry_after_ms == 250


def test_error_message_is_not_signed_but_code_is() -> None:
    resp = build_error_response(
        KEYS, device_id="cam-0001", request_id=None, server_time_ms=1, code="replay", message="a"
    )
    reworded = CredsResponseError(
        **{**resp.model_dump(), "error": {**resp.error.model_dump(), "message": "b"}}
    )
    assert verify_error_response(KEYS, reworded)
    recoded = CredsResponseError(
        **{**resp.model_dump(), "error": {**resp.error.model_dump(), "code": "revoked"}}
    )
    assert not verify_error_response(KEYS, recoded)


def test_unsigned_error_for_unknown_device() -> None:
    resp = build_error_response(
        None,
        device_id="cam-0001",
        request_id=None,
        server_time_ms=1,
        code="unknown_device",
        message="who?",
    )
    assert resp.sig is None
    assert not verify_error_response(KEYS, parse_response(encode(resp)))  # type: ignore[arg-type]


def test_build_error_validates_code() -> None:
    with pytest.raises(InvalidMessage, match="code"):
        build_error_response(
            KEYS, device_id="cam-0001", request_id=None, server_time_ms=1, code="x", message=""
        )


def test_segment_round_trip() -> None:
    ev = sign_segment_closed(
        KEYS,
        device_id="cam-0001",
        event_id="ef" * 16,
        seq=3,
        key="videos/cam-0001/3.ts",
        bytes=1024,
        crc64=2**63 + 5,
        start_ms=10,
        end_ms=20,
    )
    received = parse_event(encode(ev))
    assert received == ev
    assert verify_segment_closed(KEYS, received)
    assert not verify_segment_closed(OTHER_KEYS, received)


def test_segment_opened_round_trip_and_canonical() -> None:
    ev = sign_segment_opened(
        KEYS,
        device_id="cam-0001",
        event_id="ab" * 16,
        seq=4,
        key="videos/cam-0001/4.mp4",
        start_ms=10,
    )
    received = parse_event(encode(ev))
    assert isinstance(received, SegmentOpened)
    assert received == ev
    assert verify_segment_opened(KEYS, received)
    assert not verify_segment_opened(OTHER_KEYS, received)
    assert opened_canonical(ev) == "\n".join(
        ["ossmedia/v1", "segment.opened", "cam-0001", "ab" * 16, "4", "videos/cam-0001/4.mp4", "10"]
    )
    moved = received.model_copy(update={"key": "videos/cam-0001/5.mp4"})
    assert not verify_segment_opened(KEYS, moved)


def test_status_round_trip_and_last_will() -> None:
    st = sign_status(
        KEYS,
        device_id="cam-0001",
        ts_ms=5,
        state="online",
        spool_bytes=10,
        clock_offset_ms=-20,
        uploaded_bytes=30,
        dropped_bytes=0,
        last_upload_ms=4,
    )
    received = parse_status(encode(st))
    assert received == st
    assert verify_status(KEYS, received)
    assert not verify_status(OTHER_KEYS, received)
    will = build_last_will(
        device_id="cam-0001",
        ts_ms=5,
        spool_bytes=0,
        clock_offset_ms=0,
        uploaded_bytes=0,
        dropped_bytes=0,
    )
    received_will = parse_status(encode(will))
    assert received_will.sig is None
    assert received_will.state is StatusState.OFFLINE
    assert not verify_status(KEYS, received_will)


def test_signed_offline_status() -> None:
    st = sign_status(
        KEYS,
        device_id="cam-0001",
        ts_ms=5,
        state=StatusState.OFFLINE,
        spool_bytes=0,
        clock_offset_ms=0,
        uploaded_bytes=0,
        dropped_bytes=0,
    )
    assert st.sig is not None
    assert verify_status(KEYS, st)
