"""How a program reaches the MQTT broker: one settings model and one vocabulary for all of them.

The camera (``[broker]`` of ``camera.toml``), the responder (``[broker]``) and the console
(``[mqtt]``) each extend :class:`BrokerConnection` with what only they need (topics, shared
subscriptions ...), so a key means the same everywhere::

    url = "mqtts://broker.example.com:8883"   # mqtt:// (plain) or mqtts:// (TLS)
    ca_file = "/etc/ossmedia/ca.pem"          # verifies the broker; setting it also turns TLS on
    cert_file = "/etc/ossmedia/client.crt"    # mutual TLS, with key_file
    key_file = "/etc/ossmedia/client.key"
    username = "cam-0001"
    password = "..."
    protocol = "3.1.1"                        # or "5"
    keepalive_s = 30

Keys of older releases are still read, with a :class:`DeprecatedSettingWarning` naming the
new key: ``client_cert_file`` / ``client_key_file`` (responder), ``reconnect_min_s``
(responder), ``host`` / ``port`` / ``tls_ca_file`` (console). They go in the next release.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

__all__ = ["BrokerConnection", "DeprecatedSettingWarning"]

PLAIN_SCHEMES = frozenset({"mqtt", "tcp"})
TLS_SCHEMES = frozenset({"mqtts", "ssl"})


class DeprecatedSettingWarning(FutureWarning):
    """A settings key of an older release was used; the message names its replacement.

    A :class:`FutureWarning`, so it is shown to whoever runs the program by default.
    """


class BrokerConnection(BaseModel):
    """Where the broker is and how to connect to it.

    Attributes:
        url: ``mqtt://host:port`` (plain) or ``mqtts://host:port`` (TLS); ``tcp://`` and
            ``ssl://`` are accepted as their synonyms. The port defaults to 1883 / 8883.
        ca_file: CA bundle that signs the broker's certificate; system CAs if unset. Setting
            it turns TLS on even with ``mqtt://``.
        cert_file: client certificate for mutual TLS (with ``key_file``).
        key_file: client private key for mutual TLS (with ``cert_file``).
        tls_insecure: skip the broker host name check (testing only).
        username: MQTT user name, if the broker wants one.
        password: MQTT password (never logged).
        protocol: MQTT protocol version.
        client_id: MQTT client id; empty means the program's own choice (a camera's device
            id, a random id for the responder).
        keepalive_s: MQTT keepalive.
        connect_timeout_s: TCP + TLS + CONNACK timeout of one attempt.
        reconnect_initial_s: first reconnect backoff window.
        reconnect_max_s: largest reconnect backoff window.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Old key -> new key; a subclass adds its own program's old keys.
    RENAMED: ClassVar[dict[str, str]] = {}

    url: str = "mqtt://127.0.0.1:1883"
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    tls_insecure: bool = False
    username: str | None = None
    password: SecretStr | None = None
    protocol: Literal["3.1.1", "5"] = "3.1.1"
    client_id: str = ""
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    connect_timeout_s: float = Field(default=5.0, gt=0)
    reconnect_initial_s: float = Field(default=0.5, gt=0)
    reconnect_max_s: float = Field(default=30.0, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _renamed_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for old, new in cls.RENAMED.items():
            if old not in data:
                continue
            warnings.warn(
                f"broker setting {old!r} is deprecated; use {new!r}",
                DeprecatedSettingWarning,
                stacklevel=2,
            )
            value = data.pop(old)
            if new in data:
                raise ValueError(f"{old!r} and {new!r} are the same setting; keep {new!r}")
            data[new] = value
        return data

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in PLAIN_SCHEMES | TLS_SCHEMES or not parts.hostname:
            raise ValueError("broker url must look like mqtt://host:port or mqtts://host:port")
        if parts.path not in {"", "/"} or parts.query or parts.username:
            raise ValueError("broker url takes no path, query or credentials")
        try:
            port = parts.port
        except ValueError:
            port = 0
        if port == 0:  # out of range, not a number, or 0
            raise ValueError("broker url port must be a number from 1 to 65535")
        return value

    @field_validator("protocol", mode="before")
    @classmethod
    def _protocol_as_number(cls, value: Any) -> Any:
        # ``protocol = 5`` in TOML is an integer; it means the same as "5".
        if isinstance(value, int) and not isinstance(value, bool) and value == 5:
            return "5"
        return value

    @model_validator(mode="after")
    def _check_mtls(self) -> BrokerConnection:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together (mutual TLS)")
        return self

    @property
    def host(self) -> str:
        """The broker host name or address."""
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def tls(self) -> bool:
        """Whether the connection uses TLS."""
        return urlsplit(self.url).scheme in TLS_SCHEMES or self.ca_file is not None

    @property
    def port(self) -> int:
        """The broker port (1883, or 8883 with TLS, when the url has none)."""
        port = urlsplit(self.url).port
        if port is not None:
            return port
        return 8883 if self.tls else 1883
