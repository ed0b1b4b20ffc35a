"""What runs on a camera: MQTT link, credential client, ``MediaFile``, durable spool, agent.

The names below are the public API; everything they raise is a :class:`DeviceError`.
"""

from device.agent.agent import Agent
from device.appender import Appender, AppendState, Outcome
from device.clock import AdjustedClock, Clock, ManualClock, SystemClock
from device.credentials import CredentialClient, Lease
from device.errors import (
    AccessDenied,
    AppendDiverged,
    AuthError,
    ConfigError,
    CredentialDenied,
    CredentialError,
    CredentialsUnavailable,
    DeviceError,
    DeviceRejected,
    FileClosedError,
    IntegrityError,
    LinkError,
    MediaFileError,
    ModeError,
    ObjectExists,
    ObjectNotAppendable,
    ObjectNotFound,
    ObjectTooLarge,
    PositionMismatch,
    SourceError,
    SpoolCorrupt,
    SpoolError,
    SpoolFull,
    StorageError,
    TransientStorageError,
)
from device.media_file import MediaFile
from device.mqtt import MqttLink, Publication, SelectorLoop
from device.settings import (
    AgentSettings,
    AppendRetrySettings,
    BrokerSettings,
    CredentialSettings,
    SourceSettings,
    SpoolSettings,
    UploadSettings,
)
from device.spool import Journal, Spool
from device.store import AppendResult, ObjectInfo, ObjectStore, OssObjectStore, PutResult
from device.target import GrantTarget, StaticTarget, UploadTarget
from device.uploader import Uploader

__all__ = [
    "AccessDenied",
    "AdjustedClock",
    "Agent",
    "AgentSettings",
    "AppendDiverged",
    "AppendResult",
    "AppendRetrySettings",
    "AppendState",
    "Appender",
    "AuthError",
    "BrokerSettings",
    "Clock",
    "ConfigError",
    "CredentialClient",
    "CredentialDenied",
    "CredentialError",
    "CredentialSettings",
    "CredentialsUnavailable",
    "DeviceError",
    "DeviceRejected",
    "FileClosedError",
    "GrantTarget",
    "IntegrityError",
    "Journal",
    "Lease",
    "LinkError",
    "ManualClock",
    "MediaFile",
    "MediaFileError",
    "ModeError",
    "MqttLink",
    "ObjectExists",
    "ObjectInfo",
    "ObjectNotAppendable",
    "ObjectNotFound",
    "ObjectStore",
    "ObjectTooLarge",
    "OssObjectStore",
    "Outcome",
    "PositionMismatch",
    "Publication",
    "PutResult",
    "SelectorLoop",
    "SourceError",
    "SourceSettings",
    "Spool",
    "SpoolCorrupt",
    "SpoolError",
    "SpoolFull",
    "SpoolSettings",
    "StaticTarget",
    "StorageError",
    "SystemClock",
    "TransientStorageError",
    "UploadSettings",
    "UploadTarget",
    "Uploader",
]
