"""The local OSS + STS emulator: one server, admin API, fault injection, test handles.

Typical in-process use::

    from simulator.emulator import running_emulator

    with running_emulator() as emu:
        bucket = oss2.Bucket(oss2.Auth(emu.access_key_id, emu.access_key_secret),
                             emu.oss_endpoint, emu.bucket)

This package assembles the services (``simulator.iam``, ``simulator.sts``, ``simulator.oss``);
they never import it. Their shared bases (the error root, ASGI types) live in the leaf
``simulator.base``.
"""

from simulator.base.errors import EmulatorConfigError, EmulatorError
from simulator.emulator.faults import FaultConfig, FaultRule, Outage
from simulator.emulator.handle import (
    AdminClient,
    EmulatorHandle,
    running_emulator,
    spawned_emulator,
)
from simulator.emulator.server import Emulator
from simulator.emulator.settings import EmulatorSettings

__all__ = [
    "AdminClient",
    "Emulator",
    "EmulatorConfigError",
    "EmulatorError",
    "EmulatorHandle",
    "EmulatorSettings",
    "FaultConfig",
    "FaultRule",
    "Outage",
    "running_emulator",
    "spawned_emulator",
]
