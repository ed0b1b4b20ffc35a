"""Device registry: provisioning, lookup, revocation and rotation of device secrets.

Secrets are stored encrypted under a master key (AES-256-GCM); the store is SQLite by default
or Redis when several responders share it.
"""

from __future__ import annotations

from cloud.errors import ConfigError
from cloud.registry.camera_config import CameraConfig
from cloud.registry.models import (
    ACCESS_MODES,
    DeviceRecord,
    DeviceStatus,
    KnownDevice,
    StoredDevice,
    parse_access,
)
from cloud.registry.registry import KeyCheck, Registry
from cloud.registry.secrets import MasterKey, new_master_key
from cloud.registry.store import DeviceStore, open_store
from cloud.settings import RegistrySettings

__all__ = [
    "ACCESS_MODES",
    "CameraConfig",
    "DeviceRecord",
    "DeviceStatus",
    "DeviceStore",
    "KeyCheck",
    "KnownDevice",
    "MasterKey",
    "Registry",
    "StoredDevice",
    "master_key_from",
    "new_master_key",
    "open_registry",
    "open_store",
    "parse_access",
]


def master_key_from(settings: RegistrySettings) -> MasterKey:
    """The master key from resolved settings.

    Args:
        settings: registry settings with ``master_key`` already filled in by the entry point
            (from ``OSSMEDIA_MASTER_KEY`` or ``master_key_file``).

    Raises:
        ConfigError: no master key, or a malformed one.
    """
    if settings.master_key is None or not settings.master_key.get_secret_value():
        raise ConfigError(
            "no master key: set OSSMEDIA_MASTER_KEY or registry.master_key_file "
            "(generate one with 'ossmedia devices new-master-key')"
        )
    return MasterKey.from_text(settings.master_key.get_secret_value())


def open_registry(settings: RegistrySettings) -> Registry:
    """Open the registry described by resolved settings.

    Raises:
        ConfigError: no master key, or a malformed one.
        RegistryError: the store cannot be opened.
    """
    key = master_key_from(settings)
    return Registry(
        open_store(settings.url, key_prefix=settings.key_prefix, migrate=settings.migrate_at_start),
        key,
    )
