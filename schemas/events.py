"""Camera reports: ``segment.closed`` on ``P/v1/{device_id}/events`` and ``status``."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import ConfigDict, model_validator
from pydantic_core import PydanticCustomError

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


class StatusState(StrEnum):
    """Whether the camera is connected."""

    ONLINE = "online"
    OFFLINE = "offline"


StatusStateField = Annotated[StatusState, enum_from_str(StatusState)]


def _status_schema(schema: dict[str, Any]) -> None:
    all_required(schema)
    # JSON Schema form of the model validator below: unsigned implies offline.
    schema["if"] = {"properties": {"sig": {"type": "null"}}}
    schema["then"] = {"properties": {"state": {"const": StatusState.OFFLINE.value}}}


class Status(WireModel):
    """A camera's health, retained on the broker; its unsigned last will says ``offline``."""

    model_config = ConfigDict(json_schema_extra=_status_schema)  # merged with the base config

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
    sig: Sig | None = None
    """HMAC-SHA256 over the status's canonical string; null only in an ``offline`` will."""

    @model_validator(mode="after")
    def _only_offline_unsigned(self) -> Self:
        if self.sig is None and self.state is not StatusState.OFFLINE:
            raise PydanticCustomError("unsigned", "an unsigned status must have state 'offline'")
        return self
