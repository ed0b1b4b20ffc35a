"""Responder and registry settings: frozen pydantic models grouped by concern.

The models hold values only; reading files and the environment happens in :mod:`cloud.config`,
which entry points call once. Secrets (the STS AccessKey secret, the broker password, the
registry master key) are :class:`~pydantic.SecretStr`, so they never show in a repr or a log.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from schemas.broker import BrokerConnection
from schemas.durations import (
    DEFAULT_SESSION_DURATION_S,
    MAX_SESSION_DURATION_S,
    MIN_SESSION_DURATION_S,
)
from schemas.errors import InvalidIdentifier
from schemas.topics import Topics

if TYPE_CHECKING:
    from cloud.registry.dynsec_control import BrokerAdminSettings

_FROZEN = ConfigDict(frozen=True, extra="forbid")
_PREFIX_CHARS = re.compile(r"^[A-Za-z0-9_./{}-]+$")


class BrokerSettings(BrokerConnection):
    """How the responder reaches the MQTT broker (:class:`~schemas.broker.BrokerConnection`)
    and which topics it uses.

    ``password_file`` names a file holding the password (read by :mod:`cloud.config`).
    ``shared_group`` set to an empty string turns shared subscriptions off, for brokers without
    ``$share``. An empty ``client_id`` gets a random one.
    """

    RENAMED: ClassVar[dict[str, str]] = {
        "client_cert_file": "cert_file",
        "client_key_file": "key_file",
        "reconnect_min_s": "reconnect_initial_s",
    }

    password_file: Path | None = None
    protocol: Literal["3.1.1", "5"] = "5"
    topic_prefix: str = "ossmedia"
    shared_group: str = "ossmedia-responders"
    persistent_session: bool = False
    session_expiry_s: int = Field(default=300, ge=0)
    receive_maximum: int = Field(default=1000, ge=1, le=65535)
    reply_expiry_s: int = Field(default=60, ge=1)
    # A responder's reconnect gap is a gap in the fleet's service: while it is not
    # subscribed, requests have no subscriber and are dropped (cameras ask again after their
    # request timeout). Its cap is therefore much shorter than a camera's.
    reconnect_max_s: float = Field(default=3.0, gt=0)

    @field_validator("topic_prefix")
    @classmethod
    def _check_prefix(cls, value: str) -> str:
        try:
            Topics(value)
        except InvalidIdentifier as exc:
            raise ValueError(exc.reason) from None
        return value

    @field_validator("shared_group")
    @classmethod
    def _check_group(cls, value: str) -> str:
        if value:
            try:
                Topics().creds_req_subscription(value)
            except InvalidIdentifier as exc:
                raise ValueError(exc.reason) from None
        return value

    @model_validator(mode="after")
    def _check_pairs(self) -> BrokerSettings:
        if self.persistent_session and not self.client_id:
            raise ValueError("persistent_session needs a fixed client_id")
        return self


class StsSettings(BaseModel):
    """Where and as whom the responder calls AssumeRole.

    ``access_key_secret`` comes from ``OSSMEDIA_STS_ACCESS_KEY_SECRET`` or from the file named
    by ``access_key_secret_file``; it is never written into the TOML file itself.
    ``timeout_s`` bounds one attempt and ``deadline_s`` all attempts of one request together;
    keep ``deadline_s`` below the cameras' ``request_timeout_s`` (10 s by default) so they
    hear ``sts_unavailable`` instead of timing out.
    """

    model_config = _FROZEN

    endpoint: str = "https://sts.aliyuncs.com"
    region: str = "cn-hangzhou"
    access_key_id: str = ""
    access_key_secret: SecretStr = SecretStr("")
    access_key_secret_file: Path | None = None
    role_arn: str = ""
    max_duration_s: int = Field(
        default=DEFAULT_SESSION_DURATION_S, ge=MIN_SESSION_DURATION_S, le=MAX_SESSION_DURATION_S
    )
    timeout_s: float = Field(default=5.0, gt=0)
    attempts: int = Field(default=4, ge=1, le=10)
    retry_max_wait_s: float = Field(default=2.0, gt=0)
    deadline_s: float = Field(default=8.0, gt=0, le=60)

    @field_validator("endpoint")
    @classmethod
    def _check_endpoint(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError("STS endpoint must be an http:// or https:// URL")
        return value.rstrip("/")


class GrantSettings(BaseModel):
    """What a camera is told to use: bucket, OSS endpoint and region, and its key prefix."""

    model_config = _FROZEN

    bucket: str = "ossmedia-videos"
    oss_endpoint: str = "https://oss-cn-hangzhou.aliyuncs.com"
    region: str = "cn-hangzhou"
    prefix_template: str = "videos/{device_id}/"

    @field_validator("prefix_template")
    @classmethod
    def _check_template(cls, value: str) -> str:
        # The prefix lands in a policy Resource: a wildcard or a second placeholder there
        # would widen every camera's grant.
        if value.count("{device_id}") != 1 or value.replace("{device_id}", "").count("{"):
            raise ValueError("prefix_template must contain {device_id} exactly once")
        if not value.endswith("/") or value.startswith("/") or "//" in value:
            raise ValueError("prefix_template must end with '/' and not start with '/'")
        if not _PREFIX_CHARS.match(value) or ".." in value:
            raise ValueError("prefix_template may hold letters, digits, '_', '-', '.', '/'")
        return value

    def prefix_for(self, device_id: str) -> str:
        """The key prefix granted to ``device_id`` (a validated device id)."""
        return self.prefix_template.replace("{device_id}", device_id)


class Limits(BaseModel):
    """Request admission rules.

    ``cache_reuse_threshold`` is the share of a credential's lifetime that must remain for the
    cache to hand it out again (0.5: reuse while at least half is left). A request waiting for
    its STS slot holds a worker, so keep ``sts_max_queue_ms * sts_calls_per_second / 1000``
    well below the number of workers; everyone else is answered ``sts_throttled`` at once.
    ``device_cache_s`` is how long a registry lookup is reused: revocation and rotation take
    effect within that time.
    """

    model_config = _FROZEN

    skew_window_s: int = Field(default=300, ge=1, le=3600)
    device_requests_per_minute: float = Field(default=10.0, gt=0)
    device_burst: int = Field(default=5, ge=1)
    sts_calls_per_second: float = Field(default=90.0, gt=0)
    sts_max_queue_ms: int = Field(default=50, ge=0)
    cache_reuse_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    inflight_lease_s: float = Field(default=30.0, gt=0)
    device_cache_s: float = Field(default=2.0, ge=0)


class StateSettings(BaseModel):
    """Where nonces, replies, rate limits and cached credentials live: ``memory`` or ``redis://``."""

    model_config = _FROZEN

    url: str = "memory"
    key_prefix: str = "ossmedia"

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if value != "memory" and urlsplit(value).scheme not in {"redis", "rediss", "unix"}:
            raise ValueError("state url is 'memory' or a redis://, rediss:// or unix:// URL")
        return value


class RegistrySettings(BaseModel):
    """The device registry: a SQLite file (default), PostgreSQL or Redis, and the master key.

    The master key (32 bytes, unpadded base64url) comes from ``OSSMEDIA_MASTER_KEY`` or from
    ``master_key_file``; the registry alone never reveals a device secret.

    ``migrate_at_start`` brings a SQL registry's schema up to date when the service opens it:
    by default yes on SQLite and no on PostgreSQL, where ``ossmedia devices migrate`` runs it
    with the role that owns the schema.
    """

    model_config = _FROZEN

    url: str = "sqlite:///var/lib/ossmedia/registry.db"
    master_key: SecretStr | None = None
    master_key_file: Path | None = None
    key_prefix: str = "ossmedia"
    migrate_at_start: bool | None = None

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if urlsplit(value).scheme not in {
            "sqlite",
            "postgresql",
            "postgres",
            "postgresql+psycopg",
            "redis",
            "rediss",
            "unix",
        }:
            raise ValueError(
                "registry url is sqlite:///path/to/file.db, postgresql://... or redis://..."
            )
        return value


class ServiceSettings(BaseModel):
    """Process-level knobs: worker threads, metrics/health port, logging, shutdown, and how
    often the state backend and the registry are probed for ``/healthz``."""

    model_config = _FROZEN

    workers: int = Field(default=32, ge=1, le=1024)
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=9464, ge=-1, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    shutdown_timeout_s: float = Field(default=10.0, gt=0)
    health_interval_s: float = Field(default=5.0, gt=0)


class ProvisioningSettings(BaseModel):
    """What goes into the ``camera.toml`` handed over when a camera is provisioned.

    One model for the console's and the responder's ``[provisioning]`` table (the latter is
    read by ``ossmedia devices --config responder.toml``).

    Attributes:
        broker_url: the broker URL as cameras reach it (the services often reach the broker
            on another listener or an internal address).
        ca_file: the CA bundle path on the camera, for ``mqtts://`` with a private CA.
        provisioner_url: with per-device broker accounts (Mosquitto's dynamic-security
            plugin, ``deploy/mosquitto``), the listener where accounts are created, re-keys
            and disables them, as ``ossmedia devices --provisioner-url`` does; the camera's
            account password then goes into its ``camera.toml``.
        provisioner_user: the plugin's admin account.
        provisioner_password: its password (or ``provisioner_password_file``).
        provisioner_ca_file: CA bundle to verify that listener with ``mqtts://``.
    """

    model_config = _FROZEN

    broker_url: str | None = None
    ca_file: Path | None = None
    provisioner_url: str | None = None
    provisioner_user: str = "svc.provisioner"
    provisioner_password: SecretStr | None = None
    provisioner_password_file: Path | None = None
    provisioner_ca_file: Path | None = None

    @model_validator(mode="after")
    def _provisioner(self) -> ProvisioningSettings:
        if self.provisioner_url is not None:
            self.broker_admin()
        return self

    def broker_admin(self) -> BrokerAdminSettings | None:
        """The dynamic-security admin connection, or None without per-device accounts."""
        if self.provisioner_url is None:
            return None
        # Imported here: cloud.registry imports this module.
        from cloud.registry.dynsec_control import BrokerAdminSettings

        if self.provisioner_password is None:
            raise ValueError("provisioner_url needs provisioner_password (or its _file)")
        return BrokerAdminSettings(
            url=self.provisioner_url,
            username=self.provisioner_user,
            password=self.provisioner_password,
            ca_file=self.provisioner_ca_file,
        )


class QuarantineSettings(BaseModel):
    """Broker-side quarantine of a flooding camera (:mod:`cloud.responder.quarantine`).

    Off unless ``url`` is set. When the responder mutes a camera (it kept asking after being
    told to wait), it disables the camera's broker account for ``period_s`` through the
    dynamic-security plugin, so the broker cuts the flood off before queueing it in front of
    other cameras' requests, and enables it again afterwards.

    Attributes:
        url: ``mqtt(s)://host:port`` of the listener that runs the plugin (the camera
            listener in ``deploy/mosquitto``).
        username: an account allowed to use ``$CONTROL/dynamic-security/#``; such an account
            can change anything the plugin holds, so give it its own password file.
        password: its password (or ``password_file``, or ``OSSMEDIA_QUARANTINE_PASSWORD``).
        ca_file: CA bundle to verify that listener with ``mqtts://``.
        period_s: how long a quarantine lasts; at least a camera's retry-after.
        max_active: the most cameras this responder keeps quarantined at once (a bound on
            the damage a bug or a mistake could do to a fleet).
        sweep_interval_s: how often the broker's accounts are searched for quarantines that
            are over (also at start-up), so one that another responder began and could not
            end is ended too.
        timeout_s: how long one admin exchange may take.
    """

    model_config = _FROZEN

    url: str | None = None
    username: str = "svc.quarantine"
    password: SecretStr | None = None
    password_file: Path | None = None
    ca_file: Path | None = None
    period_s: float = Field(default=300.0, gt=0)
    max_active: int = Field(default=100, ge=1)
    sweep_interval_s: float = Field(default=60.0, gt=0)
    timeout_s: float = Field(default=5.0, gt=0)

    @model_validator(mode="after")
    def _admin(self) -> QuarantineSettings:
        if self.url is not None:
            self.broker_admin()
        return self

    def broker_admin(self) -> BrokerAdminSettings | None:
        """The dynamic-security admin connection, or ``None`` when quarantine is off."""
        if self.url is None:
            return None
        # Imported here: cloud.registry imports this module.
        from cloud.registry.dynsec_control import BrokerAdminSettings

        if self.password is None:
            raise ValueError("quarantine url needs a password (password_file)")
        return BrokerAdminSettings(
            url=self.url,
            username=self.username,
            password=self.password,
            ca_file=self.ca_file,
            timeout_s=self.timeout_s,
        )


class ResponderSettings(BaseModel):
    """Everything ``ossmedia responder`` needs, one group per concern."""

    model_config = _FROZEN

    broker: BrokerSettings = BrokerSettings()
    sts: StsSettings = StsSettings()
    grant: GrantSettings = GrantSettings()
    limits: Limits = Limits()
    state: StateSettings = StateSettings()
    registry: RegistrySettings = RegistrySettings()
    service: ServiceSettings = ServiceSettings()
    provisioning: ProvisioningSettings = ProvisioningSettings()
    quarantine: QuarantineSettings = QuarantineSettings()

    @model_validator(mode="after")
    def _quarantine_outlasts_retry_after(self) -> ResponderSettings:
        # A camera is muted until its retry-after ends; a shorter quarantine would let the
        # broker queue its flood again while the responder still drops it.
        retry_after_s = 60.0 / self.limits.device_requests_per_minute
        if self.quarantine.url is not None and self.quarantine.period_s < retry_after_s:
            raise ValueError(
                f"quarantine.period_s must be at least a camera's retry-after "
                f"({retry_after_s:g} s at limits.device_requests_per_minute)"
            )
        return self
