"""The device registry: provisioning, lookup, revocation, reinstatement, rotation, deletion.

The registry remembers a check value of the master key it was first written with
(:meth:`MasterKey.check_value`). Every write and :meth:`Registry.verify_key` compare the
configured key with it, so a wrong key is refused before it can seal a single secret that
the responder would not open.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from dataclasses import replace
from enum import StrEnum

from cloud.errors import (
    DeviceIsRevoked,
    DeviceNotFound,
    DeviceStillActive,
    MasterKeyMismatch,
    SecretDecryptError,
)
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

KEY_CHECK = "key_check"


class KeyCheck(StrEnum):
    """What :meth:`Registry.verify_key` found."""

    MATCHED = "matched"  # the stored check value matches the key
    RECORDED = "recorded"  # no check value yet; the key opened the rows and is now recorded
    EMPTY = "empty"  # no check value and no device yet: the first write records it


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
        self._key_verified = False

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def verify_key(self, *, record: bool = True) -> KeyCheck:
        """Check the master key against the registry.

        Args:
            record: store the key's check value when the registry has none yet (a registry
                written before check values existed, whose rows the key opens).

        Returns:
            What was found.

        Raises:
            MasterKeyMismatch: the key is not the registry's.
            RegistryError: the store failed.
        """
        expected = self._key.check_value()
        stored = self._store.get_meta(KEY_CHECK)
        if stored is None:
            devices = self._store.list()
            if not devices:
                return KeyCheck.EMPTY
            first = self._store.get(devices[0].device_id)
            if first is not None:
                try:
                    self._key.open(
                        first.record.device_id, first.record.secret_version, first.sealed_secret
                    )
                except SecretDecryptError:
                    raise MasterKeyMismatch from None
            if not record:
                return KeyCheck.RECORDED
            stored = self._store.put_meta_if_absent(KEY_CHECK, expected)
            found = KeyCheck.RECORDED
        else:
            found = KeyCheck.MATCHED
        if not hmac.compare_digest(stored, expected):
            raise MasterKeyMismatch
        return found

    def _writable(self) -> None:
        # Before the first write with this key: refuse a key that is not the registry's, and
        # record the key of a registry that has none yet (another writer may race us to it;
        # whichever key is stored first wins and the other is refused).
        if self._key_verified:
            return
        if self.verify_key() is KeyCheck.EMPTY:
            stored = self._store.put_meta_if_absent(KEY_CHECK, self._key.check_value())
            if not hmac.compare_digest(stored, self._key.check_value()):
                raise MasterKeyMismatch
        self._key_verified = True

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
        self._writable()
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
        """Give an active device a new secret; the old one stops working at once.

        Requests signed with the old secret then fail with ``bad_signature``.

        Returns:
            The updated record and the new secret.

        Raises:
            DeviceNotFound: no such device.
            DeviceIsRevoked: the device is revoked (:meth:`reinstate` it instead).
            MasterKeyMismatch: the master key is not the registry's.
        """
        stored = self._store.get(device_id)
        if stored is None:
            raise DeviceNotFound(device_id)
        if stored.record.status is DeviceStatus.REVOKED:
            raise DeviceIsRevoked(device_id)
        return self._new_secret(stored, DeviceStatus.ACTIVE)

    def reinstate(self, device_id: str) -> tuple[DeviceRecord, str]:
        """Make a revoked device active again, with a new secret.

        The secret it had when it was revoked stays unusable: whoever held the device then
        cannot come back with it.

        Returns:
            The updated record and the new secret.

        Raises:
            DeviceNotFound: no such device.
            MasterKeyMismatch: the master key is not the registry's.
        """
        stored = self._store.get(device_id)
        if stored is None:
            raise DeviceNotFound(device_id)
        return self._new_secret(stored, DeviceStatus.ACTIVE)

    def _new_secret(self, stored: StoredDevice, status: DeviceStatus) -> tuple[DeviceRecord, str]:
        self._writable()
        version = stored.record.secret_version + 1
        record = replace(
            stored.record, status=status, secret_version=version, updated_at_ms=self._now_ms()
        )
        secret = new_device_secret()
        self._store.update(StoredDevice(record, self._key.seal(record.device_id, version, secret)))
        return record, secret

    def delete(self, device_id: str) -> DeviceRecord:
        """Remove a revoked device from the registry; its id may then be added afresh.

        Its recordings in the bucket are not touched (the registry does not know them).

        Returns:
            The record as it was.

        Raises:
            DeviceNotFound: no such device.
            DeviceStillActive: the device is not revoked.
        """
        stored = self._store.get(device_id)
        if stored is None:
            raise DeviceNotFound(device_id)
        if stored.record.status is not DeviceStatus.REVOKED:
            raise DeviceStillActive(device_id)
        self._store.delete(device_id)
        return stored.record

    def list(self) -> list[DeviceRecord]:
        """Every device, sorted by id."""
        return self._store.list()

    def close(self) -> None:
        """Release the store."""
        self._store.close()
