"""Registry records: what is stored about a device, and what the responder gets back."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

ACCESS_MODES: tuple[str, ...] = ("append", "write", "read")


class DeviceStatus(StrEnum):
    """Whether a device may obtain credentials."""

    ACTIVE = "active"
    REVOKED = "revoked"


def parse_access(text: str) -> frozenset[str]:
    """Parse a comma-separated access list such as ``append,write``.

    Args:
        text: the list; ``all`` means every mode.

    Returns:
        The set of access modes.

    Raises:
        ValueError: an unknown mode, or an empty list.
    """
    if text.strip() == "all":
        return frozenset(ACCESS_MODES)
    modes = frozenset(part.strip() for part in text.split(",") if part.strip())
    unknown = modes - set(ACCESS_MODES)
    if unknown or not modes:
        raise ValueError(f"access modes are {', '.join(ACCESS_MODES)} (got {text!r})")
    return modes


@dataclass(frozen=True)
class DeviceRecord:
    """What the registry knows about a device, secret excluded.

    Attributes:
        device_id: the validated device id.
        status: active or revoked.
        access: the access modes the device may ask for.
        secret_version: bumped by every rotation; binds the encrypted secret to its row.
        created_at_ms: provisioning time.
        updated_at_ms: last change (revocation, rotation).
    """

    device_id: str
    status: DeviceStatus
    access: frozenset[str]
    secret_version: int
    created_at_ms: int
    updated_at_ms: int

    def to_json(self) -> dict[str, object]:
        """A JSON-ready view (no secret)."""
        return {
            "device_id": self.device_id,
            "status": self.status.value,
            "access": sorted(self.access),
            "secret_version": self.secret_version,
            "created_at_ms": self.created_at_ms,
            "updated_at_ms": self.updated_at_ms,
        }


@dataclass(frozen=True)
class StoredDevice:
    """A registry row: the record plus the secret encrypted under the master key."""

    record: DeviceRecord
    sealed_secret: bytes = field(repr=False)


@dataclass(frozen=True)
class KnownDevice:
    """A provisioned device (active or revoked) with its secret opened.

    The secret is kept out of the repr so it can never reach a log by accident.
    """

    record: DeviceRecord
    secret: str = field(repr=False)
