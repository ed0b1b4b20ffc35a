"""Fixtures for cloud tests: a real responder in this process, wired to a real Mosquitto and
the real OSS + STS emulator."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from cloud.registry import Registry, new_master_key, open_registry
from cloud.responder.app import Responder, build_responder
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
from simulator.emulator.handle import EmulatorHandle, running_emulator
from tests.cloud.protocol_client import ProtocolClient

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
        "limits": Limits(device_requests_per_minute=600, device_burst=50).model_dump(),
        "state": StateSettings().model_dump(),
        "registry": RegistrySettings(
            url=f"sqlite://{tmp_path / 'registry.db'}", master_key=SecretStr(master_key)
        ).model_dump(),
        "service": ServiceSettings(metrics_port=0, workers=8, shutdown_timeout_s=5).model_dump(),
    }
    for name, values in sections.items():
        base[name] = {**base[name], **values}
    # model_dump hides secrets; put them back.
    base["sts"]["access_key_secret"] = sts_emulator.access_key_secret
    base["registry"]["master_key"] = master_key
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


@pytest.fixture(scope="module")
def cloud_emulator() -> Iterator[EmulatorHandle]:
    """One in-memory emulator for a test module (tests clear the faults they set)."""
    with running_emulator() as handle:
        yield handle


@pytest.fixture
def emulator(cloud_emulator: EmulatorHandle) -> Iterator[EmulatorHandle]:
    """The module's emulator, with faults cleared after each test."""
    yield cloud_emulator
    cloud_emulator.clear_faults()


@pytest.fixture
def broker(mosquitto_module: MosquittoProcess) -> MosquittoProcess:
    """The module's anonymous Mosquitto."""
    return mosquitto_module


@pytest.fixture(scope="module")
def broad_role(cloud_emulator: EmulatorHandle) -> str:
    """A role allowed everything in OSS: any denial then comes from the session policy."""
    return cloud_emulator.create_role("camera-broad", [BROAD_POLICY])


@pytest.fixture
def live_factory(
    broker: MosquittoProcess, emulator: EmulatorHandle, tmp_path: Path
) -> Iterator[LiveFactory]:
    """Start responders: ``live_factory(limits={...}, sts={...}, role_arn=...)``."""
    started: list[Live] = []
    master_key = new_master_key()

    def start(**overrides: Any) -> Live:
        directory = tmp_path / f"responder-{len(started)}"
        directory.mkdir()
        settings = responder_settings(
            broker, emulator, directory, master_key=master_key, **overrides
        )
        responder = build_responder(settings)
        responder.start()
        assert responder.service.wait_connected(10)
        live = Live(responder, open_registry(settings.registry), settings)
        started.append(live)
        return live

    yield start
    for live in started:
        live.responder.stop()
        live.registry.close()


@pytest.fixture
def live(live_factory: LiveFactory, broad_role: str) -> Live:
    """One responder minting from a deliberately broad role."""
    return live_factory(role_arn=broad_role)


@pytest.fixture
def client(broker: MosquittoProcess) -> Iterator[ProtocolClient]:
    """A protocol-conformance client connected to the test broker."""
    probe = ProtocolClient(broker.host, broker.port)
    yield probe
    probe.close()
