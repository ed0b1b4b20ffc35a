"""Value objects of the recording ledger: recordings, camera states, pages."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = [
    "CameraState",
    "Page",
    "Recording",
    "SegmentFacts",
    "StatusFacts",
    "Verification",
]

T = TypeVar("T")


class Verification(enum.StrEnum):
    """Where a recording stands against the object in OSS.

    ``pending``: not checked yet (or the last check could not reach OSS).
    ``verified``: length and CRC-64 of the object match the camera's event.
    ``flagged``: the object is missing or differs from what the camera reported.
    ``deleted``: an operator deleted it; the row stays so a redelivered event cannot revive it.
    """

    PENDING = "pending"
    VERIFIED = "verified"
    FLAGGED = "flagged"
    DELETED = "deleted"


@dataclass(frozen=True)
class SegmentFacts:
    """What a verified ``segment.closed`` event says about one finished object.

    Attributes:
        event_id: the event's unique id (ledger key).
        device_id: the camera.
        seq: the camera's segment sequence number (unique per camera).
        object_key: the object in the bucket.
        size: object length in bytes.
        crc64: CRC-64/ECMA of the object, as OSS reports it (unsigned, decimal).
        start_ms: first frame time.
        end_ms: last frame time.
    """

    event_id: str
    device_id: str
    seq: int
    object_key: str
    size: int
    crc64: int
    start_ms: int
    end_ms: int


@dataclass(frozen=True)
class Recording:
    """A recording as the ledger knows it.

    Attributes:
        facts: what the camera reported.
        received_at_ms: when the console stored the event.
        verification: the latest check result.
        reason: why it was flagged (``missing``, ``length``, ``crc64``), or empty.
        checked_at_ms: when it was last checked, if ever.
        observed_size: the object's length at the last check, if it existed.
    """

    facts: SegmentFacts
    received_at_ms: int
    verification: Verification
    reason: str
    checked_at_ms: int | None
    observed_size: int | None

    @property
    def recording_id(self) -> str:
        """The id operators and the API use: the event id."""
        return self.facts.event_id

    @property
    def duration_ms(self) -> int:
        """Length of the recording in milliseconds."""
        return max(0, self.facts.end_ms - self.facts.start_ms)


@dataclass(frozen=True)
class StatusFacts:
    """What a verified ``status`` message says about a camera.

    Attributes:
        device_id: the camera.
        issued_at_ms: when the camera issued it (only newer statuses replace older ones).
        online: False for the camera's last will.
        last_upload_ms: time of the last successful upload, if any.
        spool_bytes: bytes waiting on the camera's disk.
        oldest_unsent_age_ms: age of the oldest unsent byte, if any.
        credential_expires_ms: when the camera's current credentials expire, if it has any.
        clock_offset_ms: the camera's correction to its own clock.
        uploaded_bytes: bytes uploaded since the camera started.
        dropped_bytes: bytes the camera had to drop (spool full).
    """

    device_id: str
    issued_at_ms: int
    online: bool
    last_upload_ms: int | None
    spool_bytes: int
    oldest_unsent_age_ms: int | None
    credential_expires_ms: int | None
    clock_offset_ms: int
    uploaded_bytes: int
    dropped_bytes: int


@dataclass(frozen=True)
class CameraState:
    """One camera in the fleet overview.

    Attributes:
        device_id: the camera.
        status: its latest status, if it ever sent one.
        status_received_ms: when the console received that status.
        registry_state: what the registry says (``active``, ``revoked``), or None if the
            camera is only known from its messages.
        recordings: recordings in the ledger (not deleted).
        flagged: recordings that failed verification.
        last_recording_end_ms: end of the newest recording, if any.
        seq_collisions: recordings that reused a sequence number of this camera for another
            object (its spool was wiped, or it was replaced); each is kept, and the console
            shows the count as a warning.
    """

    device_id: str
    status: StatusFacts | None
    status_received_ms: int | None
    registry_state: str | None
    recordings: int
    flagged: int
    last_recording_end_ms: int | None
    seq_collisions: int = 0

    @property
    def online(self) -> bool:
        """True when the latest status says the camera is connected.

        Never for a revoked camera: its messages are refused from the revocation on, so its
        last status accepted (often ``online``) no longer tells anything.
        """
        return self.registry_state != "revoked" and self.status is not None and self.status.online


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing.

    Attributes:
        items: the entries on this page.
        next_after: position to continue from, or None on the last page.
    """

    items: tuple[T, ...]
    next_after: tuple[str | int, ...] | None
