"""Identifiers: device ids and the random ids and nonces carried in messages.

A device id is used as an MQTT topic level, an object-key segment and an STS
RoleSessionName, so it is restricted to a small ASCII alphabet that is never a wildcard in
MQTT or in a RAM policy and never a path step (``/``, ``..``).
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import PydanticCustomError, core_schema

from schemas.encoding import b64url_encode
from schemas.errors import InvalidIdentifier

DEVICE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{1,31}$"
"""The exact set of valid device ids (2-32 ASCII characters; checked with ``fullmatch``)."""

_DEVICE_ID_RE = re.compile(DEVICE_ID_PATTERN, re.ASCII)


def is_device_id(value: object) -> bool:
    """Tell whether ``value`` is a string that is a valid device id.

    Args:
        value: anything.

    Returns:
        True when ``value`` is a ``str`` matching :data:`DEVICE_ID_PATTERN` in full.
    """
    return isinstance(value, str) and _DEVICE_ID_RE.fullmatch(value) is not None


class DeviceId(str):
    """A validated device id; building one checks it.

    ``DeviceId("cam-0001")`` returns the id; anything outside :data:`DEVICE_ID_PATTERN`
    (wildcards, ``/``, ``..``, non-ASCII look-alikes, a trailing newline, too short or too long)
    raises :class:`InvalidIdentifier`. Usable as a pydantic field type: the field accepts plain
    strings, validates them the same way and serialises as a plain string.
    """

    __slots__ = ()

    def __new__(cls, value: str) -> DeviceId:
        """Validate ``value`` and return it as a :class:`DeviceId`.

        Args:
            value: the candidate device id.

        Raises:
            InvalidIdentifier: ``value`` is not a valid device id.
        """
        if not is_device_id(value):
            raise InvalidIdentifier(f"device id must match {DEVICE_ID_PATTERN}")
        return super().__new__(cls, value)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        del source, handler
        return core_schema.no_info_after_validator_function(
            cls._from_field,
            core_schema.str_schema(pattern=DEVICE_ID_PATTERN, min_length=2, max_length=32),
            serialization=core_schema.plain_serializer_function_ser_schema(
                str, return_schema=core_schema.str_schema()
            ),
        )

    @classmethod
    def _from_field(cls, value: str) -> DeviceId:
        # The pattern check above runs in pydantic's regex engine; this re-check uses
        # Python's fullmatch with re.ASCII so both engines must agree before a value passes.
        if not is_device_id(value):
            raise PydanticCustomError(
                "device_id", "device id must match {pattern}", {"pattern": DEVICE_ID_PATTERN}
            )
        return cls(value)


def new_request_id() -> str:
    """Return a fresh request id: 16 random bytes as 32 lowercase hex characters."""
    return secrets.token_hex(16)


def new_event_id() -> str:
    """Return a fresh event id: 16 random bytes as 32 lowercase hex characters."""
    return secrets.token_hex(16)


def new_nonce() -> str:
    """Return a fresh request nonce: 16 random bytes as unpadded base64url (22 characters)."""
    return b64url_encode(secrets.token_bytes(16))
