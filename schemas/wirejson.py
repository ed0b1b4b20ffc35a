"""Hardened JSON for the wire: size-checked before parsing, bounded, unambiguous.

Loading refuses, before or while parsing: payloads over :data:`MAX_PAYLOAD_BYTES`, invalid
UTF-8 (and a byte-order mark), nesting deeper than :data:`MAX_JSON_DEPTH`, ``NaN`` and
``Infinity``, any non-integer number (protocol v1 has none), integers longer than 20 digits,
duplicate object keys, strings holding lone surrogates, and a top level that is not an
object. Dumping is compact and deterministic (field order as given, no spaces, UTF-8).
"""

from __future__ import annotations

import json
import re
from typing import Any

from schemas.errors import InvalidMessage, PayloadTooLarge

MAX_PAYLOAD_BYTES = 16384
"""Largest payload accepted or produced on any topic, in bytes."""

MAX_JSON_DEPTH = 8
"""Deepest nesting of objects and arrays accepted (protocol v1 needs 2)."""

_MAX_INT_DIGITS = 20
_STRING_RE = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET_RE = re.compile(r"[\[\]{}]")


class _Reject(Exception):
    """Raised from inside json hooks; turned into InvalidMessage at the boundary."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise _Reject("duplicate object key")
        obj[key] = value
    return obj


def _no_constant(name: str) -> Any:
    raise _Reject(f"{name} is not allowed")


def _no_float(text: str) -> Any:
    raise _Reject("non-integer numbers are not allowed")


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        raise _Reject(f"integers are limited to {_MAX_INT_DIGITS} digits")
    return int(text)


def _too_deep(text: str) -> bool:
    # Fast path: nesting can never exceed the number of opening brackets.
    if text.count("{") + text.count("[") <= MAX_JSON_DEPTH:
        return False
    depth = 0
    for match in _BRACKET_RE.finditer(_STRING_RE.sub("", text)):
        if match.group() in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return True
        else:
            depth -= 1
    return False


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        if value.isascii():
            return False
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


def check_size(payload: bytes) -> None:
    """Refuse a payload over :data:`MAX_PAYLOAD_BYTES` without looking inside it.

    Raises:
        PayloadTooLarge: the payload is too large.
    """
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise PayloadTooLarge(len(payload), MAX_PAYLOAD_BYTES)


def load_object(payload: bytes) -> dict[str, Any]:
    """Parse a wire payload into a JSON object, with every hardening rule applied.

    Args:
        payload: the raw bytes (``bytes``, ``bytearray`` or ``memoryview``).

    Returns:
        The top-level object as a dict.

    Raises:
        PayloadTooLarge: over :data:`MAX_PAYLOAD_BYTES` (checked first, before decoding).
        InvalidMessage: anything else wrong with the JSON.
    """
    if not isinstance(payload, bytes | bytearray | memoryview):
        raise InvalidMessage("payload must be bytes")
    raw = bytes(payload)
    check_size(raw)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidMessage("payload is not valid UTF-8") from None
    if _too_deep(text):
        raise InvalidMessage(f"JSON nesting deeper than {MAX_JSON_DEPTH}")
    try:
        obj = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_constant=_no_constant,
            parse_float=_no_float,
            parse_int=_bounded_int,
        )
    except _Reject as exc:
        raise InvalidMessage(f"invalid JSON: {exc}") from None
    except (ValueError, RecursionError):
        raise InvalidMessage("payload is not valid JSON") from None
    if not isinstance(obj, dict):
        raise InvalidMessage("payload must be a JSON object")
    if _has_lone_surrogate(obj):
        raise InvalidMessage("JSON strings must not contain lone surrogates")
    return obj


def dump(obj: dict[str, Any]) -> bytes:
    """Serialise a JSON-ready object compactly and deterministically as UTF-8.

    Args:
        obj: a dict of JSON-compatible values, in the field order to emit.

    Returns:
        The payload bytes.

    Raises:
        PayloadTooLarge: the result is over :data:`MAX_PAYLOAD_BYTES`.
    """
    data = json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode(
        "utf-8"
    )
    check_size(data)
    return data
