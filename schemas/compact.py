"""Reading a credential request in its compact encoding, without the general JSON parser.

Cameras send requests exactly as :func:`schemas.messages.encode` writes them: no whitespace,
fields in declaration order, plain ASCII values without escapes. A payload in that one shape
is read here with a single anchored pattern plus two range checks, at a fraction of the cost
of hardened JSON parsing followed by model validation; any other payload (whitespace, another
field order, an escape, an extra or missing field, a value out of range) is left to the full
path, which accepts or refuses it with its usual reason.

The pattern encodes the model's rules field by field, so the shape it matches holds no
duplicate key, no nesting, no number other than a plain integer, no string that is not
ASCII, nothing over the size limit: every hardening rule of :mod:`schemas.wirejson` holds
by construction. Base64url values must be canonical, which for fixed lengths is a rule about
their last character: 16 bytes in 22 characters leave 4 spare bits, so the last character
is one of ``A Q g w``; 32 bytes in 43 characters leave 2, so it is one of the 16 characters
whose alphabet index is a multiple of 4.

``tests/schemas/test_compact.py`` pins the contract with Hypothesis: for any payload,
:func:`parse_compact_request` returns exactly what the full path returns when the full path
accepts the payload and the payload is the compact encoding of the result, and ``None``
otherwise.
"""

from __future__ import annotations

import re

from schemas.durations import MAX_SESSION_DURATION_S, MIN_REQUEST_DURATION_S
from schemas.fields import JS_SAFE_LIMIT
from schemas.ids import DeviceId
from schemas.requests import Access, CredsRequest

_B64 = "[A-Za-z0-9_-]"
_COMPACT_REQUEST = re.compile(
    (
        r'\{"v":1,"kind":"creds\.request",'
        r'"device_id":"([A-Za-z0-9][A-Za-z0-9_-]{1,31})",'
        r'"request_id":"([0-9a-f]{32})",'
        r'"issued_at_ms":(0|[1-9][0-9]{0,15}),'
        rf'"nonce":"({_B64}{{21}}[AQgw])",'
        r'"access":"(append|write|read)",'
        r'"duration_s":([1-9][0-9]{0,4}),'
        rf'"sig":"({_B64}{{42}}[AEIMQUYcgkosw048])"\}}'
    ).encode("ascii")
)


def parse_compact_request(payload: bytes) -> CredsRequest | None:
    """Read a credential request that is in exactly its compact encoding.

    Args:
        payload: the raw MQTT payload.

    Returns:
        The request (its signature is not checked here; see ``verify_request``), equal to
        what :func:`schemas.messages.parse_request` returns for the same payload; or
        ``None`` when the payload is not a valid request in compact encoding, in which case
        the full path must decide.
    """
    match = _COMPACT_REQUEST.fullmatch(payload)
    if match is None:
        return None
    device_id, request_id, issued, nonce, access, duration, sig = match.groups()
    issued_at_ms = int(issued)
    duration_s = int(duration)
    if (
        issued_at_ms >= JS_SAFE_LIMIT
        or not MIN_REQUEST_DURATION_S <= duration_s <= MAX_SESSION_DURATION_S
    ):
        return None
    # Every field was checked above exactly as the model's validators check it.
    return CredsRequest.model_construct(
        v=1,
        kind="creds.request",
        device_id=DeviceId(device_id.decode("ascii")),
        request_id=request_id.decode("ascii"),
        issued_at_ms=issued_at_ms,
        nonce=nonce.decode("ascii"),
        access=Access(access.decode("ascii")),
        duration_s=duration_s,
        sig=sig.decode("ascii"),
    )
