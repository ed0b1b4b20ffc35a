"""Fixtures for responder tests: a real responder in this process, wired to a real Mosquitto and
the real OSS + STS emulator (one of each per test module)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cloud.registry import new_master_key, open_registry
from cloud.responder.app import build_responder
from simulator.broker import MosquittoProcess
from simulator.emulator.handle import EmulatorHandle, running_emulator
from tests.cloud.protocol_client import ProtocolClient
from tests.cloud.responder.harness import BROAD_POLICY, Live, LiveFactory, responder_settings


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
    """Start responders: ``live_factory(limits={...}, sts={...}, role_arn=...)``;
    ``check_sts=False`` leaves out the start-up STS call."""
    started: list[Live] = []
    master_key = new_master_key()

    def start(*, check_sts: bool = True, **overrides: Any) -> Live:
        directory = tmp_path / f"responder-{len(started)}"
        directory.mkdir()
        settings = responder_settings(
            broker, emulator, directory, master_key=master_key, **overrides
        )
        responder = build_responder(settings)
        responder.start(check_sts=check_sts)
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
