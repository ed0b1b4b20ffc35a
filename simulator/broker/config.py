"""Frozen settings for a local Mosquitto broker.

Only what the simulator, demo and tests need is modelled: one listener (plain MQTT or TLS),
anonymous or password authentication, an optional ACL, optional persistence and the queue
limits that matter for fleets. ``set_tcp_nodelay true`` is not a setting: it is always on,
because without it every request/reply round trip on loopback waits for Nagle's algorithm and
delayed ACKs (~44 ms instead of ~0.2 ms). Rendering to files lives in
:mod:`simulator.broker.render`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from simulator.broker.acl import AclFile, check_username

AuthMode = Literal["anonymous", "password"]
TlsVersion = Literal["tlsv1.2", "tlsv1.3"]

DEFAULT_LOG_TYPES: tuple[str, ...] = ("error", "warning", "notice", "information")
_LOG_TYPES = frozenset(
    {
        "debug",
        "error",
        "warning",
        "notice",
        "information",
        "subscribe",
        "unsubscribe",
        "websockets",
        "none",
        "all",
    }
)


class PasswordEntry(BaseModel):
    """One account of the password file.

    Args:
        username: the MQTT username (a camera's is its ``device_id``).
        password: the password; kept as ``SecretStr`` so it never shows in a repr or log.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    username: str
    password: SecretStr

    @field_validator("username")
    @classmethod
    def _username(cls, value: str) -> str:
        return check_username(value)

    @field_validator("password")
    @classmethod
    def _password(cls, value: SecretStr) -> SecretStr:
        secret = value.get_secret_value()
        if not secret or "\n" in secret or "\r" in secret or "\x00" in secret:
            raise ValueError("password must be non-empty and must not contain line breaks")
        return value


class TlsSettings(BaseModel):
    """TLS for the listener.

    Args:
        certfile: the server certificate chain (PEM).
        keyfile: the server private key (PEM).
        cafile: CA bundle used to verify client certificates; required with
            ``require_certificate``.
        require_certificate: mutual TLS; clients without a certificate from ``cafile`` are
            refused during the handshake.
        use_identity_as_username: with mutual TLS, take the username from the client
            certificate's CN (the password file is then not consulted on this listener).
        tls_version: the minimum TLS version accepted.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    certfile: Path
    keyfile: Path
    cafile: Path | None = None
    require_certificate: bool = False
    use_identity_as_username: bool = False
    tls_version: TlsVersion = "tlsv1.2"

    @model_validator(mode="after")
    def _consistent(self) -> TlsSettings:
        if self.require_certificate and self.cafile is None:
            raise ValueError("require_certificate needs a cafile to verify clients against")
        if self.use_identity_as_username and not self.require_certificate:
            raise ValueError("use_identity_as_username needs require_certificate")
        return self


class MosquittoSettings(BaseModel):
    """Everything needed to render and run one Mosquitto broker.

    Args:
        port: TCP port of the listener; ``0`` picks a free port when the broker first starts
            (a restart keeps it).
        bind: address the listener binds to; loopback by default.
        auth: ``anonymous`` lets clients in without credentials; ``password`` requires an
            account from ``passwords``.
        passwords: accounts of the password file (also checked in anonymous mode for clients
            that do present a username).
        acl: access rules; ``None`` means every client may use every topic.
        tls: TLS for the listener; ``None`` for plain MQTT.
        use_username_as_clientid: replace each client's id with its username so one account
            cannot take over another's session (one connection per account).
        max_inflight_messages: outgoing QoS 1/2 messages in flight per client. A responder
            receiving a whole fleet's requests on one connection needs more than the default 20.
        max_queued_messages: QoS 1/2 messages queued per client beyond those in flight; above
            it Mosquitto drops silently, so it must hold a fleet-wide burst of requests
            (e.g. every camera reconnecting after a broker restart).
        max_queued_bytes: byte cap on the same queue; ``0`` means no byte limit.
        max_packet_size: largest accepted MQTT packet; ``None`` means Mosquitto's default.
        persistence: keep sessions, queued QoS 1 messages and retained messages across a
            clean restart (written to the work directory).
        autosave_interval: seconds between persistence saves.
        log_types: Mosquitto ``log_type`` values written to the broker's log file.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    port: int = Field(default=0, ge=0, le=65535)
    bind: str = "127.0.0.1"
    auth: AuthMode = "anonymous"
    passwords: tuple[PasswordEntry, ...] = ()
    acl: AclFile | None = None
    tls: TlsSettings | None = None
    use_username_as_clientid: bool = False
    max_inflight_messages: int = Field(default=100, ge=0)
    max_queued_messages: int = Field(default=10_000, ge=0)
    max_queued_bytes: int = Field(default=0, ge=0)
    max_packet_size: int | None = Field(default=None, ge=20)
    persistence: bool = False
    autosave_interval: int = Field(default=60, ge=0)
    log_types: tuple[str, ...] = DEFAULT_LOG_TYPES

    @field_validator("bind")
    @classmethod
    def _bind(cls, value: str) -> str:
        if not value or any(ch.isspace() for ch in value):
            raise ValueError("bind must be a non-empty address without whitespace")
        return value

    @field_validator("log_types")
    @classmethod
    def _log_types(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - _LOG_TYPES)
        if unknown:
            raise ValueError(f"unknown log_type values: {unknown}")
        return value

    @model_validator(mode="after")
    def _unique_users(self) -> MosquittoSettings:
        names = [entry.username for entry in self.passwords]
        if len(names) != len(set(names)):
            raise ValueError("password entries must have distinct usernames")
        return self

    @property
    def scheme(self) -> str:
        """``mqtts`` with TLS, else ``mqtt``."""
        return "mqtts" if self.tls is not None else "mqtt"

    @property
    def connect_host(self) -> str:
        """The address a local client should connect to (a wildcard bind means loopback)."""
        if self.bind in {"0.0.0.0", "::", "*"}:  # noqa: S104 - mapping a wildcard to loopback
            return "127.0.0.1"
        return self.bind
