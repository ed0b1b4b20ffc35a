"""The storage seam of the registry: a Protocol and the factory that picks a backend."""

from __future__ import annotations

from typing import Protocol
from urllib.parse import urlsplit

from cloud.registry.models import DeviceRecord, StoredDevice

SQL_SCHEMES = frozenset({"sqlite", "postgresql", "postgres", "postgresql+psycopg"})


class DeviceStore(Protocol):
    """Where device rows live. Implementations: SQL (SQLite by default, or PostgreSQL) and
    Redis."""

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


def open_store(
    url: str, *, key_prefix: str = "ossmedia", migrate: bool | None = None
) -> DeviceStore:
    """Open the store named by a registry URL.

    Args:
        url: ``sqlite:///abs/path/registry.db``, ``sqlite://relative.db``, ``sqlite://:memory:``,
            ``postgresql://user@host:port/db`` or ``redis://host:port/db``.
        key_prefix: prefix of every Redis key.
        migrate: bring a SQL schema up to date at open (default: on SQLite only); see
            :meth:`~cloud.registry.sql_store.SqlDeviceStore.open`.

    Returns:
        The store.

    Raises:
        ConfigError: an unsupported URL.
        RegistryError: the store cannot be opened.

    Every store raises :class:`~cloud.errors.RegistryUnavailable` when it cannot be reached
    or another writer holds it past its lock timeout.
    """
    if urlsplit(url).scheme in SQL_SCHEMES:
        from cloud.registry.sql_store import SqlDeviceStore

        return SqlDeviceStore.open(url, migrate=migrate)
    from cloud.registry.redis_store import RedisDeviceStore

    return RedisDeviceStore.from_url(url, key_prefix=key_prefix)
