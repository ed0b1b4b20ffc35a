"""Devices as the console sees them: a seam over the device registry.

The console provisions, revokes and rotates devices through :class:`DeviceAdmin`, and the
ingest looks up signing keys through it. :class:`RegistryDevices` is the implementation on
:class:`cloud.registry.Registry`; registry and protocol errors are turned into console
errors here, at one boundary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from cloud.console.errors import (
    ConflictError,
    DeviceNotFoundError,
    InvalidInputError,
    ProvisioningError,
)
from cloud.errors import DeviceExists, DeviceIsRevoked, DeviceNotFound, RegistryError
from cloud.registry import DeviceRecord, Registry
from schemas.errors import InvalidIdentifier, InvalidKey
from schemas.ids import is_device_id
from schemas.keys import DeviceKeys

__all__ = ["DeviceAdmin", "DeviceInfo", "NewSecret", "RegistryDevices", "SigningKey"]


@dataclass(frozen=True)
class DeviceInfo:
    """A provisioned device, without its secret.

    Attributes:
        device_id: the device.
        status: ``active`` or ``revoked``.
        secret_version: how many secrets it has had.
        created_at_ms: provisioning time.
        updated_at_ms: last revocation or rotation.
    """

    device_id: str
    status: str
    secret_version: int
    created_at_ms: int
    updated_at_ms: int


@dataclass(frozen=True)
class NewSecret:
    """A device secret just made, to be shown to the operator exactly once.

    Attributes:
        device: the device it belongs to.
        secret: unpadded base64url; kept out of the repr.
        camera_config: the ready ``camera.toml`` holding the secret (empty until the console
            service fills it in); kept out of the repr.
    """

    device: DeviceInfo
    secret: str
    camera_config: str = field(default="", repr=False)

    def __repr__(self) -> str:
        return f"NewSecret(device={self.device!r}, secret=<hidden>)"


@dataclass(frozen=True)
class SigningKey:
    """What the ingest needs to check a device's messages.

    Attributes:
        keys: the device's derived keys.
        active: False when the device is revoked.
    """

    keys: DeviceKeys
    active: bool


class DeviceAdmin(Protocol):
    """Device provisioning and key lookup."""

    def list_devices(self) -> list[DeviceInfo]:
        """Every provisioned device, sorted by id."""
        ...

    def provision(self, device_id: str, access: frozenset[str] | None = None) -> NewSecret:
        """Provision a device with a fresh secret.

        Args:
            device_id: the new device's id.
            access: the access modes it may ask for (all when ``None``).

        Raises:
            InvalidInputError: not a valid device id.
            ConflictError: the id is taken.
            ProvisioningError: the registry failed.
        """
        ...

    def revoke(self, device_id: str) -> DeviceInfo:
        """Revoke a device.

        Raises:
            DeviceNotFoundError: no such device.
            ProvisioningError: the registry failed.
        """
        ...

    def rotate(self, device_id: str) -> NewSecret:
        """Give a device a new secret.

        Raises:
            DeviceNotFoundError: no such device.
            ConflictError: the device is revoked (it is reinstated with `ossmedia devices`).
            ProvisioningError: the registry failed.
        """
        ...

    def signing_key(self, device_id: str) -> SigningKey | None:
        """The device's keys, or None when it is not provisioned.

        Raises:
            ProvisioningError: the registry failed or the stored secret is unusable.
        """
        ...


def _info(record: DeviceRecord) -> DeviceInfo:
    return DeviceInfo(
        device_id=record.device_id,
        status=record.status.value,
        secret_version=record.secret_version,
        created_at_ms=record.created_at_ms,
        updated_at_ms=record.updated_at_ms,
    )


class RegistryDevices:
    """:class:`DeviceAdmin` on the cloud device registry.

    Args:
        registry: an open registry (the caller closes it).
    """

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    def list_devices(self) -> list[DeviceInfo]:
        """Every provisioned device, sorted by id."""
        try:
            return [_info(r) for r in self._registry.list()]
        except RegistryError as exc:
            raise ProvisioningError("*", exc.message) from None

    def provision(self, device_id: str, access: frozenset[str] | None = None) -> NewSecret:
        """Provision a device; see :meth:`DeviceAdmin.provision`."""
        try:
            if access is None:
                record, secret = self._registry.add(device_id)
            else:
                record, secret = self._registry.add(device_id, access=access)
        except InvalidIdentifier as exc:
            raise InvalidInputError("device_id", exc.reason) from None
        except DeviceExists:
            raise ConflictError(f"device {device_id} already exists") from None
        except RegistryError as exc:
            raise ProvisioningError(device_id, exc.message) from None
        return NewSecret(_info(record), secret)

    def revoke(self, device_id: str) -> DeviceInfo:
        """Revoke a device; see :meth:`DeviceAdmin.revoke`."""
        try:
            return _info(self._registry.revoke(device_id))
        except DeviceNotFound:
            raise DeviceNotFoundError(device_id) from None
        except RegistryError as exc:
            raise ProvisioningError(device_id, exc.message) from None

    def rotate(self, device_id: str) -> NewSecret:
        """Rotate a device's secret; see :meth:`DeviceAdmin.rotate`."""
        try:
            record, secret = self._registry.rotate(device_id)
        except DeviceNotFound:
            raise DeviceNotFoundError(device_id) from None
        except DeviceIsRevoked as exc:
            raise ConflictError(exc.message) from None
        except RegistryError as exc:
            raise ProvisioningError(device_id, exc.message) from None
        return NewSecret(_info(record), secret)

    def signing_key(self, device_id: str) -> SigningKey | None:
        """The device's keys; see :meth:`DeviceAdmin.signing_key`."""
        if not is_device_id(device_id):
            return None
        try:
            known = self._registry.lookup(device_id)
            if known is None:
                return None
            keys = DeviceKeys.from_secret(known.secret)
        except InvalidKey as exc:
            raise ProvisioningError(device_id, exc.reason) from None
        except RegistryError as exc:
            raise ProvisioningError(device_id, exc.message) from None
        return SigningKey(keys=keys, active=known.record.status.value == "active")
