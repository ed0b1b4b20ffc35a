"""The public surface of ``schemas``: pinned, so changes are deliberate."""

from __future__ import annotations

import inspect

import schemas
from schemas import errors

EXPECTED_ALL = {
    "verify_hls_key",
    "open_hls_key",
    "hls_key_canonical",
    "hls_key_aad",
    "build_hls_key",
    "HlsKey",
    "DEVICE_ID_PATTERN",
    "DEFAULT_SESSION_DURATION_S",
    "MAX_JSON_DEPTH",
    "MAX_PAYLOAD_BYTES",
    "MAX_SESSION_DURATION_S",
    "MIN_REQUEST_DURATION_S",
    "MIN_ROLE_MAX_SESSION_S",
    "MIN_SESSION_DURATION_S",
    "Access",
    "Channel",
    "Credentials",
    "CredsRequest",
    "CredsResponseError",
    "CredsResponseOk",
    "DeviceId",
    "DeviceKeys",
    "ErrorCode",
    "ErrorInfo",
    "Grant",
    "REACTIONS",
    "Reaction",
    "InvalidIdentifier",
    "InvalidKey",
    "InvalidMessage",
    "ObjectKey",
    "PayloadTooLarge",
    "SchemaError",
    "SealError",
    "SealedPayload",
    "SegmentClosed",
    "SegmentOpened",
    "Status",
    "StatusAlert",
    "StatusState",
    "Topics",
    "UnsupportedKind",
    "b64url_decode",
    "b64url_encode",
    "build_error_response",
    "build_last_will",
    "build_ok_response",
    "build_request",
    "encode",
    "error_canonical",
    "is_device_id",
    "new_device_secret",
    "new_event_id",
    "new_nonce",
    "new_request_id",
    "open_ok_response",
    "opened_canonical",
    "parse_event",
    "parse_request",
    "parse_response",
    "parse_sealed_payload",
    "parse_status",
    "request_canonical",
    "response_aad",
    "seal",
    "segment_canonical",
    "sign",
    "sign_segment_closed",
    "sign_segment_opened",
    "sign_status",
    "status_canonical",
    "unseal",
    "verify",
    "verify_error_response",
    "verify_request",
    "verify_segment_closed",
    "verify_segment_opened",
    "verify_status",
}


def test_all_is_pinned() -> None:
    assert set(schemas.__all__) == EXPECTED_ALL
    assert len(schemas.__all__) == len(EXPECTED_ALL)


def test_every_exported_name_exists() -> None:
    for name in schemas.__all__:
        assert getattr(schemas, name) is not None, name


def test_exception_tree() -> None:
    assert issubclass(schemas.SchemaError, Exception)
    for exc in (
        schemas.PayloadTooLarge,
        schemas.InvalidMessage,
        schemas.InvalidKey,
        schemas.SealError,
    ):
        assert exc.__bases__[0] is schemas.SchemaError
    assert issubclass(schemas.InvalidIdentifier, schemas.InvalidMessage)
    assert issubclass(schemas.UnsupportedKind, schemas.InvalidMessage)
    # Validation failures are also ValueErrors, like json.JSONDecodeError.
    assert issubclass(schemas.InvalidMessage, ValueError)
    assert not issubclass(schemas.SealError, ValueError)


def test_exception_tree_is_drawn_in_errors_docstring() -> None:
    doc = inspect.getdoc(errors) or ""
    for name in ("SchemaError", "PayloadTooLarge", "InvalidMessage", "InvalidIdentifier"):
        assert name in doc
    assert "SealError" in doc
    assert "InvalidKey" in doc


def test_public_callables_have_docstrings() -> None:
    for name in schemas.__all__:
        obj = getattr(schemas, name)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            assert inspect.getdoc(obj), name


def test_error_codes_are_the_twelve_of_the_design() -> None:
    assert [c.value for c in schemas.ErrorCode] == [
        "invalid_request",
        "unknown_device",
        "revoked",
        "bad_signature",
        "clock_skew",
        "replay",
        "rate_limited",
        "access_denied",
        "sts_throttled",
        "sts_unavailable",
        "internal",
        "unavailable",
    ]
    assert [a.value for a in schemas.Access] == ["append", "write", "read"]
    assert schemas.MAX_PAYLOAD_BYTES == 16384
