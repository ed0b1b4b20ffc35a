"""Exceptions raised by the device package.

Everything that fails inside ``device`` reaches the caller as a :class:`DeviceError`; errors
from ``oss2``, paho and the operating system are converted where they happen (the object
store adapter, the MQTT link, the spool) and never escape the public API.

Tree::

    DeviceError                      code, object_key, position, request_id
    ├── ConfigError                  settings or a config file are invalid
    ├── StorageError                 the object store refused or failed a request
    │   ├── TransientStorageError    transport error, 5xx, throttling: safe to retry
    │   ├── AuthError                credentials rejected (expired, unknown, bad signature)
    │   ├── AccessDenied             the grant does not allow the operation
    │   ├── ObjectNotFound           no such object
    │   ├── ObjectExists             a fresh object was asked for, the key is taken
    │   ├── PositionMismatch         append position differs from the object length
    │   ├── ObjectNotAppendable      the object is not an appendable object
    │   ├── ObjectTooLarge           the append would pass the appendable size limit
    │   └── IntegrityError           content or CRC-64 differs from what was written
    │       └── AppendDiverged       the stored object no longer matches our journal
    ├── MediaFileError               misuse of a MediaFile
    │   ├── ModeError                operation not allowed in the file's mode
    │   └── FileClosedError          operation on a closed file
    ├── CredentialError              credentials could not be obtained
    │   ├── CredentialsUnavailable   no usable answer in time (broker down, throttled...)
    │   ├── CredentialDenied         the responder refused this request for good
    │   └── DeviceRejected           the device is revoked or unknown: stop
    ├── LinkError                    the MQTT link failed
    ├── SourceError                  the recording source cannot be read
    └── SpoolError                   the on-disk spool failed
        ├── SpoolFull                the spool is full and the policy rejects new data
        └── SpoolCorrupt             a spool or journal file failed its checks
"""

from __future__ import annotations

__all__ = [
    "AccessDenied",
    "AppendDiverged",
    "AuthError",
    "ConfigError",
    "CredentialDenied",
    "CredentialError",
    "CredentialsUnavailable",
    "DeviceError",
    "DeviceRejected",
    "FileClosedError",
    "IntegrityError",
    "LinkError",
    "MediaFileError",
    "ModeError",
    "ObjectExists",
    "ObjectNotAppendable",
    "ObjectNotFound",
    "ObjectTooLarge",
    "PositionMismatch",
    "SourceError",
    "SpoolCorrupt",
    "SpoolError",
    "SpoolFull",
    "StorageError",
    "TransientStorageError",
]


class DeviceError(Exception):
    """Root of every error raised by the device package.

    Attributes:
        message: human-readable description (never contains secrets).
        code: a short machine-readable code: an OSS error code, a protocol error code,
            or a device-side code such as ``"spool_full"``.
        object_key: the object involved, if any.
        position: the append position or byte offset involved, if any.
        request_id: the OSS request id or protocol request id, if any.
    """

    default_code = "device_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        object_key: str | None = None,
        position: int | None = None,
        request_id: str | None = None,
    ) -> None:
        self.message = message
        self.code = code or self.default_code
        self.object_key = object_key
        self.position = position
        self.request_id = request_id
        super().__init__(message)

    def __str__(self) -> str:
        parts = [self.message, f"code={self.code}"]
        if self.object_key is not None:
            parts.append(f"key={self.object_key}")
        if self.position is not None:
            parts.append(f"position={self.position}")
        if self.request_id:
            parts.append(f"request_id={self.request_id}")
        return " ".join(parts)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self!s})"


class ConfigError(DeviceError):
    """The configuration is invalid or cannot be read."""

    default_code = "config"


class StorageError(DeviceError):
    """The object store refused or failed a request."""

    default_code = "storage"


class TransientStorageError(StorageError):
    """A failure that may go away: transport error, 5xx, throttling.

    For a write, the outcome is unknown: the request may or may not have been applied.
    """

    default_code = "transient"


class AuthError(StorageError):
    """The store rejected the credentials (expired token, unknown key, bad signature, skew)."""

    default_code = "auth"


class AccessDenied(StorageError):
    """The credentials are valid but do not allow this operation on this key."""

    default_code = "AccessDenied"


class ObjectNotFound(StorageError):
    """The object does not exist."""

    default_code = "NoSuchKey"


class ObjectExists(StorageError):
    """A fresh object was requested but the key already holds data."""

    default_code = "ObjectExists"


class PositionMismatch(StorageError):
    """An append position differed from the object's length.

    Attributes:
        next_position: the object's length as reported by the store.
    """

    default_code = "PositionNotEqualToLength"

    def __init__(
        self,
        message: str,
        *,
        next_position: int,
        object_key: str | None = None,
        position: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, object_key=object_key, position=position, request_id=request_id)
        self.next_position = next_position


class ObjectNotAppendable(StorageError):
    """The object exists but is not an appendable object."""

    default_code = "ObjectNotAppendable"


class ObjectTooLarge(StorageError):
    """The append would take the object past the appendable size limit."""

    default_code = "ObjectTooLarge"


class IntegrityError(StorageError):
    """Stored content or its CRC-64 differs from what was written or expected."""

    default_code = "integrity"


class AppendDiverged(IntegrityError):
    """The stored object no longer matches the committed length and CRC-64.

    Neither "landed" nor "not landed" explains what the store holds, so appending more
    could corrupt the object; the writer must move to a new object.
    """

    default_code = "diverged"


class MediaFileError(DeviceError):
    """A MediaFile was used in a way its mode or state does not allow."""

    default_code = "media_file"


class ModeError(MediaFileError):
    """The operation is not allowed in the file's open mode."""

    default_code = "mode"


class FileClosedError(MediaFileError):
    """The file is closed."""

    default_code = "closed"


class CredentialError(DeviceError):
    """Credentials could not be obtained."""

    default_code = "credentials"


class CredentialsUnavailable(CredentialError):
    """No usable credentials in time; retrying later may succeed."""

    default_code = "unavailable"


class CredentialDenied(CredentialError):
    """The responder refused the request in a way retrying will not fix."""

    default_code = "denied"


class DeviceRejected(CredentialError):
    """The responder says this device is revoked or unknown: the agent must stop."""

    default_code = "revoked"


class LinkError(DeviceError):
    """The MQTT link failed."""

    default_code = "link"


class SourceError(DeviceError):
    """The recording source cannot be read (missing file, I/O error)."""

    default_code = "source"


class SpoolError(DeviceError):
    """The on-disk spool failed."""

    default_code = "spool"


class SpoolFull(SpoolError):
    """The spool is full and its policy rejects new data."""

    default_code = "spool_full"


class SpoolCorrupt(SpoolError):
    """A spool chunk or the journal failed its integrity checks."""

    default_code = "spool_corrupt"
