"""What the doctor checks against: the responder's settings, and optionally the console's OSS
access and a test camera's broker account. Frozen; built once by :mod:`cloud.doctor.config`.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from cloud.settings import ResponderSettings
from schemas.broker import BrokerConnection


@dataclass(frozen=True)
class ConsoleOss:
    """The console's own OSS access key (it cleans up after the probes and reads bucket state)."""

    endpoint: str
    bucket: str
    access_key_id: str
    access_key_secret: str = field(repr=False)


@dataclass(frozen=True)
class DoctorSettings:
    """Everything one doctor run needs.

    Attributes:
        responder: the responder's settings (STS key, role, grant, broker, registry).
        console: the console's OSS access, if its configuration was given.
        camera: a test camera's broker connection and account (username = its device id).
        timeout_s: per network operation.
        probe_id: a random token naming the throw-away device, keys and client ids.
        clock: local wall clock in seconds (compared with STS's and OSS's ``Date``).
    """

    responder: ResponderSettings
    console: ConsoleOss | None = None
    camera: BrokerConnection | None = None
    timeout_s: float = 10.0
    probe_id: str = field(default_factory=lambda: secrets.token_hex(4))
    clock: Callable[[], float] = time.time

    @property
    def responder_broker(self) -> BrokerConnection:
        """The responder's broker connection and account."""
        return self.responder.broker

    @property
    def probe_device(self) -> str:
        """The throw-away device id whose prefix the grant probes write under."""
        return f"doctor-{self.probe_id}"

    @property
    def other_device(self) -> str:
        """A device id that is not the probe's (writes there must be refused)."""
        return f"doctor-{self.probe_id}-other"
