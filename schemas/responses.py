"""Replies on ``P/v1/{device_id}/creds/res`` and the sealed credentials inside a success."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated, Literal

from pydantic import Field

from schemas.fields import (
    BucketName,
    FalseFlag,
    HexId,
    KeyPrefix,
    Millis,
    RegionId,
    Sealed,
    Sig,
    Text,
    Token,
    TrueFlag,
    Version,
    enum_from_str,
)
from schemas.ids import DeviceId
from schemas.model import WireModel
from schemas.requests import AccessField

MAX_ERROR_MESSAGE = 512


class Reaction(StrEnum):
    """What a camera does on a verified error reply; each :class:`ErrorCode` has one."""

    RETRY = "retry"
    """Back off (jittered exponential) and ask again with a fresh request."""
    WAIT = "wait"
    """Wait ``retry_after_ms`` plus jitter, then ask again."""
    ADOPT_CLOCK = "adopt_clock"
    """Adopt ``server_time_ms`` as the clock offset and ask again at once (once per refresh;
    after that, like :attr:`RETRY`)."""
    STOP = "stop"
    """The device is revoked or unknown: stop asking for good."""
    DENY = "deny"
    """This request is refused and asking again the same way cannot help: report it, and ask
    again only after the longest backoff."""


class ErrorCode(StrEnum):
    """Why a credential request failed (see docs/protocol.md for what a camera does)."""

    INVALID_REQUEST = "invalid_request"
    UNKNOWN_DEVICE = "unknown_device"
    REVOKED = "revoked"
    BAD_SIGNATURE = "bad_signature"
    CLOCK_SKEW = "clock_skew"
    REPLAY = "replay"
    RATE_LIMITED = "rate_limited"
    ACCESS_DENIED = "access_denied"
    STS_THROTTLED = "sts_throttled"
    STS_UNAVAILABLE = "sts_unavailable"
    INTERNAL = "internal"
    UNAVAILABLE = "unavailable"

    @property
    def reaction(self) -> Reaction:
        """What a camera does on a verified error reply with this code."""
        return REACTIONS[self]


REACTIONS: Mapping[ErrorCode, Reaction] = MappingProxyType(
    {
        ErrorCode.INVALID_REQUEST: Reaction.DENY,
        ErrorCode.UNKNOWN_DEVICE: Reaction.STOP,
        ErrorCode.REVOKED: Reaction.STOP,
        ErrorCode.BAD_SIGNATURE: Reaction.DENY,
        ErrorCode.CLOCK_SKEW: Reaction.ADOPT_CLOCK,
        ErrorCode.REPLAY: Reaction.RETRY,
        ErrorCode.RATE_LIMITED: Reaction.WAIT,
        ErrorCode.ACCESS_DENIED: Reaction.DENY,
        ErrorCode.STS_THROTTLED: Reaction.WAIT,
        ErrorCode.STS_UNAVAILABLE: Reaction.RETRY,
        ErrorCode.INTERNAL: Reaction.RETRY,
        ErrorCode.UNAVAILABLE: Reaction.WAIT,
    }
)
"""Every error code's camera reaction (the table in docs/protocol.md is checked against it)."""


class Credentials(WireModel):
    """Temporary STS credentials. The repr hides the secret and the token."""

    access_key_id: Annotated[Token, Field(max_length=128)]
    """Temporary AccessKey id."""
    access_key_secret: Annotated[Token, Field(max_length=256, repr=False)]
    """Temporary AccessKey secret."""
    security_token: Annotated[Token, Field(max_length=8192, repr=False)]
    """STS security token, sent with every storage request."""
    expiration_ms: Millis
    """When STS says the credentials expire."""


class Grant(WireModel):
    """Where and how the credentials may be used."""

    endpoint: Annotated[Token, Field(max_length=256)]
    """Storage endpoint, e.g. ``https://oss-cn-hangzhou.aliyuncs.com``."""
    bucket: BucketName
    """Bucket the device writes to."""
    region: RegionId
    """Region of the bucket, e.g. ``cn-hangzhou``."""
    prefix: KeyPrefix
    """The only key prefix the credentials reach, e.g. ``videos/cam-0001/``."""
    access: AccessField
    """Access mode granted."""
    expires_at_ms: Millis
    """When the grant ends (never after the credentials expire)."""


class SealedPayload(WireModel):
    """The plaintext sealed inside a success reply."""

    credentials: Credentials
    """The temporary credentials."""
    grant: Grant
    """What they allow."""


ErrorCodeField = Annotated[ErrorCode, enum_from_str(ErrorCode)]


class ErrorInfo(WireModel):
    """Why a request failed."""

    code: ErrorCodeField
    """Machine-readable reason (signed)."""
    message: Annotated[Text, Field(max_length=MAX_ERROR_MESSAGE)]
    """Human-readable detail (not signed: informational only)."""
    retry_after_ms: Millis | None = None
    """How long to wait before retrying, when the responder knows (signed)."""


class CredsResponseOk(WireModel):
    """A success reply: credentials sealed to the requesting device."""

    v: Version = 1
    """Protocol version."""
    kind: Literal["creds.response"] = "creds.response"
    """Message kind."""
    device_id: DeviceId
    """The device the reply is for."""
    request_id: HexId
    """The request answered."""
    ok: TrueFlag = True
    """Success flag."""
    server_time_ms: Millis
    """The responder's clock when it answered."""
    sealed: Sealed
    """AES-256-GCM sealed :class:`SealedPayload`; the header fields are its associated data."""


class CredsResponseError(WireModel):
    """A failure reply, signed when the responder knows the device."""

    v: Version = 1
    """Protocol version."""
    kind: Literal["creds.response"] = "creds.response"
    """Message kind."""
    device_id: DeviceId
    """The device the reply is for."""
    request_id: HexId | None = None
    """The request answered, or null when the request was unreadable."""
    ok: FalseFlag = False
    """Success flag."""
    server_time_ms: Millis
    """The responder's clock when it answered; adopt it on ``clock_skew``."""
    error: ErrorInfo
    """What went wrong."""
    sig: Sig | None = None
    """HMAC-SHA256 over the error's canonical string; null only for unknown devices."""
