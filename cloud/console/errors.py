"""Errors raised by the web console and management API.

Every console error derives from :class:`ConsoleError`, itself a
:class:`cloud.errors.CloudError`, so callers of the cloud package catch one root::

    CloudError
    └── ConsoleError
        ├── ConsoleConfigError        configuration file missing, unreadable or invalid
        ├── InvalidInputError         a request parameter failed validation (HTTP 400)
        ├── NotFoundError             a camera, recording or device does not exist (HTTP 404)
        │   ├── RecordingNotFoundError
        │   ├── DeviceNotFoundError
        │   └── ContentKeyNotFoundError   (cloud.console.content_keys)
        ├── ConflictError             the operation contradicts the current state (HTTP 409)
        ├── RejectedMessageError      an MQTT event or status was malformed, unsigned or forged
        ├── StorageError              OSS answered with an error or could not be reached (HTTP 502)
        ├── PlaylistError             a stored HLS playlist the console will not serve (HTTP 502;
        │                             cloud.console.hls)
        ├── ContentKeyError           a stored content key does not open, or a key id was sent
        │                             with a different key (cloud.console.content_keys)
        └── ProvisioningError         the device registry (or the cameras' broker accounts)
                                      refused or failed an operation

Messages never contain secrets: no device secret, access key secret, password, session key or
content key.
"""

from __future__ import annotations

from cloud.errors import CloudError

__all__ = [
    "ConflictError",
    "ConsoleConfigError",
    "ConsoleError",
    "DeviceNotFoundError",
    "InvalidInputError",
    "NotFoundError",
    "ProvisioningError",
    "RecordingNotFoundError",
    "RejectedMessageError",
    "StorageError",
]


class ConsoleError(CloudError):
    """Root of the console's errors."""


class ConsoleConfigError(ConsoleError):
    """The console configuration is missing, unreadable or invalid.

    Attributes:
        path: the configuration file, when one was involved.
    """

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class InvalidInputError(ConsoleError):
    """A request parameter failed validation.

    Attributes:
        field: the parameter's name.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class NotFoundError(ConsoleError):
    """Something the request names does not exist."""


class RecordingNotFoundError(NotFoundError):
    """No recording with this id is in the ledger (or it was deleted).

    Attributes:
        recording_id: the id that was asked for.
    """

    def __init__(self, recording_id: str) -> None:
        super().__init__(f"no recording {recording_id}")
        self.recording_id = recording_id


class DeviceNotFoundError(NotFoundError):
    """The device is unknown to the registry and the ledger.

    Attributes:
        device_id: the id that was asked for.
    """

    def __init__(self, device_id: str) -> None:
        super().__init__(f"no device {device_id}")
        self.device_id = device_id


class ConflictError(ConsoleError):
    """The operation contradicts the current state (for example a duplicate device id)."""


class RejectedMessageError(ConsoleError):
    """An MQTT message was not accepted into the ledger.

    Attributes:
        topic: the topic it arrived on.
        reason: a short machine-readable reason (``malformed``, ``unknown_device``,
            ``bad_signature``, ``topic_mismatch``, ``bad_key``, ``revoked``, ``bad_seal``,
            ``key_conflict``).
    """

    def __init__(self, topic: str, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason} on {topic}" + (f": {detail}" if detail else ""))
        self.topic = topic
        self.reason = reason


class StorageError(ConsoleError):
    """OSS answered with an error or could not be reached.

    Attributes:
        operation: what the console tried (``head``, ``delete``, ``put_lifecycle`` ...).
        object_key: the object involved, if any.
        code: the OSS error code, if OSS answered.
        status: the HTTP status OSS answered with, if any.
    """

    def __init__(
        self,
        operation: str,
        *,
        object_key: str | None = None,
        code: str | None = None,
        status: int | None = None,
    ) -> None:
        where = f" {object_key}" if object_key else ""
        super().__init__(f"OSS {operation}{where} failed: {code or 'unreachable'} ({status})")
        self.operation = operation
        self.object_key = object_key
        self.code = code
        self.status = status


class ProvisioningError(ConsoleError):
    """The device registry, or the cameras' broker accounts, refused or failed an operation.

    Attributes:
        device_id: the device involved.
    """

    def __init__(self, device_id: str, message: str) -> None:
        super().__init__(f"{device_id}: {message}")
        self.device_id = device_id
