"""Root of every error the cloud side (registry, shared state, responder) raises.

Tree::

    CloudError
    ├── ConfigError            settings file, environment override or master key is unusable
    ├── RegistryError          device registry
    │   ├── DeviceNotFound         no device with that id
    │   ├── DeviceExists           ``add`` of an id that is already provisioned
    │   ├── SecretDecryptError     a stored secret does not open with the master key
    │   ├── DeviceStillActive      ``delete`` of a device that is not revoked
    │   ├── DeviceIsRevoked        ``rotate`` of a revoked device (``reinstate`` it)
    │   ├── MasterKeyMismatch      the master key is not the one the registry was created with
    │   ├── RegistryUnavailable    the store cannot be reached or is locked (retry later)
    │   └── BrokerAccountError     the broker refused or did not answer an account change
    ├── StartupRefused         a responder dependency is broken: it does not start
    ├── StateError             shared state backend (memory or Redis) failed
    └── StsError               AssumeRole failed after retries
        ├── StsThrottled           STS (or our own cap) refused the call: retry later
        ├── StsUnavailable         network error or 5xx from STS
        └── StsRejected            STS answered with a 4xx other than throttling (configuration)

Messages never contain a secret, a security token or a device secret; errors carry the
context (``device_id``, ``code``, ``retry_after_ms``, ``failure``) as attributes.
"""

from __future__ import annotations

from enum import StrEnum


class CloudError(Exception):
    """Base class of every error raised by ``cloud``.

    Args:
        message: human-readable text; never contains a secret.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(CloudError):
    """A setting, environment override or key file is missing or invalid.

    Args:
        message: what is wrong.
        source: where the value came from (file path, environment variable name).
    """

    def __init__(self, message: str, *, source: str = "") -> None:
        super().__init__(f"{source}: {message}" if source else message)
        self.source = source


class RegistryError(CloudError):
    """The device registry could not complete an operation.

    Args:
        message: what went wrong.
        device_id: the device concerned, when there is one.
    """

    def __init__(self, message: str, *, device_id: str | None = None) -> None:
        super().__init__(message)
        self.device_id = device_id


class DeviceNotFound(RegistryError):
    """No device with this id is provisioned."""

    def __init__(self, device_id: str) -> None:
        super().__init__(f"device {device_id!r} is not provisioned", device_id=device_id)


class DeviceExists(RegistryError):
    """A device with this id is already provisioned."""

    def __init__(self, device_id: str) -> None:
        super().__init__(f"device {device_id!r} already exists", device_id=device_id)


class SecretDecryptError(RegistryError):
    """A stored device secret does not open with the configured master key."""

    def __init__(self, device_id: str) -> None:
        super().__init__(
            f"the secret of {device_id!r} does not decrypt with this master key",
            device_id=device_id,
        )


class DeviceStillActive(RegistryError):
    """Deleting a device that is not revoked (revoke it first)."""

    def __init__(self, device_id: str) -> None:
        super().__init__(
            f"device {device_id!r} is active; revoke it before deleting it", device_id=device_id
        )


class DeviceIsRevoked(RegistryError):
    """Rotating the secret of a revoked device (reinstate it first)."""

    def __init__(self, device_id: str) -> None:
        super().__init__(
            f"device {device_id!r} is revoked; reinstate it (which rotates its secret) instead",
            device_id=device_id,
        )


class MasterKeyMismatch(RegistryError):
    """The master key does not match the key-check value stored in the registry."""

    def __init__(self) -> None:
        super().__init__(
            "the master key does not match this registry (it was created with another key); "
            "use the key kept with the registry, or restore the matching backup"
        )


class RegistryUnavailable(RegistryError):
    """The registry's store cannot be reached, or another writer holds it for too long."""


class AdminFailure(StrEnum):
    """Which step of a dynamic-security admin session failed (:class:`BrokerAccountError`)."""

    UNREACHABLE = "unreachable"  # TCP or TLS to the listener
    LOGIN_REFUSED = "login_refused"  # CONNACK: wrong username or password, or disabled
    NOT_AUTHORIZED = "not_authorized"  # the account may not use the control topic
    NO_ANSWER = "no_answer"  # nothing answered in time (no plugin on that listener?)
    DISCONNECTED = "disconnected"  # the connection dropped mid-session


class BrokerAccountError(RegistryError):
    """The broker's dynamic-security API refused, or did not answer, an account change.

    Args:
        message: what went wrong (the broker's own error text, never a password).
        device_id: the camera concerned.
        failure: which step of the admin session failed; ``None`` when the session worked
            and the plugin refused a command (its error text is in ``message``).
    """

    def __init__(
        self, message: str, *, device_id: str | None = None, failure: AdminFailure | None = None
    ) -> None:
        super().__init__(message, device_id=device_id)
        self.failure = failure


class StartupRefused(CloudError):
    """The start-up checks found broken dependencies; the responder did not subscribe.

    Args:
        problems: one sentence per problem (never a secret).
    """

    def __init__(self, problems: tuple[str, ...]) -> None:
        super().__init__("cannot start: " + "; ".join(problems))
        self.problems = problems


class StateError(CloudError):
    """The shared state backend (rate limits, nonces, reply cache) failed.

    Args:
        message: what went wrong.
        backend: ``memory`` or ``redis``.
    """

    def __init__(self, message: str, *, backend: str) -> None:
        super().__init__(f"{backend} state: {message}")
        self.backend = backend


class StsError(CloudError):
    """AssumeRole did not produce credentials.

    Args:
        message: what went wrong (never contains a key or token).
        code: the STS error code (``Throttling``, ``SDK.HttpError``, ``NoPermission`` ...).
        http_status: the HTTP status STS answered with, when there was an answer.
        retry_after_ms: how long the caller should wait before asking again, when known.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str = "",
        http_status: int | None = None,
        retry_after_ms: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.http_status = http_status
        self.retry_after_ms = retry_after_ms


class StsThrottled(StsError):
    """STS, or the responder's own STS call cap, refused the call for now."""


class StsUnavailable(StsError):
    """STS could not be reached or answered with a server error."""


class StsRejected(StsError):
    """STS refused the call for a reason retrying will not fix (role, policy, key)."""
