"""Camera reports: ``segment.opened``, ``segment.closed`` and ``hls.key`` on ``P/v1/{device_id}/events``, ``status``."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from schemas.encoding import b64url_decode
from schemas.errors import InvalidMessage
from schemas.fields import (
    Count,
    Crc64,
    HexId,
    Millis,
    ObjectKey,
    Sig,
    SignedMillis,
    Version,
    enum_from_str,
)
from schemas.ids import DeviceId
from schemas.model import WireModel, all_required


class SegmentClosed(WireModel):
    """A finished object, so the cloud keeps a recording ledger without listing the bucket."""

    v: Version = 1
    """Protocol version."""
    kind: Literal["segment.closed"] = "segment.closed"
    """Message kind."""
    device_id: DeviceId
    """The reporting camera."""
    event_id: HexId
    """Random id of this event; a redelivery carries the same id."""
    seq: Count
    """Per-device sequence number, one more for each closed segment."""
    key: ObjectKey
    """The object's key."""
    bytes: Count
    """The object's final length."""
    crc64: Crc64
    """The object's CRC-64/ECMA-182 as OSS reports it; a decimal string on the wire."""
    start_ms: Millis
    """Time of the first recorded frame."""
    end_ms: Millis
    """Time of the last recorded frame."""
    sig: Sig
    """HMAC-SHA256 over the event's canonical string."""


class SegmentOpened(WireModel):
    """An object that now holds its first bytes, so viewers can follow it live.

    Sent once per appendable object, after its first append is stored, and once per HLS
    recording, for its playlist, after the playlist's first live version is stored; its
    ``segment.closed`` follows when the object is finished. It carries no length: the
    object grows (or is rewritten) after it is sent.
    """

    v: Version = 1
    """Protocol version."""
    kind: Literal["segment.opened"] = "segment.opened"
    """Message kind."""
    device_id: DeviceId
    """The reporting camera."""
    event_id: HexId
    """Random id of this event; a redelivery carries the same id."""
    seq: Count
    """The object's sequence number, the same as in its later ``segment.closed``."""
    key: ObjectKey
    """The object's key."""
    start_ms: Millis
    """Time of the first recorded frame."""
    sig: Sig
    """HMAC-SHA256 over the event's canonical string."""


CONTENT_KEY_BYTES = 16
"""An HLS AES-128 content key."""

SEALED_CONTENT_KEY_CHARS = 59
"""``b64url(nonce12 || key16 || tag16)``: 44 bytes are 59 unpadded base64url characters."""


def _sealed_content_key(value: str) -> str:
    try:
        blob = b64url_decode(value)
    except InvalidMessage:
        raise PydanticCustomError(
            "base64url", "value is not canonical unpadded base64url"
        ) from None
    if len(blob) != 12 + CONTENT_KEY_BYTES + 16:
        raise PydanticCustomError("sealed_key", "a sealed content key holds 44 bytes")
    return value


SealedContentKey = Annotated[
    str,
    Field(pattern=rf"^[A-Za-z0-9_-]{{{SEALED_CONTENT_KEY_CHARS}}}$"),
    AfterValidator(_sealed_content_key),
]
"""A 16-byte content key sealed with AES-256-GCM: ``b64url(nonce12 || ciphertext16 || tag16)``."""


class HlsKey(WireModel):
    """An HLS content key, sealed to the cloud, so the console can serve it to viewers.

    The key itself is inside ``sealed`` (AES-256-GCM under the device's ``seal_key``, bound
    to ``device_id`` and ``key_id``), so the broker and other subscribers never see it.
    """

    v: Version = 1
    """Protocol version."""
    kind: Literal["hls.key"] = "hls.key"
    """Message kind."""
    device_id: DeviceId
    """The camera whose stream the key encrypts."""
    key_id: HexId
    """Random id of the key, as it appears in the playlist's key URI; a redelivery keeps it."""
    created_ms: Millis
    """When the camera drew the key."""
    sealed: SealedContentKey
    """The 16 key bytes, sealed under the device's ``seal_key``."""
    sig: Sig
    """HMAC-SHA256 over the event's canonical string."""


class StatusState(StrEnum):
    """Whether the camera is connected."""

    ONLINE = "online"
    OFFLINE = "offline"


StatusStateField = Annotated[StatusState, enum_from_str(StatusState)]


class StatusAlert(StrEnum):
    """A condition the camera cannot fix by itself, reported while it lasts."""

    SPOOL_FULL = "spool_full"
    """The spool reached ``max_bytes``: the full-spool policy drops or rejects recording."""
    DISK_FULL = "disk_full"
    """The spool's file system is full (or over quota): the policy drops or rejects."""
    SOURCE_CHANGED = "source_changed"
    """The source changed under the camera since its last committed position (the file was
    replaced, truncated or rewritten): it is being recorded again from its start as a new
    recording rather than continued. Reported until the camera restarts."""
    CREDENTIALS_REFUSED = "credentials_refused"
    """The responder keeps refusing credential requests with replies the camera cannot
    verify: most likely a wrong or rotated secret, or a device id it does not know."""


StatusAlertField = Annotated[StatusAlert, enum_from_str(StatusAlert)]


def _status_schema(schema: dict[str, Any]) -> None:
    all_required(schema)
    # JSON Schema form of the model validator below: unsigned implies offline.
    schema["if"] = {"properties": {"sig": {"type": "null"}}}
    schema["then"] = {"properties": {"state": {"const": StatusState.OFFLINE.value}}}


class Status(WireModel):
    """A camera's health, retained on the broker; its unsigned last will says ``offline``."""

    model_config = ConfigDict(json_schema_extra=_status_schema)  # merged with the base config
    wire_optional = frozenset({"alerts"})  # cameras from before alerts leave it out

    v: Version = 1
    """Protocol version."""
    kind: Literal["status"] = "status"
    """Message kind."""
    device_id: DeviceId
    """The reporting camera."""
    ts_ms: Millis
    """When the status was produced (for the last will: when it was registered)."""
    state: StatusStateField
    """Connection state."""
    spool_bytes: Count
    """Bytes waiting in the on-disk spool."""
    oldest_unsent_age_ms: Count | None = None
    """Age of the oldest unsent spooled byte, null when the spool is empty."""
    last_upload_ms: Millis | None = None
    """Time of the last successful upload, null if none yet."""
    cred_expires_at_ms: Millis | None = None
    """Expiry of the credentials held, null if none."""
    clock_offset_ms: SignedMillis
    """Offset the camera adds to its clock, learnt from the responder."""
    uploaded_bytes: Count
    """Bytes uploaded since the agent started."""
    dropped_bytes: Count
    """Bytes dropped (spool full) since the agent started."""
    alerts: tuple[StatusAlertField, ...] = ()
    """Conditions in force that need attention (empty when all is well)."""
    sig: Sig | None = None
    """HMAC-SHA256 over the status's canonical string; null only in an ``offline`` will."""

    @field_validator("alerts", mode="before")
    @classmethod
    def _alerts_from_json(cls, value: Any) -> Any:
        return tuple(value) if isinstance(value, list) else value  # a JSON array

    @model_validator(mode="after")
    def _only_offline_unsigned(self) -> Self:
        if self.sig is None and self.state is not StatusState.OFFLINE:
            raise PydanticCustomError("unsigned", "an unsigned status must have state 'offline'")
        return self
