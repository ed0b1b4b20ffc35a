"""JSON shapes of the REST API, as pydantic models.

The same models validate request bodies, serialise responses and produce the component
schemas of the OpenAPI document, so the document cannot disagree with the code.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cloud.console.devices import DeviceInfo, NewSecret
from cloud.console.ledger import CameraState, Recording
from cloud.console.live import LiveObject
from cloud.console.retention import MAX_DAYS, RetentionDrift, RetentionPlan
from cloud.console.service import SignedLink
from cloud.console.storage import ExpiryRule
from cloud.console.timeline import Span, Timeline

__all__ = [
    "ApiError",
    "CameraOut",
    "CameraPage",
    "DeviceCreate",
    "DeviceList",
    "DeviceOut",
    "DeviceSecretOut",
    "LinkOut",
    "LoginIn",
    "RecordingOut",
    "RecordingPage",
    "RetentionDaysIn",
    "RetentionOut",
    "SessionOut",
    "SpanOut",
    "TimelineOut",
]

DeviceIdStr = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{1,31}$")]
Days = Annotated[int, Field(ge=1, le=MAX_DAYS)]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _In(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class ApiError(_Out):
    """An error answer."""

    error: str = Field(description="machine-readable code")
    message: str = Field(description="human-readable explanation")


class LoginIn(_In):
    """Credentials for ``POST /api/session``."""

    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class SessionOut(_Out):
    """The caller's session."""

    authenticated: bool
    username: str | None = None
    csrf_token: str = Field(
        description="send as X-CSRF-Token on every state change (before login: on the login)"
    )


class CameraOut(_Out):
    """One camera in the fleet."""

    device_id: str
    online: bool
    registry_state: str | None = Field(description="active, revoked, or null if unprovisioned")
    status_at_ms: int | None = Field(description="when the camera issued its latest status")
    last_upload_ms: int | None
    spool_bytes: int | None
    oldest_unsent_age_ms: int | None
    credential_expires_ms: int | None
    clock_offset_ms: int | None
    uploaded_bytes: int | None
    dropped_bytes: int | None
    recordings: int
    flagged_recordings: int
    last_recording_end_ms: int | None
    seq_collisions: int = Field(
        description="recordings that reused one of the camera's sequence numbers for another "
        "object (spool wiped or camera replaced); all of them are kept"
    )

    @classmethod
    def of(cls, c: CameraState) -> CameraOut:
        """Build from a ledger entry."""
        s = c.status
        return cls(
            device_id=c.device_id,
            online=c.online,
            registry_state=c.registry_state,
            status_at_ms=s.issued_at_ms if s else None,
            last_upload_ms=s.last_upload_ms if s else None,
            spool_bytes=s.spool_bytes if s else None,
            oldest_unsent_age_ms=s.oldest_unsent_age_ms if s else None,
            credential_expires_ms=s.credential_expires_ms if s else None,
            clock_offset_ms=s.clock_offset_ms if s else None,
            uploaded_bytes=s.uploaded_bytes if s else None,
            dropped_bytes=s.dropped_bytes if s else None,
            recordings=c.recordings,
            flagged_recordings=c.flagged,
            last_recording_end_ms=c.last_recording_end_ms,
            seq_collisions=c.seq_collisions,
        )


class CameraPage(_Out):
    """A page of cameras."""

    items: list[CameraOut]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page")


class RecordingOut(_Out):
    """One recording."""

    recording_id: str
    device_id: str
    seq: int
    object_key: str
    bytes: int
    crc64: str = Field(description="CRC-64/ECMA as a decimal string")
    start_ms: int
    end_ms: int
    received_at_ms: int
    verification: Literal["pending", "verified", "flagged", "deleted"]
    reason: str
    checked_at_ms: int | None
    observed_bytes: int | None

    @classmethod
    def of(cls, r: Recording) -> RecordingOut:
        """Build from a ledger entry."""
        f = r.facts
        return cls(
            recording_id=f.event_id,
            device_id=f.device_id,
            seq=f.seq,
            object_key=f.object_key,
            bytes=f.size,
            crc64=str(f.crc64),
            start_ms=f.start_ms,
            end_ms=f.end_ms,
            received_at_ms=r.received_at_ms,
            verification=r.verification.value,
            reason=r.reason,
            checked_at_ms=r.checked_at_ms,
            observed_bytes=r.observed_size,
        )


class RecordingPage(_Out):
    """A page of recordings."""

    items: list[RecordingOut]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page")


class SpanOut(_Out):
    """A stretch of a timeline."""

    start_ms: int
    end_ms: int
    recording_id: str | None = None
    verification: str | None = None

    @classmethod
    def of(cls, s: Span) -> SpanOut:
        """Build from a timeline span."""
        return cls(
            start_ms=s.start_ms,
            end_ms=s.end_ms,
            recording_id=s.recording_id or None,
            verification=s.verification or None,
        )


class TimelineOut(_Out):
    """One camera's UTC day."""

    device_id: str
    day: str
    start_ms: int
    end_ms: int
    recordings: list[SpanOut]
    gaps: list[SpanOut]
    truncated: bool

    @classmethod
    def of(cls, device_id: str, t: Timeline) -> TimelineOut:
        """Build from a timeline."""
        return cls(
            device_id=device_id,
            day=t.day.isoformat(),
            start_ms=t.start_ms,
            end_ms=t.end_ms,
            recordings=[SpanOut.of(s) for s in t.recordings],
            gaps=[SpanOut.of(s) for s in t.gaps],
            truncated=t.truncated,
        )


class LinkOut(_Out):
    """A short-lived presigned URL."""

    url: str
    expires_at_ms: int

    @classmethod
    def of(cls, link: SignedLink) -> LinkOut:
        """Build from a signed link."""
        return cls(url=link.url, expires_at_ms=link.expires_at_ms)


class LiveOut(_Out):
    """A recording in progress: an object the camera is still appending to."""

    live_id: str = Field(description="id of the camera's segment.opened event")
    device_id: str
    object_key: str
    start_ms: int
    bytes: int = Field(description="the object's length when the console last looked")
    bytes_at_ms: int | None = Field(description="when it looked")
    indexed_to_ms: int | None = Field(description="end of the last complete fragment")
    playlist: str = Field(description="the live HLS playlist of this recording")

    @classmethod
    def of(cls, live: LiveObject) -> LiveOut:
        """Build from a followed object."""
        return cls(
            live_id=live.live_id,
            device_id=live.facts.device_id,
            object_key=live.facts.object_key,
            start_ms=live.facts.start_ms,
            bytes=live.size,
            bytes_at_ms=live.size_at_ms,
            indexed_to_ms=live.end_ms,
            playlist=f"/api/live/{live.live_id}/playlist.m3u8",
        )


class InProgressOut(_Out):
    """A camera's recording in progress, or null when it is not recording."""

    in_progress: LiveOut | None


MAX_CLIP_MS = 86_400_000


class ClipIn(_In):
    """A time range of one camera to export as one file."""

    from_ms: Annotated[int, Field(ge=0, le=2**53 - 1)]
    to_ms: Annotated[int, Field(ge=1, le=2**53 - 1)]

    @model_validator(mode="after")
    def _ordered(self) -> ClipIn:
        if not self.from_ms < self.to_ms <= self.from_ms + MAX_CLIP_MS:
            raise ValueError("to_ms must be after from_ms and at most 24 hours later")
        return self


class RetentionDaysIn(_In):
    """A retention setting; null removes it."""

    days: Days | None


class RetentionRuleOut(_Out):
    """A bucket lifecycle rule the console maintains."""

    rule_id: str
    prefix: str
    days: int


def _rules(rules: tuple[ExpiryRule, ...]) -> list[RetentionRuleOut]:
    return [RetentionRuleOut(rule_id=r.rule_id, prefix=r.prefix, days=r.days) for r in rules]


class BucketRulesOut(_Out):
    """The console's lifecycle rules as the bucket holds them, against the saved settings."""

    in_step: bool
    rules: list[RetentionRuleOut]
    missing: list[RetentionRuleOut]
    unexpected: list[RetentionRuleOut]

    @classmethod
    def of(cls, drift: RetentionDrift) -> BucketRulesOut:
        """Build from a drift report."""
        return cls(
            in_step=drift.in_step,
            rules=_rules(drift.in_bucket),
            missing=_rules(drift.missing),
            unexpected=_rules(drift.unexpected),
        )


class RetentionOut(_Out):
    """Retention settings and the lifecycle rules applied to the bucket."""

    fleet_days: int | None
    camera_days: dict[str, int]
    rules: list[RetentionRuleOut]

    @classmethod
    def of(cls, plan: RetentionPlan) -> RetentionOut:
        """Build from a retention plan."""
        return cls(
            fleet_days=plan.fleet_days,
            camera_days=dict(plan.camera_days),
            rules=[
                RetentionRuleOut(rule_id=r.rule_id, prefix=r.prefix, days=r.days)
                for r in plan.rules
            ],
        )


class DeviceCreate(_In):
    """A device to provision, and the access modes it may ask for (default: all three)."""

    device_id: DeviceIdStr
    access: Annotated[
        list[Literal["append", "write", "read"]] | None, Field(min_length=1, max_length=3)
    ] = None


class DeviceOut(_Out):
    """A provisioned device (never its secret)."""

    device_id: str
    status: str
    secret_version: int
    created_at_ms: int
    updated_at_ms: int

    @classmethod
    def of(cls, d: DeviceInfo) -> DeviceOut:
        """Build from registry info."""
        return cls(
            device_id=d.device_id,
            status=d.status,
            secret_version=d.secret_version,
            created_at_ms=d.created_at_ms,
            updated_at_ms=d.updated_at_ms,
        )


class DeviceList(_Out):
    """A page of devices."""

    items: list[DeviceOut]
    next_cursor: str | None


class DeviceSecretOut(_Out):
    """A device with its new secret: returned once, by provisioning and rotation only."""

    device: DeviceOut
    secret: str = Field(description="the device secret; store it on the camera, it is not kept")
    camera_config: str = Field(
        description="the ready camera.toml holding the secret (as `ossmedia devices add` "
        "prints it); save it on the camera"
    )

    @classmethod
    def of(cls, made: NewSecret) -> DeviceSecretOut:
        """Build from a new secret."""
        return cls(
            device=DeviceOut.of(made.device), secret=made.secret, camera_config=made.camera_config
        )
