"""The credential request a camera sends on ``P/v1/{device_id}/creds/req``."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from schemas.durations import MAX_SESSION_DURATION_S, MIN_REQUEST_DURATION_S
from schemas.fields import HexId, Millis, Nonce, Sig, Version, enum_from_str
from schemas.ids import DeviceId
from schemas.model import WireModel


class Access(StrEnum):
    """What the credentials may do: the C SDK's ``a``, ``w`` and ``r`` modes."""

    APPEND = "append"
    WRITE = "write"
    READ = "read"


AccessField = Annotated[Access, enum_from_str(Access)]


class CredsRequest(WireModel):
    """A signed request for short-lived storage credentials."""

    v: Version = 1
    """Protocol version."""
    kind: Literal["creds.request"] = "creds.request"
    """Message kind."""
    device_id: DeviceId
    """The requesting camera; must equal the device id in the topic."""
    request_id: HexId
    """Fresh per request; the reply carries it back."""
    issued_at_ms: Millis
    """The camera's clock (plus its adopted offset) when it signed the request."""
    nonce: Nonce
    """16 fresh random bytes; never reused within the responder's skew window."""
    access: AccessField
    """Requested access mode."""
    duration_s: Annotated[int, Field(ge=MIN_REQUEST_DURATION_S, le=MAX_SESSION_DURATION_S)]
    """Requested credential lifetime in seconds; the responder clamps it to its own range."""
    sig: Sig
    """HMAC-SHA256 with the sign key over the request's canonical string."""
