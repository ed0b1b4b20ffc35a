"""The storage seam of the registry: a Protocol and the factory that picks a backend."""

from __future__ import annotations

from typing import Protocol
from urllib.parse import urlsplit

from cloud.registry.models import DeviceRecord, StoredDevice


class DeviceStore(Protocol):
    """Where device rows live. Implementations: SQLite (default) and Redis."""

    def insert(self, device: StoredDevice) -> None:
        """Add a new device.

        Raises:
            DeviceExists: the id is taken.
        """

    def get(self, device_id: str) -> StoredDevice | None:
        """The device's row, or ``None``."""

    def update(self, device: StoredDevice) -> None:
        """Replace an existing device's row.

        Raises:
            DeviceNotFound: no such device.
        """

    def delete(self, device_id: str) -> None:
        """Remove a device's row.

        Raises:
            DeviceNotFound: no such device.
        """

    def list(self) -> list[DeviceRecord]:
        """Every device, sorted by id."""

    def get_meta(self, name: str) -> bytes | None:
        """A registry-wide value (such as the master key's check value), or ``None``."""

    def put_meta_if_absent(self, name: str, value: bytes) -> bytes:
        """Store a registry-wide value unless one is there; return the value now stored."""

    def close(self) -> None:
        """Release connections."""


def open_store(url: str, *, key_prefix: str = "ossmedia") -> DeviceStore:
    """Open the store named by a registry URL.

    Args:
        url: ``sqlite:///abs/path/registry.db``, ``sqlite://relative.db``, ``sqlite://:memory:``
            or ``redis://host:port/db``.
        key_prefix: prefix of every Redis key.

    Returns:
        The store.

    Raises:
        ConfigError: an unsupported URL.
        RegistryError: the store cannot be opened.

    Every store raises :class:`~cloud.errors.RegistryUnavailable` when it cannot be reached
    or another writer holds it past its lock timeout.
    """
    if urlsplit(url).scheme == "sqlite":
        from cloud.registry.sqlite_store import SqliteDeviceStore

        # Everything after "sqlite://" is the path: sqlite:///var/lib/r.db is absolute,
        # sqlite://r.db is relative to the working directory, sqlite://:memory: is private.
        return SqliteDeviceStore(url[len("sqlite://") :])
    from cloud.registry.redis_store import RedisDeviceStore

    return RedisDeviceStore.from_url(url, key_prefix=key_prefix)
