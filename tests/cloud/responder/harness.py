"""Settings and handles for responder tests: a real responder in this process, wired to a real
Mosquitto and the real OSS + STS emulator."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from cloud.registry import Registry
from cloud.responder.app import Responder
from cloud.settings import (
    BrokerSettings,
    GrantSettings,
    Limits,
    RegistrySettings,
    ResponderSettings,
    ServiceSettings,
    StateSettings,
    StsSettings,
)
from simulator.broker import MosquittoProcess
from simulator.emulator.handle import EmulatorHandle

BROAD_POLICY = {
    "Version": "1",
    "Statement": [{"Effect": "Allow", "Action": ["oss:*"], "Resource": ["acs:oss:*:*:*"]}],
}


def responder_settings(
    mqtt_broker: MosquittoProcess,
    sts_emulator: EmulatorHandle,
    tmp_path: Path,
    /,
    *,
    master_key: str,
    role_arn: str | None = None,
    **sections: Any,
) -> ResponderSettings:
    """Settings pointing at the test broker and emulator; ``sections`` override whole groups
    given as dicts of field overrides (``limits={"device_burst": 1}``)."""
    base: dict[str, Any] = {
        "broker": BrokerSettings(url=mqtt_broker.url, client_id="").model_dump(),
        "sts": StsSettings(
            endpoint=sts_emulator.sts_endpoint,
            region=sts_emulator.region,
            access_key_id=sts_emulator.access_key_id,
            access_key_secret=SecretStr(sts_emulator.access_key_secret),
            role_arn=role_arn or sts_emulator.role_arn,
            attempts=2,
            retry_max_wait_s=0.05,
        ).model_dump(),
        "grant": GrantSettings(
            bucket=sts_emulator.bucket,
            oss_endpoint=sts_emulator.oss_endpoint,
            region=sts_emulator.region,
        ).model_dump(),
        # device_cache_s=0: a revocation or rotation in a test applies to the next request.
        "limits": Limits(
            device_requests_per_minute=600, device_burst=50, device_cache_s=0
        ).model_dump(),
        "state": StateSettings().model_dump(),
        "registry": RegistrySettings(
            url=f"sqlite://{tmp_path / 'registry.db'}", master_key=SecretStr(master_key)
        ).model_dump(),
        "service": ServiceSettings(metrics_port=0, workers=8, shutdown_timeout_s=5).model_dump(),
    }
    # model_dump hides secrets; put them back (before the overrides, which may replace them).
    base["sts"]["access_key_secret"] = sts_emulator.access_key_secret
    base["registry"]["master_key"] = master_key
    for name, values in sections.items():
        base[name] = {**base.get(name, {}), **values}
    return ResponderSettings.model_validate(base)


@dataclass
class Live:
    """A running responder plus a registry handle for provisioning."""

    responder: Responder
    registry: Registry
    settings: ResponderSettings

    def provision(self, device_id: str, access: frozenset[str] | None = None) -> str:
        if access is None:
            return self.registry.add(device_id)[1]
        return self.registry.add(device_id, access=access)[1]


LiveFactory = Callable[..., Live]
