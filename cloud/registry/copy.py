"""Copying a registry to another store (Redis to PostgreSQL, SQLite to PostgreSQL ...).

Rows move sealed, exactly as stored: a secret is sealed with its device id and version as
associated data, not with anything of the store, so the copy opens with the same master key
and the key is never needed to copy.
"""

from __future__ import annotations

from cloud.errors import DeviceExists
from cloud.registry.registry import KEY_CHECK
from cloud.registry.store import open_store
from cloud.settings import RegistrySettings

__all__ = ["copy_store"]


def copy_store(source_url: str, target_url: str, settings: RegistrySettings) -> tuple[int, int]:
    """Copy every device row and the master key's check value from one registry to another.

    Args:
        source_url: the registry to read.
        target_url: the registry to fill (a PostgreSQL one migrated first).
        settings: for the Redis key prefix.

    Returns:
        ``(copied, skipped)``: rows written, and rows left alone because the id was there.

    Raises:
        RegistryError: either store failed.
    """
    source = open_store(source_url, key_prefix=settings.key_prefix)
    try:
        target = open_store(target_url, key_prefix=settings.key_prefix)
        try:
            check = source.get_meta(KEY_CHECK)
            if check is not None:
                target.put_meta_if_absent(KEY_CHECK, check)
            copied = skipped = 0
            for record in source.list():
                device = source.get(record.device_id)
                if device is None:  # deleted while we copied
                    continue
                try:
                    target.insert(device)
                    copied += 1
                except DeviceExists:
                    skipped += 1
            return copied, skipped
        finally:
            target.close()
    finally:
        source.close()
