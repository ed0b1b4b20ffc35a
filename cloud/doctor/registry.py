"""Check family ``registry``: the device registry opens and the master key is its key.

The registry's own key check (:meth:`Registry.verify_key`, read-only here) decides: the
stored check value, or for a registry written before check values, one device's secret.
An empty registry passes (there is nothing to open yet).
"""

from __future__ import annotations

from cloud.doctor.report import CheckResult, failed, passed
from cloud.doctor.settings import DoctorSettings
from cloud.errors import ConfigError, MasterKeyMismatch, RegistryError
from cloud.registry import open_registry
from cloud.settings import RegistrySettings

NAME = "registry"


def check_registry(s: DoctorSettings) -> CheckResult:
    """Open the registry with the master key and check the key is the registry's."""
    return registry_result(s.responder.registry)


def registry_result(settings: RegistrySettings) -> CheckResult:
    """Open the registry ``settings`` name with its master key; the key is the registry's."""
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
        registry.verify_key(record=False)
        records = registry.list()
    except MasterKeyMismatch as exc:
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
