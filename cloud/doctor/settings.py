"""What the doctor checks against: the responder's settings, and optionally the console's OSS
access and a camera's broker account. Frozen; built once by :mod:`cloud.doctor.config`.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from cloud.settings import ResponderSettings


@dataclass(frozen=True)
class MqttAccount:
    """One broker account as the doctor connects with it.

    Attributes:
        url: ``mqtt://host:port`` or ``mqtts://host:port``.
        ca_file: the CA bundle that must sign the broker's certificate (system CAs if None).
        cert_file / key_file: client certificate for mutual TLS.
        username / password: the account (the password never shows in a repr).
        protocol: ``"3.1.1"`` or ``"5"``.
    """

    url: str
    ca_file: Path | None
    cert_file: Path | None
    key_file: Path | None
    username: str | None
    password: str | None = field(repr=False)
    protocol: str

    @property
    def tls(self) -> bool:
        """Whether the URL asks for TLS."""
        return urlsplit(self.url).scheme in {"mqtts", "ssl"}

    @property
    def host(self) -> str:
        """The broker host."""
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        """The broker port (8883 / 1883 when the URL has none)."""
        return urlsplit(self.url).port or (8883 if self.tls else 1883)


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
        responder_broker: the responder's broker account.
        console: the console's OSS access, if its configuration was given.
        camera: a camera's broker account (username = its device id), if given.
        timeout_s: per network operation.
        probe_id: a random token naming the throw-away device, keys and client ids.
        clock: local wall clock in seconds (compared with STS's and OSS's ``Date``).
    """

    responder: ResponderSettings
    responder_broker: MqttAccount
    console: ConsoleOss | None = None
    camera: MqttAccount | None = None
    timeout_s: float = 10.0
    probe_id: str = field(default_factory=lambda: secrets.token_hex(4))
    clock: Callable[[], float] = time.time

    @property
    def probe_device(self) -> str:
        """The throw-away device id whose prefix the grant probes write under."""
        return f"doctor-{self.probe_id}"

    @property
    def other_device(self) -> str:
        """A device id that is not the probe's (writes there must be refused)."""
        return f"doctor-{self.probe_id}-other"
