"""Canonical strings: the exact text each signature and each seal's associated data covers.

Every canonical string is ``"\\n".join([...])`` of a fixed list: ``"ossmedia/v1"``, the kind,
the device id, then each field in a fixed order. Integers are rendered in decimal
(``str(n)``), a missing value (None) as the empty string. No field may contain a newline
(validation rules ensure none can), so two different field sets never give the same string.
The strings are encoded as UTF-8 before signing.
"""

from __future__ import annotations

from collections.abc import Sequence

from schemas.errors import InvalidMessage
from schemas.events import SegmentClosed, SegmentOpened, Status
from schemas.ids import DeviceId
from schemas.requests import CredsRequest
from schemas.responses import ErrorCode

DOMAIN = "ossmedia/v1"
REQUEST_KIND = "creds.request"
RESPONSE_KIND = "creds.response"
ERROR_KIND = "creds.error"
SEGMENT_KIND = "segment.closed"
OPENED_KIND = "segment.opened"
STATUS_KIND = "status"


def _int(value: int) -> str:
    if type(value) is not int:
        raise InvalidMessage("canonical integer field must be an int")
    return str(value)


def _opt_int(value: int | None) -> str:
    return "" if value is None else _int(value)


def _join(parts: Sequence[str]) -> str:
    for part in parts:
        if not isinstance(part, str) or "\n" in part:
            raise InvalidMessage("canonical fields must be strings without newlines")
    return "\n".join(parts)


def request_canonical(req: CredsRequest) -> str:
    """The string a credential request's ``sig`` covers.

    ``ossmedia/v1, creds.request, device_id, request_id, issued_at_ms, nonce, access,
    duration_s``.
    """
    return _join(
        [
            DOMAIN,
            REQUEST_KIND,
            req.device_id,
            req.request_id,
            _int(req.issued_at_ms),
            req.nonce,
            req.access.value,
            _int(req.duration_s),
        ]
    )


def error_canonical(
    *,
    device_id: str,
    request_id: str | None,
    server_time_ms: int,
    code: ErrorCode,
    retry_after_ms: int | None,
) -> str:
    """The string an error reply's ``sig`` covers.

    ``ossmedia/v1, creds.error, device_id, request_id or "", server_time_ms, code,
    retry_after_ms or ""``. The error message is deliberately not covered.

    Raises:
        InvalidIdentifier: ``device_id`` is not a valid device id.
        InvalidMessage: a field has the wrong type or holds a newline.
    """
    return _join(
        [
            DOMAIN,
            ERROR_KIND,
            DeviceId(device_id),
            "" if request_id is None else request_id,
            _int(server_time_ms),
            ErrorCode(code).value,
            _opt_int(retry_after_ms),
        ]
    )


def response_aad(*, device_id: str, request_id: str, server_time_ms: int) -> bytes:
    """The associated data a success reply's seal binds (UTF-8 bytes).

    ``ossmedia/v1, creds.response, device_id, request_id, server_time_ms``.

    Raises:
        InvalidIdentifier: ``device_id`` is not a valid device id.
        InvalidMessage: a field has the wrong type or holds a newline.
    """
    text = _join([DOMAIN, RESPONSE_KIND, DeviceId(device_id), request_id, _int(server_time_ms)])
    return text.encode("utf-8")


def segment_canonical(ev: SegmentClosed) -> str:
    """The string a ``segment.closed`` event's ``sig`` covers.

    ``ossmedia/v1, segment.closed, device_id, event_id, seq, key, bytes, crc64, start_ms,
    end_ms``; ``crc64`` in decimal.
    """
    return _join(
        [
            DOMAIN,
            SEGMENT_KIND,
            ev.device_id,
            ev.event_id,
            _int(ev.seq),
            ev.key,
            _int(ev.bytes),
            _int(ev.crc64),
            _int(ev.start_ms),
            _int(ev.end_ms),
        ]
    )


def opened_canonical(ev: SegmentOpened) -> str:
    """The string a ``segment.opened`` event's ``sig`` covers.

    ``ossmedia/v1, segment.opened, device_id, event_id, seq, key, start_ms``.
    """
    return _join(
        [
            DOMAIN,
            OPENED_KIND,
            ev.device_id,
            ev.event_id,
            _int(ev.seq),
            ev.key,
            _int(ev.start_ms),
        ]
    )


def status_canonical(st: Status) -> str:
    """The string a ``status`` message's ``sig`` covers.

    ``ossmedia/v1, status, device_id, ts_ms, state, spool_bytes, oldest_unsent_age_ms,
    last_upload_ms, cred_expires_at_ms, clock_offset_ms, uploaded_bytes, dropped_bytes``,
    then ``alerts`` joined with commas only when there are any (a status without alerts
    signs the same string as before alerts existed); null fields as the empty string.
    """
    alerts = [",".join(alert.value for alert in st.alerts)] if st.alerts else []
    return _join(
        [
            DOMAIN,
            STATUS_KIND,
            st.device_id,
            _int(st.ts_ms),
            st.state.value,
            _int(st.spool_bytes),
            _opt_int(st.oldest_unsent_age_ms),
            _opt_int(st.last_upload_ms),
            _opt_int(st.cred_expires_at_ms),
            _int(st.clock_offset_ms),
            _int(st.uploaded_bytes),
            _int(st.dropped_bytes),
            *alerts,
        ]
    )
