"""Console settings: frozen pydantic models grouped by concern, loaded from a TOML file.

Only :func:`load_settings` touches the file system; everything else receives a
:class:`ConsoleSettings` explicitly. Secrets are :class:`pydantic.SecretStr`, so they never
appear in a repr or a log line.
"""

from __future__ import annotations

import re
import tomllib
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from cloud.console.errors import ConsoleConfigError
from cloud.console.passwords import is_valid_hash
from cloud.registry.broker_accounts import BrokerAdminSettings
from cloud.settings import RegistrySettings
from schemas.broker import BrokerConnection, DeprecatedSettingWarning

__all__ = [
    "EXAMPLE_CONFIG",
    "MASTER_KEY_ENV",
    "ConsoleSettings",
    "HttpSettings",
    "LedgerSettings",
    "MqttSettings",
    "OperatorAccount",
    "OssSettings",
    "ProvisioningSettings",
    "ReconcileSettings",
    "SessionSettings",
    "load_settings",
    "parse_settings",
]

_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class HttpSettings(_Frozen):
    """Where the console listens.

    Attributes:
        host: interface to bind.
        port: TCP port (0 picks a free one).
        secure_cookies: mark cookies ``Secure``; turn on whenever the console is behind HTTPS.
        max_body_bytes: larger request bodies are refused with 413.
        shutdown_timeout_s: on SIGTERM or Ctrl-C, how long requests in flight may take to
            finish (new connections are refused at once); those still running then are
            cancelled. The MQTT session and the reconciler are closed after that.
    """

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8080
    secure_cookies: bool = False
    max_body_bytes: Annotated[int, Field(ge=1024, le=1 << 20)] = 16 * 1024
    shutdown_timeout_s: Annotated[int, Field(ge=1, le=600)] = 10


class SessionSettings(_Frozen):
    """Operator sessions.

    Attributes:
        secret: key that signs session cookies (at least 32 characters). When absent a
            random key is made at start, so sessions end when the console restarts.
        max_age_s: a session ends this long after login.
        max_login_failures: failed logins per user name and client address before that
            name is locked out from that address for ``lockout_s`` seconds.
        lockout_s: how long a locked-out user name stays locked for that address.
        login_attempts_per_address_per_minute: sign-in attempts one client address may make
            (any user name); more get HTTP 429 with ``Retry-After``.
        login_burst: attempts one address may make at once.
        login_attempts_per_minute: sign-in attempts of all addresses together, except those an
            operator signed in from during the last ``max_age_s``.
        login_global_burst: attempts all addresses may make at once.
        max_concurrent_password_checks: scrypt checks running at once (32 MiB each).
    """

    secret: SecretStr | None = None
    max_age_s: Annotated[int, Field(ge=60, le=7 * 86400)] = 12 * 3600
    max_login_failures: Annotated[int, Field(ge=1, le=1000)] = 5
    lockout_s: Annotated[int, Field(ge=1, le=86400)] = 300
    login_attempts_per_address_per_minute: Annotated[float, Field(gt=0, le=10_000)] = 10.0
    login_burst: Annotated[int, Field(ge=1, le=10_000)] = 5
    login_attempts_per_minute: Annotated[float, Field(gt=0, le=100_000)] = 120.0
    login_global_burst: Annotated[int, Field(ge=1, le=100_000)] = 20
    max_concurrent_password_checks: Annotated[int, Field(ge=1, le=64)] = 2

    @field_validator("secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("session secret must be at least 32 characters")
        if value is not None and value.get_secret_value().lower().startswith("change-me"):
            raise ValueError(
                "session secret is the example's placeholder; generate one with "
                "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return value


class OperatorAccount(_Frozen):
    """One operator who may log in.

    Attributes:
        username: login name.
        password_hash: made by ``ossmedia console --hash-password``.
    """

    username: str
    password_hash: SecretStr

    @field_validator("username")
    @classmethod
    def _username(cls, value: str) -> str:
        if not _USERNAME.match(value):
            raise ValueError("username: letters, digits and _.@- only, at most 64")
        return value

    @field_validator("password_hash")
    @classmethod
    def _hash(cls, value: SecretStr) -> SecretStr:
        if not is_valid_hash(value.get_secret_value()):
            raise ValueError("password_hash is not a hash made by --hash-password")
        return value


class MqttSettings(BrokerConnection):
    """The broker the cameras publish to (:class:`~schemas.broker.BrokerConnection`).

    Attributes:
        topic_prefix: protocol topic prefix ``P`` (see docs/protocol.md).
        enabled: when false the console does not subscribe (ledger read-only).
        shared_group: several replicas on one PostgreSQL ledger set the same group (and
            each its own ``client_id``): the broker then hands each camera message to one
            of them. Unset, every console receives every message.
    """

    RENAMED: ClassVar[dict[str, str]] = {"tls_ca_file": "ca_file"}

    client_id: str = "ossmedia-console"
    reconnect_initial_s: float = Field(default=1.0, gt=0)
    topic_prefix: str = "ossmedia"
    enabled: bool = True
    shared_group: str | None = None

    @field_validator("shared_group")
    @classmethod
    def _group(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", value):
            raise ValueError("shared_group is 1-64 of A-Z a-z 0-9 _ -")
        return value

    @model_validator(mode="before")
    @classmethod
    def _host_and_port(cls, data: Any) -> Any:
        # Older releases named the broker by host and port, with TLS on when a CA was given.
        if not isinstance(data, dict) or ("host" not in data and "port" not in data):
            return data
        data = dict(data)
        if "url" in data:
            raise ValueError("'host'/'port' and 'url' are the same setting; keep 'url'")
        warnings.warn(
            "console [mqtt] settings 'host' and 'port' are deprecated; use 'url'",
            DeprecatedSettingWarning,
            stacklevel=2,
        )
        host = str(data.pop("host", "127.0.0.1"))
        port = int(data.pop("port", 1883))
        scheme = "mqtts" if data.get("tls_ca_file") or data.get("ca_file") else "mqtt"
        data["url"] = f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}"
        return data


class ProvisioningSettings(_Frozen):
    """What goes into the ``camera.toml`` the console hands over when it provisions a camera.

    Attributes:
        broker_url: the broker URL as cameras reach it; ``[mqtt] url`` when unset (often
            wrong: the console may reach the broker on an internal address).
        ca_file: the CA bundle path on the camera, for ``mqtts://`` with a private CA.
        provisioner_url: with per-device broker accounts (Mosquitto's dynamic-security
            plugin, ``deploy/mosquitto``), the listener where the console creates, re-keys
            and disables them, as ``ossmedia devices --provisioner-url`` does; the camera's
            account password then goes into its ``camera.toml``.
        provisioner_user: the plugin's admin account.
        provisioner_password: its password (or ``provisioner_password_file``).
        provisioner_ca_file: CA bundle to verify that listener with ``mqtts://``.
    """

    broker_url: str | None = None
    ca_file: Path | None = None
    provisioner_url: str | None = None
    provisioner_user: str = "svc.provisioner"
    provisioner_password: SecretStr | None = None
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
        if self.provisioner_password is None:
            raise ValueError("provisioner_url needs provisioner_password (or its _file)")
        return BrokerAdminSettings(
            url=self.provisioner_url,
            username=self.provisioner_user,
            password=self.provisioner_password,
            ca_file=self.provisioner_ca_file,
        )


class OssSettings(_Frozen):
    """The console's own OSS access (never a camera's credentials).

    Attributes:
        endpoint: OSS endpoint URL.
        bucket: the bucket cameras write to.
        region: region id, needed for V4 signatures.
        access_key_id: the console's access key id.
        access_key_secret: the console's access key secret.
        key_prefix_template: where a device's objects live; ``{device_id}`` is replaced.
        presign_ttl_s: lifetime of a playback or download link.
        connect_timeout_s: OSS connect timeout.
    """

    endpoint: str
    bucket: str
    region: str
    access_key_id: str
    access_key_secret: SecretStr
    key_prefix_template: str = "videos/{device_id}/"
    presign_ttl_s: Annotated[int, Field(ge=10, le=3600)] = 300
    connect_timeout_s: Annotated[float, Field(gt=0, le=120)] = 10.0

    @field_validator("key_prefix_template")
    @classmethod
    def _template(cls, value: str) -> str:
        if not value.endswith("{device_id}/") or value.count("{device_id}") != 1:
            raise ValueError("key_prefix_template must end with '{device_id}/'")
        if value.startswith("/") or ".." in value:
            raise ValueError("key_prefix_template must be a relative key prefix")
        return value

    def device_prefix(self, device_id: str) -> str:
        """The object-key prefix that belongs to ``device_id``."""
        return self.key_prefix_template.replace("{device_id}", device_id)

    @property
    def fleet_prefix(self) -> str:
        """The prefix under which every device's prefix lives (``videos/`` by default)."""
        return self.key_prefix_template.split("{device_id}", 1)[0]


class LedgerSettings(_Frozen):
    """Where the recording ledger lives.

    Attributes:
        path: SQLite database file; ``:memory:`` keeps it in memory (tests, demos).
        url: a database URL instead of ``path``: ``postgresql://user@host:5432/ossmedia``
            for several console replicas on one database (the password comes from the
            ``PGPASSWORD`` environment variable or ``~/.pgpass``), or ``sqlite:///abs.db``.
        migrate_at_start: bring the schema up to date when the console starts. By default
            yes on SQLite and no on PostgreSQL, where ``ossmedia console migrate`` runs once,
            with a role allowed to change the schema, before the replicas start.
        pool_size: PostgreSQL connections each replica keeps open.
        pool_max_overflow: extra connections a replica may open under load.
        pool_timeout_s: how long a request waits for a free connection.
    """

    path: str = "console.sqlite3"
    url: str | None = None
    migrate_at_start: bool | None = None
    pool_size: Annotated[int, Field(ge=1, le=100)] = 5
    pool_max_overflow: Annotated[int, Field(ge=0, le=100)] = 10
    pool_timeout_s: Annotated[float, Field(gt=0, le=300)] = 10.0

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and value.split("://", 1)[0] not in {
            "sqlite",
            "postgresql",
            "postgres",
            "postgresql+psycopg",
        }:
            raise ValueError("ledger url is postgresql://user@host:port/db or sqlite:///path.db")
        return value

    @property
    def location(self) -> str:
        """The URL when set, else the SQLite path."""
        return self.url if self.url is not None else self.path


class ReconcileSettings(_Frozen):
    """How the reconciler checks recordings against OSS.

    Attributes:
        interval_s: pause between passes.
        recheck_after_s: verified recordings are checked again after this long.
        batch: recordings checked per pass.
        enabled: when false only explicit checks run.
        lease_s: replicas on one ledger take turns: the one holding the reconcile lease runs
            the passes and renews it before each; when it dies another takes over this long
            after its last renewal. Keep it above ``interval_s``.
    """

    interval_s: Annotated[float, Field(gt=0, le=86400)] = 30.0
    recheck_after_s: Annotated[int, Field(ge=1)] = 3600
    batch: Annotated[int, Field(ge=1, le=10000)] = 200
    enabled: bool = True
    lease_s: Annotated[float, Field(gt=0, le=86400)] = 120.0

    @model_validator(mode="after")
    def _lease_outlasts_interval(self) -> ReconcileSettings:
        if self.lease_s <= self.interval_s:
            raise ValueError("reconcile.lease_s must be longer than reconcile.interval_s")
        return self


class ConsoleSettings(_Frozen):
    """Everything the console needs.

    Attributes:
        http: listener.
        session: operator sessions.
        operators: who may log in (at least one).
        mqtt: broker for events and status.
        oss: the console's own OSS access.
        ledger: recording ledger storage.
        reconcile: object verification.
        registry: the device registry (the same one the responder and ``ossmedia devices``
            use); its master key comes from ``OSSMEDIA_MASTER_KEY`` or ``master_key_file``.
        provisioning: what the ``camera.toml`` of a newly provisioned camera says.
    """

    http: HttpSettings = HttpSettings()
    session: SessionSettings = SessionSettings()
    operators: Annotated[tuple[OperatorAccount, ...], Field(min_length=1)]
    mqtt: MqttSettings = MqttSettings()
    oss: OssSettings
    ledger: LedgerSettings = LedgerSettings()
    reconcile: ReconcileSettings = ReconcileSettings()
    registry: RegistrySettings = RegistrySettings()
    provisioning: ProvisioningSettings = ProvisioningSettings()


def parse_settings(data: dict[str, Any], *, path: str | None = None) -> ConsoleSettings:
    """Validate a settings mapping (as read from TOML).

    Args:
        data: the parsed document.
        path: the file it came from, for error messages.

    Returns:
        The settings.

    Raises:
        ConsoleConfigError: if a value is missing or invalid; the message names the field
            but never echoes secret values.
    """
    try:
        return ConsoleSettings.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConsoleConfigError(f"invalid console configuration: {problems}", path=path) from None


MASTER_KEY_ENV = "OSSMEDIA_MASTER_KEY"


def _read_secret_file(path: str, setting: str, where: str) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read().strip()
    except OSError as exc:
        raise ConsoleConfigError(
            f"{setting}: cannot read {path}: {exc.strerror}", path=where
        ) from None


def load_settings(path: str | Path, environ: Mapping[str, str] | None = None) -> ConsoleSettings:
    """Read and validate a ``console.toml`` file.

    Secrets may also come from files: ``oss.access_key_secret_file``,
    ``mqtt.password_file``, ``session.secret_file``,
    ``provisioning.provisioner_password_file`` and ``registry.master_key_file``; the
    registry master key may come from the ``OSSMEDIA_MASTER_KEY`` environment variable. A
    secret given twice (inline and by a file, or by the environment and a file) is refused
    rather than one silently winning.

    Args:
        path: the configuration file.
        environ: the process environment (entry points pass ``os.environ``).

    Returns:
        The settings.

    Raises:
        ConsoleConfigError: if a file cannot be read, is not TOML or is invalid.
    """
    where = str(path)
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConsoleConfigError(f"cannot read {where}: {exc.strerror}", path=where) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConsoleConfigError(f"{where} is not valid TOML: {exc}", path=where) from None
    for section, secret, file_key in (
        ("oss", "access_key_secret", "access_key_secret_file"),
        ("mqtt", "password", "password_file"),
        ("session", "secret", "secret_file"),
        ("provisioning", "provisioner_password", "provisioner_password_file"),
    ):
        table = data.get(section)
        if isinstance(table, dict) and file_key in table:
            if secret in table:
                raise ConsoleConfigError(
                    f"{section}.{secret} and {section}.{file_key} are both set; keep one",
                    path=where,
                )
            file_path = str(table.pop(file_key))
            table[secret] = _read_secret_file(file_path, f"{section}.{file_key}", where)
    registry = data.setdefault("registry", {})
    if isinstance(registry, dict) and "master_key" not in registry:
        env_key = (environ or {}).get(MASTER_KEY_ENV)
        if env_key and registry.get("master_key_file"):
            raise ConsoleConfigError(
                f"the master key is set by {MASTER_KEY_ENV} and by registry.master_key_file; "
                "keep one",
                path=where,
            )
        if env_key:
            registry["master_key"] = env_key
        elif registry.get("master_key_file"):
            registry["master_key"] = _read_secret_file(
                str(registry["master_key_file"]), "registry.master_key_file", where
            )
    return parse_settings(data, path=where)


EXAMPLE_CONFIG = """\
# ossmedia console configuration. Run: ossmedia console --config console.toml

[http]
host = "127.0.0.1"
port = 8080
secure_cookies = false      # set to true when the console is served over HTTPS
shutdown_timeout_s = 10     # on SIGTERM, how long requests in flight may take to finish

[session]
# Signs session cookies; at least 32 characters, kept in a file readable by the console only.
# Generate one with:
#   python3 -c 'import secrets; print(secrets.token_urlsafe(32))' > /etc/ossmedia/console-session
# Sessions are held in memory: a restart signs every operator out, with or without it.
# Without a secret a random one is made at start.
secret_file = "/etc/ossmedia/console-session"
max_age_s = 43200

# One block per operator. Make a hash with: ossmedia console --hash-password
[[operators]]
username = "admin"
password_hash = "scrypt$15$8$...$..."

[mqtt]
url = "mqtt://127.0.0.1:1883"  # mqtts://host:8883 for TLS
# username = "console"
# password_file = "/etc/ossmedia/console-mqtt-password"
client_id = "ossmedia-console"
topic_prefix = "ossmedia"
# ca_file = "/etc/ssl/certs/ca-certificates.crt"

[oss]
endpoint = "https://oss-cn-hangzhou.aliyuncs.com"
bucket = "my-camera-bucket"
region = "cn-hangzhou"
# The console's own RAM user: needs oss:GetObject, oss:DeleteObject,
# oss:PutBucketLifecycle and oss:GetBucketLifecycle. Never a camera's credentials.
access_key_id = "LTAI..."
access_key_secret_file = "/etc/ossmedia/console-oss-secret"
key_prefix_template = "videos/{device_id}/"
presign_ttl_s = 300

[ledger]
path = "console.sqlite3"
# Several replicas share one ledger on PostgreSQL instead (then run 'ossmedia console
# migrate' once, and give each replica its own [mqtt] client_id and one shared_group):
# url = "postgresql://ossmedia_console@db.example.com:5432/ossmedia"

[reconcile]
interval_s = 30
recheck_after_s = 3600
batch = 200

# The device registry shared with the responder and `ossmedia devices`. Its master key
# comes from the OSSMEDIA_MASTER_KEY environment variable or from master_key_file.
[registry]
url = "sqlite:///var/lib/ossmedia/registry.db"
# master_key_file = "/etc/ossmedia/master.key"

# The camera.toml shown when a device is provisioned or its secret rotated.
[provisioning]
# broker_url = "mqtts://broker.example.com:8883"  # as cameras reach it; default [mqtt] url
# ca_file = "/etc/ossmedia/ca.pem"                # on the camera, for a private CA
# With per-device broker accounts (deploy/mosquitto), the console creates the camera's
# account and puts its password in camera.toml; revoking a device disables the account.
# provisioner_url = "mqtts://127.0.0.1:8884"
# provisioner_user = "svc.provisioner"
# provisioner_password_file = "/etc/ossmedia/provisioner-password"
# provisioner_ca_file = "/etc/ossmedia/ca.pem"
"""
