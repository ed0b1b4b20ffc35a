"""The device registry: provisioning, lookup, revocation and secret rotation."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from cloud.errors import DeviceNotFound
from cloud.registry.models import (
    ACCESS_MODES,
    DeviceRecord,
    DeviceStatus,
    KnownDevice,
    StoredDevice,
)
from cloud.registry.secrets import MasterKey
from cloud.registry.store import DeviceStore
from schemas.ids import DeviceId
from schemas.keys import new_device_secret


class Registry:
    """Devices and their secrets, encrypted at rest under a master key.

    Args:
        store: where rows live (SQLite or Redis).
        master_key: opens and seals device secrets.
        clock: wall clock in seconds, for the records' timestamps.
    """

    def __init__(
        self,
        store: DeviceStore,
        master_key: MasterKey,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._key = master_key
        self._clock = clock

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def add(
        self, device_id: str, *, access: frozenset[str] = frozenset(ACCESS_MODES)
    ) -> tuple[DeviceRecord, str]:
        """Provision a device with a fresh secret.

        Args:
            device_id: the new device's id.
            access: the access modes it may ask for.

        Returns:
            The record and the secret (shown to the operator once, never stored in clear).

        Raises:
            InvalidIdentifier: ``device_id`` is not a valid device id.
            DeviceExists: the id is taken.
        """
        device_id = DeviceId(device_id)
        now = self._now_ms()
        record = DeviceRecord(
            device_id=str(device_id),
            status=DeviceStatus.ACTIVE,
            access=access,
            secret_version=1,
            created_at_ms=now,
            updated_at_ms=now,
        )
        secret = new_device_secret()
        self._store.insert(StoredDevice(record, self._key.seal(record.device_id, 1, secret)))
        return record, secret

    def lookup(self, device_id: str) -> KnownDevice | None:
        """The device with its opened secret, or ``None`` when it is not provisioned.

        Raises:
            SecretDecryptError: the stored secret does not open with this master key.
            RegistryError: the store failed.
        """
        stored = self._store.get(device_id)
        if stored is None:
            return None
        record = stored.record
        secret = self._key.open(record.device_id, record.secret_version, stored.sealed_secret)
        return KnownDevice(record=record, secret=secret)

    def get(self, device_id: str) -> DeviceRecord:
        """The device's record (no secret).

        Raises:
            DeviceNotFound: no such device.
        """
        stored = self._store.get(device_id)
        if stored is None:
            raise DeviceNotFound(device_id)
        return stored.record

    def revoke(self, device_id: str) -> DeviceRecord:
        """Revoke a device: from now on its requests are answered ``revoked``.

        Raises:
            DeviceNotFound: no such device.
        """
        stored = self._store.get(device_id)
        if stored is None:
            raise DeviceNotFound(device_id)
        record = replace(stored.record, status=DeviceStatus.REVOKED, updated_at_ms=self._now_ms())
        self._store.update(StoredDevice(record, stored.sealed_secret))
        return record

    def rotate(self, device_id: str) -> tuple[DeviceRecord, str]:
        """Give a device a new secret; the old one stops working at once.

        Requests signed with the old secret then fail with ``bad_signature``.

        Returns:
            The updated record and the new secret.

        Raises:
            DeviceNotFound: no such device.
        """
        stored = self._store.get(device_id)
        if stored is None:
            raise DeviceNotFound(device_id)
        version = stored.record.secret_version + 1
        record = replace(stored.record, secret_version=version, updated_at_ms=self._now_ms())
        secret = new_device_secret()
        self._store.update(StoredDevice(record, self._key.seal(record.device_id, version, secret)))
        return record, secret

    def list(self) -> list[DeviceRecord]:
        """Every device, sorted by id."""
        return self._store.list()

    def close(self) -> None:
        """Release the store."""
        self._store.close()
