"""The device package's public surface, its exception tree, and secrets kept out of reprs."""

from __future__ import annotations

import inspect

import pytest

import device
import device.errors
from device.agent.config import parse_settings
from device.errors import ConfigError, DeviceError
from device.settings import AgentSettings

EXPECTED = {
    "AccessDenied", "AdjustedClock", "Agent", "AgentSettings", "AppendDiverged", "AppendResult",
    "AppendRetrySettings", "AppendState", "Appender", "AuthError", "BrokerSettings", "Clock",
    "ConfigError", "CredentialClient", "CredentialDenied", "CredentialError",
    "CredentialSettings", "CredentialsUnavailable", "DeviceError", "DeviceRejected",
    "FileClosedError", "GrantTarget", "IntegrityError", "Journal", "Lease", "LinkError",
    "ManualClock", "MediaFile", "MediaFileError", "ModeError", "MqttLink", "ObjectExists",
    "ObjectInfo", "ObjectNotAppendable", "ObjectNotFound", "ObjectStore", "ObjectTooLarge",
    "OssObjectStore", "Outcome", "PositionMismatch", "Publication", "PutResult",
    "SelectorLoop", "SourceError", "SourceSettings", "Spool", "SpoolCorrupt", "SpoolError", "SpoolFull",
    "SpoolSettings", "StaticTarget", "StorageError", "SystemClock", "TransientStorageError",
    "UploadSettings", "UploadTarget", "Uploader",
}  # fmt: skip

SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I"


def test_public_names_are_pinned() -> None:
    assert set(device.__all__) == EXPECTED
    for name in device.__all__:
        assert getattr(device, name) is not None


def test_every_device_exception_is_in_the_documented_tree() -> None:
    doc = device.errors.__doc__ or ""
    classes = [
        obj
        for _, obj in inspect.getmembers(device.errors, inspect.isclass)
        if issubclass(obj, DeviceError)
    ]
    assert len(classes) == len(device.errors.__all__)
    for cls in classes:
        assert cls.__name__ in doc
        error = cls("boom", next_position=1) if cls.__name__ == "PositionMismatch" else cls("boom")
        assert isinstance(error, DeviceError)
        assert error.code


def test_exceptions_carry_context() -> None:
    error = device.PositionMismatch(
        "mismatch", next_position=10, object_key="k", position=4, request_id="r"
    )
    assert (error.code, error.object_key, error.position, error.request_id) == (
        "PositionNotEqualToLength", "k", 4, "r",
    )  # fmt: skip
    assert "key=k" in str(error)
    assert "position=4" in str(error)


def test_secrets_stay_out_of_reprs_and_errors() -> None:
    settings = AgentSettings(
        device_id="cam-0001",
        secret=SECRET,
        broker={"url": "mqtt://h:1", "username": "cam-0001", "password": "pw-hunter2"},
    )
    assert SECRET not in repr(settings)
    assert "hunter2" not in repr(settings)
    with pytest.raises(ConfigError) as info:
        parse_settings({"device_id": "bad id!", "secret": SECRET})
    assert SECRET not in str(info.value)
    assert "device_id" in str(info.value)
