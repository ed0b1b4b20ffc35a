"""Check family ``registry``: the device registry opens and the master key opens its secrets.

Up to :data:`SAMPLE` devices' secrets are decrypted; an empty registry passes (there is
nothing to decrypt yet).
"""

from __future__ import annotations

from cloud.doctor.report import CheckResult, failed, passed
from cloud.doctor.settings import DoctorSettings
from cloud.errors import ConfigError, RegistryError, SecretDecryptError
from cloud.registry import open_registry

NAME = "registry"
SAMPLE = 5


def check_registry(s: DoctorSettings) -> CheckResult:
    """Open the registry with the master key and decrypt a few devices' secrets."""
    settings = s.responder.registry
    try:
        registry = open_registry(settings)
    except ConfigError as exc:
        return failed(
            NAME,
            f"no usable master key: {exc.message}",
            "set OSSMEDIA_MASTER_KEY or [registry] master_key_file to the key the registry "
            "was provisioned with",
        )
    except RegistryError as exc:
        return failed(
            NAME,
            f"the registry at {settings.url} does not open: {exc.message}",
            "check [registry] url and that this service's user may read and write it",
        )
    try:
        records = registry.list()
        for record in records[:SAMPLE]:
            registry.lookup(record.device_id)
    except SecretDecryptError as exc:
        return failed(
            NAME,
            f"the master key does not open the registry's secrets ({exc.message})",
            "use the master key the devices were provisioned with (OSSMEDIA_MASTER_KEY or "
            "[registry] master_key_file)",
        )
    except RegistryError as exc:
        return failed(NAME, f"reading the registry failed: {exc.message}", "check [registry] url")
    finally:
        registry.close()
    return passed(
        NAME, f"the registry opens with the master key ({len(records)} device(s) provisioned)"
    )
