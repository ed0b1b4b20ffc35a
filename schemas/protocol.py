"""High-level helpers both ends use to build, sign, seal, verify and open messages.

Cameras use :func:`build_request`, :func:`open_ok_response`, :func:`verify_error_response`,
:func:`sign_segment_closed` and :func:`sign_status`; the responder uses
:func:`verify_request`, :func:`build_ok_response` and :func:`build_error_response`; the
cloud's ledger uses :func:`verify_segment_closed` and :func:`verify_status`.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import TypeVar

from schemas.canonical import (
    error_canonical,
    opened_canonical,
    request_canonical,
    response_aad,
    segment_canonical,
    status_canonical,
)
from schemas.errors import InvalidMessage
from schemas.events import SegmentClosed, SegmentOpened, Status, StatusAlert, StatusState
from schemas.ids import DeviceId, new_nonce, new_request_id
from schemas.keys import DeviceKeys
from schemas.messages import encode, parse_sealed_payload
from schemas.requests import Access, CredsRequest
from schemas.responses import (
    CredsResponseError,
    CredsResponseOk,
    ErrorCode,
    ErrorInfo,
    SealedPayload,
)
from schemas.sealing import seal, unseal
from schemas.signing import sign, verify

_E = TypeVar("_E", bound=StrEnum)


def _member(enum_cls: type[_E], value: _E | str, field: str) -> _E:
    try:
        return enum_cls(value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum_cls)
        raise InvalidMessage(f"{field} must be one of {allowed}") from None


# A well-formed stand-in so a message validates before its real signature is known.
_PLACEHOLDER_SIG = "A" * 43


def build_request(
    keys: DeviceKeys,
    device_id: str,
    *,
    access: Access | str,
    duration_s: int,
    now_ms: int,
    request_id: str | None = None,
    nonce: str | None = None,
) -> CredsRequest:
    """Build and sign a credential request.

    Args:
        keys: the device's keys.
        device_id: the device asking.
        access: ``append``, ``write`` or ``read``.
        duration_s: requested lifetime in seconds (1-43200; the responder clamps it).
        now_ms: the camera's current time, including any adopted clock offset.
        request_id: 32 lowercase hex; fresh when None.
        nonce: 16 bytes as b64url; fresh when None. Never reuse one.

    Returns:
        The signed request.

    Raises:
        InvalidMessage: a field is out of bounds (InvalidIdentifier for the device id).
    """
    unsigned = CredsRequest(
        device_id=DeviceId(device_id),
        request_id=new_request_id() if request_id is None else request_id,
        issued_at_ms=now_ms,
        nonce=new_nonce() if nonce is None else nonce,
        access=_member(Access, access, "access"),
        duration_s=duration_s,
        sig=_PLACEHOLDER_SIG,
    )
    return unsigned.model_copy(update={"sig": sign(keys.sign_key, request_canonical(unsigned))})


def verify_request(keys: DeviceKeys, req: CredsRequest) -> bool:
    """Check a request's signature (not its freshness: that is the responder's job).

    Returns:
        True when ``req.sig`` signs its canonical string under ``keys``.
    """
    return verify(keys.sign_key, request_canonical(req), req.sig)


def build_ok_response(
    keys: DeviceKeys,
    *,
    device_id: str,
    request_id: str,
    server_time_ms: int,
    payload: SealedPayload,
    nonce: bytes | None = None,
) -> CredsResponseOk:
    """Seal credentials into a success reply.

    Args:
        keys: the receiving device's keys.
        device_id: the device.
        request_id: the request answered.
        server_time_ms: the responder's current time.
        payload: credentials and grant.
        nonce: 12-byte GCM nonce; fresh when None (pass one only for test vectors).

    Returns:
        The reply.

    Raises:
        InvalidMessage: a field is invalid.
        PayloadTooLarge: the reply would exceed the size limit.
    """
    aad = response_aad(device_id=device_id, request_id=request_id, server_time_ms=server_time_ms)
    return CredsResponseOk(
        device_id=DeviceId(device_id),
        request_id=request_id,
        server_time_ms=server_time_ms,
        sealed=seal(keys.seal_key, encode(payload), aad, nonce),
    )


def open_ok_response(keys: DeviceKeys, resp: CredsResponseOk) -> SealedPayload:
    """Check and open a success reply.

    Args:
        keys: this device's keys.
        resp: the reply.

    Returns:
        The credentials and grant.

    Raises:
        SealError: the reply was tampered with, or is for another key.
        InvalidMessage: the sealed plaintext is not a valid payload.
    """
    aad = response_aad(
        device_id=resp.device_id, request_id=resp.request_id, server_time_ms=resp.server_time_ms
    )
    return parse_sealed_payload(unseal(keys.seal_key, resp.sealed, aad))


def build_error_response(
    keys: DeviceKeys | None,
    *,
    device_id: str,
    request_id: str | None,
    server_time_ms: int,
    code: ErrorCode | str,
    message: str,
    retry_after_ms: int | None = None,
) -> CredsResponseError:
    """Build an error reply, signed when the device's keys are known.

    Args:
        keys: the device's keys, or None for an unknown device (the reply is then unsigned).
        device_id: the device (from the topic).
        request_id: the request answered, or None when it could not be read.
        server_time_ms: the responder's current time.
        code: the error code.
        message: short human-readable detail (not signed; no secrets).
        retry_after_ms: when the camera may retry, if known.

    Returns:
        The reply.

    Raises:
        InvalidMessage: a field is invalid.
    """
    unsigned = CredsResponseError(
        device_id=DeviceId(device_id),
        request_id=request_id,
        server_time_ms=server_time_ms,
        error=ErrorInfo(
            code=_member(ErrorCode, code, "code"), message=message, retry_after_ms=retry_after_ms
        ),
    )
    if keys is None:
        return unsigned
    return unsigned.model_copy(update={"sig": sign(keys.sign_key, _error_canonical_of(unsigned))})


def _error_canonical_of(resp: CredsResponseError) -> str:
    return error_canonical(
        device_id=resp.device_id,
        request_id=resp.request_id,
        server_time_ms=resp.server_time_ms,
        code=resp.error.code,
        retry_after_ms=resp.error.retry_after_ms,
    )


def verify_error_response(keys: DeviceKeys, resp: CredsResponseError) -> bool:
    """Check an error reply's signature.

    Returns:
        False when the reply is unsigned or the signature does not match.
    """
    if resp.sig is None:
        return False
    return verify(keys.sign_key, _error_canonical_of(resp), resp.sig)


def sign_segment_closed(
    keys: DeviceKeys,
    *,
    device_id: str,
    event_id: str,
    seq: int,
    key: str,
    bytes: int,  # named like the wire field, shadowing the builtin here only
    crc64: int,
    start_ms: int,
    end_ms: int,
) -> SegmentClosed:
    """Build and sign a ``segment.closed`` event.

    Raises:
        InvalidMessage: a field is invalid.
    """
    unsigned = SegmentClosed(
        device_id=DeviceId(device_id),
        event_id=event_id,
        seq=seq,
        key=key,
        bytes=bytes,
        crc64=crc64,
        start_ms=start_ms,
        end_ms=end_ms,
        sig=_PLACEHOLDER_SIG,
    )
    return unsigned.model_copy(update={"sig": sign(keys.sign_key, segment_canonical(unsigned))})


def verify_segment_closed(keys: DeviceKeys, ev: SegmentClosed) -> bool:
    """Check a ``segment.closed`` event's signature."""
    return verify(keys.sign_key, segment_canonical(ev), ev.sig)


def sign_segment_opened(
    keys: DeviceKeys,
    *,
    device_id: str,
    event_id: str,
    seq: int,
    key: str,
    start_ms: int,
) -> SegmentOpened:
    """Build and sign a ``segment.opened`` event.

    Raises:
        InvalidMessage: a field is invalid.
    """
    unsigned = SegmentOpened(
        device_id=DeviceId(device_id),
        event_id=event_id,
        seq=seq,
        key=key,
        start_ms=start_ms,
        sig=_PLACEHOLDER_SIG,
    )
    return unsigned.model_copy(update={"sig": sign(keys.sign_key, opened_canonical(unsigned))})


def verify_segment_opened(keys: DeviceKeys, ev: SegmentOpened) -> bool:
    """Check a ``segment.opened`` event's signature."""
    return verify(keys.sign_key, opened_canonical(ev), ev.sig)


def sign_status(
    keys: DeviceKeys,
    *,
    device_id: str,
    ts_ms: int,
    state: StatusState | str,
    spool_bytes: int,
    clock_offset_ms: int,
    uploaded_bytes: int,
    dropped_bytes: int,
    oldest_unsent_age_ms: int | None = None,
    last_upload_ms: int | None = None,
    cred_expires_at_ms: int | None = None,
    alerts: Sequence[StatusAlert | str] = (),
) -> Status:
    """Build and sign a ``status`` message.

    Raises:
        InvalidMessage: a field is invalid.
    """
    unsigned = Status(
        device_id=DeviceId(device_id),
        ts_ms=ts_ms,
        state=_member(StatusState, state, "state"),
        spool_bytes=spool_bytes,
        oldest_unsent_age_ms=oldest_unsent_age_ms,
        last_upload_ms=last_upload_ms,
        cred_expires_at_ms=cred_expires_at_ms,
        clock_offset_ms=clock_offset_ms,
        uploaded_bytes=uploaded_bytes,
        dropped_bytes=dropped_bytes,
        alerts=tuple(_member(StatusAlert, a, "alerts") for a in alerts),
        sig=_PLACEHOLDER_SIG,
    )
    return unsigned.model_copy(update={"sig": sign(keys.sign_key, status_canonical(unsigned))})


def build_last_will(
    *,
    device_id: str,
    ts_ms: int,
    spool_bytes: int,
    clock_offset_ms: int,
    uploaded_bytes: int,
    dropped_bytes: int,
    oldest_unsent_age_ms: int | None = None,
    last_upload_ms: int | None = None,
    cred_expires_at_ms: int | None = None,
    alerts: Sequence[StatusAlert | str] = (),
) -> Status:
    """Build the unsigned ``offline`` status a camera registers as its MQTT last will.

    The broker publishes the will at a time the camera cannot know, so it is not signed and
    the cloud treats it as advisory. ``ts_ms`` is when the will was registered.

    Raises:
        InvalidMessage: a field is invalid.
    """
    return Status(
        device_id=DeviceId(device_id),
        ts_ms=ts_ms,
        state=StatusState.OFFLINE,
        spool_bytes=spool_bytes,
        oldest_unsent_age_ms=oldest_unsent_age_ms,
        last_upload_ms=last_upload_ms,
        cred_expires_at_ms=cred_expires_at_ms,
        clock_offset_ms=clock_offset_ms,
        uploaded_bytes=uploaded_bytes,
        dropped_bytes=dropped_bytes,
        alerts=tuple(_member(StatusAlert, a, "alerts") for a in alerts),
        sig=None,
    )


def verify_status(keys: DeviceKeys, st: Status) -> bool:
    """Check a status message's signature.

    Returns:
        False for an unsigned status (a last will): treat it as advisory only.
    """
    if st.sig is None:
        return False
    return verify(keys.sign_key, status_canonical(st), st.sig)
