"""The local OSS + STS emulator: one server, admin API, fault injection, test handles.

Typical in-process use::

    from simulator.emulator import running_emulator

    with running_emulator() as emu:
        bucket = oss2.Bucket(oss2.Auth(emu.access_key_id, emu.access_key_secret),
                             emu.oss_endpoint, emu.bucket)

Names are imported lazily: ``simulator.base.errors`` is the error root of the IAM, STS and
OSS packages, and importing it must not start pulling in the server (uvicorn) as well.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_EXPORTS = {
    "AdminClient": "simulator.emulator.handle",
    "Emulator": "simulator.emulator.server",
    "EmulatorConfigError": "simulator.base.errors",
    "EmulatorError": "simulator.base.errors",
    "EmulatorHandle": "simulator.emulator.handle",
    "EmulatorSettings": "simulator.emulator.settings",
    "FaultConfig": "simulator.emulator.faults",
    "FaultRule": "simulator.emulator.faults",
    "Outage": "simulator.emulator.faults",
    "running_emulator": "simulator.emulator.handle",
    "spawned_emulator": "simulator.emulator.handle",
}

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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'simulator.emulator' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
