"""Device ids and generated identifiers."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from schemas import (
    DEVICE_ID_PATTERN,
    DeviceId,
    InvalidIdentifier,
    InvalidMessage,
    b64url_decode,
    is_device_id,
    new_event_id,
    new_nonce,
    new_request_id,
)

VALID = ["cam-0001", "ab", "A1", "0_", "x" * 32, "Cam_01-B", "9-9"]
INVALID = [
    "",
    "a",  # too short
    "x" * 33,  # too long
    "-cam",
    "_cam",
    "cam/0001",
    "cam+",
    "cam#",
    "+",
    "#",
    "..",
    "../etc",
    "cam.0001",
    "cam 0001",
    "cam-0001\n",  # trailing newline: `$` alone would accept it
    "\ncam-0001",
    "cam-0001\x00",
    "cam\u20100001",  # Unicode hyphen
    "c\u0430m-0001",  # Cyrillic a
    "cam-\uff10\uff10\uff10\uff11",  # full-width digits
    "cam-0001\u200b",  # zero-width space
    "ça-va",
    "$SYS",
    "cam*",
]


@pytest.mark.parametrize("value", VALID)
def test_valid_device_ids(value: str) -> None:
    device_id = DeviceId(value)
    assert device_id == value
    assert isinstance(device_id, str)
    assert is_device_id(value)


@pytest.mark.parametrize("value", INVALID)
def test_invalid_device_ids(value: str) -> None:
    with pytest.raises(InvalidIdentifier) as info:
        DeviceId(value)
    assert repr(value) not in info.value.reason
    assert not is_device_id(value)


@pytest.mark.parametrize("value", [None, 12, b"cam-0001"])
def test_device_id_rejects_non_strings(value: object) -> None:
    with pytest.raises(InvalidIdentifier):
        DeviceId(value)  # type: ignore[arg-type]


@settings(max_examples=300)
@given(st.text(max_size=40))
def test_device_id_accepts_exactly_the_ascii_pattern(value: str) -> None:
    expected = re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{1,31}", value, re.ASCII) is not None
    assert is_device_id(value) is expected
    if expected:
        assert DeviceId(value) == value
    else:
        with pytest.raises(InvalidIdentifier):
            DeviceId(value)


class _Holder(BaseModel):
    device_id: DeviceId


def test_device_id_as_pydantic_field() -> None:
    holder = _Holder(device_id="cam-0001")  # type: ignore[arg-type]
    assert type(holder.device_id) is DeviceId
    assert holder.model_dump(mode="json") == {"device_id": "cam-0001"}
    assert _Holder.model_json_schema()["properties"]["device_id"]["pattern"] == DEVICE_ID_PATTERN
    for bad in INVALID:
        with pytest.raises(ValueError, match="device"):
            _Holder(device_id=bad)  # type: ignore[arg-type]


def test_generated_ids() -> None:
    seen = set()
    for _ in range(50):
        request_id, event_id = new_request_id(), new_event_id()
        assert re.fullmatch(r"[0-9a-f]{32}", request_id)
        assert re.fullmatch(r"[0-9a-f]{32}", event_id)
        nonce = new_nonce()
        assert len(b64url_decode(nonce)) == 16
        assert len(nonce) == 22
        seen.update({request_id, event_id, nonce})
    assert len(seen) == 150


def test_invalid_identifier_is_an_invalid_message() -> None:
    with pytest.raises(InvalidMessage):
        DeviceId("a/b")
