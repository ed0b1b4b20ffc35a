"""Field types shared by the protocol messages.

Each alias carries its own bounds, so a model's fields read as the protocol's rules and the
exported JSON Schema states the same rules. Integers are limited to ``2**53`` so JavaScript
consumers read them exactly; the one larger value (a CRC-64) travels as a decimal string.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationInfo,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from schemas.encoding import b64url_decode
from schemas.errors import InvalidMessage

JS_SAFE_LIMIT = 2**53
"""Exclusive upper bound for integers on the wire (``Number.MAX_SAFE_INTEGER + 1``)."""

WIRE_CONTEXT: dict[str, Any] = {"ossmedia_wire": True}
"""Validation context for payloads read off the wire (stricter than Python construction)."""


def is_wire(info: ValidationInfo) -> bool:
    """Tell whether a validation runs on a wire payload (see :data:`WIRE_CONTEXT`)."""
    return isinstance(info.context, dict) and info.context.get("ossmedia_wire") is True


def _exact_one(value: object) -> object:
    # Literal[1] alone accepts True and 1.0 even in strict mode.
    if type(value) is not int:
        raise PydanticCustomError("version", "protocol version must be the integer 1")
    return value


def _exact_bool(value: object) -> object:
    # Literal[True] alone accepts 1 even in strict mode.
    if type(value) is not bool:
        raise PydanticCustomError("bool_type", "value must be a boolean")
    return value


def enum_from_str(enum_cls: type[StrEnum]) -> BeforeValidator:
    """A validator taking an enum member or its exact string value, nothing else."""
    allowed = ", ".join(repr(m.value) for m in enum_cls)

    def convert(value: object) -> object:
        if isinstance(value, str):
            try:
                return enum_cls(value)
            except ValueError:
                pass
        raise PydanticCustomError("enum", "value must be one of {allowed}", {"allowed": allowed})

    return BeforeValidator(convert)


def _canonical_b64url(value: str) -> str:
    try:
        b64url_decode(value)
    except InvalidMessage:
        raise PydanticCustomError(
            "base64url", "value is not canonical unpadded base64url"
        ) from None
    return value


def _object_key(value: str) -> str:
    if len(value.encode("utf-8")) > 1023:
        raise PydanticCustomError("object_key", "object key longer than 1023 UTF-8 bytes")
    if value.startswith(("/", "\\")) or any(p in {".", ".."} for p in value.split("/")):
        raise PydanticCustomError(
            "object_key", "object key must not start with '/' or '\\' or hold '.'/'..' segments"
        )
    return value


def _key_prefix(value: str) -> str:
    if any(p in {".", ".."} for p in value.split("/")):
        raise PydanticCustomError("key_prefix", "prefix must not hold '.' or '..' segments")
    return value


_CRC64_RE = re.compile(r"0|[1-9][0-9]{0,19}", re.ASCII)
_CRC64_PATTERN = "^(0|[1-9][0-9]{0,19})$"


def _crc64(value: object, info: ValidationInfo) -> int:
    if isinstance(value, str) and _CRC64_RE.fullmatch(value) is not None:
        number = int(value)
    elif type(value) is int and not is_wire(info):
        number = value
    else:
        raise PydanticCustomError(
            "crc64", "crc64 must be a decimal string (an int is also accepted in Python)"
        )
    if not 0 <= number < 2**64:
        raise PydanticCustomError("crc64", "crc64 must be in [0, 2**64)")
    return number


Version = Annotated[Literal[1], BeforeValidator(_exact_one)]
"""Protocol version: the integer 1."""

TrueFlag = Annotated[Literal[True], BeforeValidator(_exact_bool)]
FalseFlag = Annotated[Literal[False], BeforeValidator(_exact_bool)]

Millis = Annotated[int, Field(ge=0, lt=JS_SAFE_LIMIT)]
"""Milliseconds since the epoch, or a duration in milliseconds."""

SignedMillis = Annotated[int, Field(gt=-JS_SAFE_LIMIT, lt=JS_SAFE_LIMIT)]
"""A signed millisecond offset."""

Count = Annotated[int, Field(ge=0, lt=JS_SAFE_LIMIT)]
"""A non-negative count (bytes, sequence numbers)."""

HexId = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
"""16 random bytes as 32 lowercase hex characters (request and event ids)."""

Nonce = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{22}$"), AfterValidator(_canonical_b64url)]
"""16 random bytes, unpadded base64url."""

Sig = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{43}$"), AfterValidator(_canonical_b64url)]
"""An HMAC-SHA256 tag (32 bytes), unpadded base64url."""

# The upper bound is max_length, not a {38,16384} repetition in the pattern: the Rust regex
# engine unrolls a bounded repetition into one state per step, which cost 6.4 MB of resident
# memory in every process that imports the protocol (a camera's goal is 50 MB in all).
Sealed = Annotated[
    str,
    Field(pattern=r"^[A-Za-z0-9_-]{38,}$", max_length=16384),
    AfterValidator(_canonical_b64url),
]
"""``nonce12 || ciphertext || tag16``, unpadded base64url (at least 28 bytes, at most 16384
characters)."""

Token = Annotated[str, Field(pattern=r"^[\x21-\x7e]+$")]
"""Printable ASCII without spaces (credential parts, endpoints); length bounded per field."""

Text = Annotated[str, Field(pattern=r"^[^\x00-\x1f\x7f]*$")]
"""Free text without control characters; length bounded per field."""

BucketName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")]
"""An OSS bucket name: 3-63 of lowercase letters, digits and hyphens."""

RegionId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
"""A region id such as ``cn-hangzhou``."""

KeyPrefix = Annotated[
    str,
    Field(pattern=r"^([A-Za-z0-9_.=+@,;~!()'-]{1,255}/)+$", max_length=512),
    AfterValidator(_key_prefix),
]
"""An object-key prefix: ASCII segments each ending in ``/``; no wildcards, ``$``, ``.``/``..``."""

ObjectKey = Annotated[
    str, Field(pattern=r"^[^\x00-\x1f\x7f]+$", max_length=1023), AfterValidator(_object_key)
]
"""An OSS object key: 1-1023 UTF-8 bytes, no control characters, no leading ``/``, no dot steps."""

Crc64 = Annotated[
    int,
    PlainValidator(_crc64),
    PlainSerializer(str, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": _CRC64_PATTERN,
            "description": "CRC-64/ECMA-182 as used by OSS, as a decimal string (0 <= n < 2**64)",
        }
    ),
]
"""CRC-64 of an object; an int in Python, a decimal string on the wire."""
