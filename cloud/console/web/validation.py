"""Checks on everything a request carries, before it reaches an operation.

Each function takes the raw text from a path, query or form and returns a typed value or
raises :class:`~cloud.console.errors.InvalidInputError` (answered with 400). Object keys
never come from a request: operators name recordings by id, and the key is looked up in
the ledger, so a key with ``..`` or an absolute path cannot be smuggled in.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping

from cloud.console.cursors import MAX_CURSOR_CHARS, CursorCodec
from cloud.console.errors import InvalidInputError
from cloud.console.retention import MAX_DAYS
from schemas.ids import is_device_id

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "MAX_QUERY_PARAMS",
    "cameras_cursor",
    "check_query",
    "device_id",
    "key_id",
    "optional_days",
    "page_limit",
    "recording_id",
    "recordings_cursor",
    "utc_day",
]

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_QUERY_PARAMS = 8
_MAX_PARAM_CHARS = 600
_RECORDING_ID = re.compile(r"[0-9a-f]{32}", re.ASCII)
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_INT = re.compile(r"[0-9]{1,6}", re.ASCII)
_MIN_DAY = dt.date(2000, 1, 1)
_MAX_DAY = dt.date(2200, 12, 31)


def check_query(params: Mapping[str, str], allowed: frozenset[str]) -> None:
    """Refuse unknown, repeated-too-often or oversized query parameters.

    Raises:
        InvalidInputError: a parameter is not one of ``allowed`` or is too long.
    """
    if len(params) > MAX_QUERY_PARAMS:
        raise InvalidInputError("query", "too many parameters")
    for name, value in params.items():
        if name not in allowed:
            raise InvalidInputError("query", "unknown parameter")
        if len(value) > _MAX_PARAM_CHARS:
            raise InvalidInputError(name, "too long")


def device_id(value: str | None, field: str = "device_id") -> str:
    """A device id (``^[A-Za-z0-9][A-Za-z0-9_-]{1,31}$``).

    Raises:
        InvalidInputError: anything else.
    """
    if value is None or not is_device_id(value):
        raise InvalidInputError(field, "must be 2-32 of A-Z a-z 0-9 _ - starting alphanumeric")
    return value


def key_id(value: str | None) -> str:
    """An HLS content key id (32 lowercase hex characters).

    Raises:
        InvalidInputError: anything else.
    """
    if value is None or _RECORDING_ID.fullmatch(value) is None:
        raise InvalidInputError("key_id", "must be 32 lowercase hex characters")
    return value


def recording_id(value: str | None) -> str:
    """A recording id (32 lowercase hex characters).

    Raises:
        InvalidInputError: anything else.
    """
    if value is None or _RECORDING_ID.fullmatch(value) is None:
        raise InvalidInputError("recording_id", "must be 32 lowercase hex characters")
    return value


def page_limit(value: str | None) -> int:
    """A page size between 1 and :data:`MAX_LIMIT` (default :data:`DEFAULT_LIMIT`).

    Raises:
        InvalidInputError: not an integer in range.
    """
    if value is None or value == "":
        return DEFAULT_LIMIT
    if _INT.fullmatch(value) is None or not 1 <= int(value) <= MAX_LIMIT:
        raise InvalidInputError("limit", f"must be an integer from 1 to {MAX_LIMIT}")
    return int(value)


def utc_day(value: str | None, *, today: dt.date) -> dt.date:
    """A UTC date ``YYYY-MM-DD`` (default ``today``).

    Raises:
        InvalidInputError: malformed or outside 2000-2200.
    """
    if value is None or value == "":
        return today
    if _DAY.fullmatch(value) is None:
        raise InvalidInputError("day", "must be YYYY-MM-DD")
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInputError("day", "not a calendar date") from None
    if not _MIN_DAY <= day <= _MAX_DAY:
        raise InvalidInputError("day", "out of range")
    return day


_TIME_OF_DAY = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?", re.ASCII)


def time_of_day_ms(value: str | None, field: str) -> int:
    """A UTC time of day ``HH:MM`` or ``HH:MM:SS``, as milliseconds after midnight.

    Raises:
        InvalidInputError: missing or malformed.
    """
    if value is None or _TIME_OF_DAY.fullmatch(value) is None:
        raise InvalidInputError(field, "must be HH:MM or HH:MM:SS")
    parts = [int(p) for p in value.split(":")] + [0]
    return ((parts[0] * 60 + parts[1]) * 60 + parts[2]) * 1000


def optional_days(value: str | None, field: str = "days") -> int | None:
    """Retention days from a form: empty means "no setting".

    Raises:
        InvalidInputError: not an integer from 1 to :data:`~cloud.console.retention.MAX_DAYS`.
    """
    if value is None or value.strip() == "":
        return None
    text = value.strip()
    if _INT.fullmatch(text) is None or not 1 <= int(text) <= MAX_DAYS:
        raise InvalidInputError(field, f"must be a whole number of days from 1 to {MAX_DAYS}")
    return int(text)


def cameras_cursor(codec: CursorCodec, value: str | None) -> str | None:
    """Position in the camera listing, from an opaque cursor.

    Raises:
        InvalidInputError: not a cursor of this listing.
    """
    if not value:
        return None
    position = codec.decode("cameras", value[: MAX_CURSOR_CHARS + 1])
    if len(position) != 1 or not isinstance(position[0], str):
        raise InvalidInputError("cursor", "not a cursor from this listing")
    return position[0]


def recordings_cursor(codec: CursorCodec, scope: str, value: str | None) -> tuple[int, str] | None:
    """Position in a recording listing, from an opaque cursor.

    Raises:
        InvalidInputError: not a cursor of this listing.
    """
    if not value:
        return None
    position = codec.decode(scope, value[: MAX_CURSOR_CHARS + 1])
    if len(position) != 2 or not isinstance(position[0], int) or not isinstance(position[1], str):
        raise InvalidInputError("cursor", "not a cursor from this listing")
    return position[0], position[1]
