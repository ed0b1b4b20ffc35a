"""Listing a bucket: one page of keys and common prefixes, and V2 continuation tokens.

Keys are kept sorted by code point, which for valid UTF-8 is the byte order OSS lists in.
``max_keys`` counts contents and common prefixes together. A page ends with the last entry it
returned (a key or a common prefix) as its marker; the next page starts after it, and common
prefixes that sort at or before the marker are not repeated.
"""

from __future__ import annotations

import base64
import binascii
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from simulator.oss.errors import InvalidArgument
from simulator.oss.records import ObjectRecord

_TOKEN_TAG = b"ossemu1:"
# Sorts after every character a key can hold: bisecting with it skips a whole prefix.
_MAX_CHAR = "\U0010ffff"


@dataclass(frozen=True, slots=True)
class ListPage:
    """One page of a listing.

    Attributes:
        contents: objects on this page, in key order.
        prefixes: common prefixes on this page, in order.
        truncated: whether more entries follow.
        next_marker: the last entry returned (the marker of the next page) when truncated.
    """

    contents: list[ObjectRecord]
    prefixes: list[str]
    truncated: bool
    next_marker: str | None


def list_page(
    keys: Sequence[str],
    objects: Mapping[str, ObjectRecord],
    *,
    prefix: str,
    delimiter: str,
    after: str,
    max_keys: int,
) -> ListPage:
    """Compute one page of a listing.

    Args:
        keys: all keys of the bucket, sorted.
        objects: key -> record.
        prefix: only keys starting with it.
        delimiter: group keys by the part up to the first delimiter after the prefix ("" = no grouping).
        after: list only entries sorting after this marker ("" = from the start).
        max_keys: the most entries (contents + prefixes) to return (>= 1).

    Returns:
        The page.
    """
    start = bisect_left(keys, prefix)
    if after:
        start = max(start, bisect_right(keys, after))
    contents: list[ObjectRecord] = []
    prefixes: list[str] = []
    count = 0
    last: str | None = None
    i = start
    n = len(keys)
    while i < n:
        key = keys[i]
        if not key.startswith(prefix):
            break
        if delimiter:
            cut = key.find(delimiter, len(prefix))
            if cut >= 0:
                common = key[: cut + len(delimiter)]
                if not (after and common <= after):
                    if count == max_keys:
                        return ListPage(contents, prefixes, True, last)
                    prefixes.append(common)
                    count += 1
                    last = common
                i = bisect_right(keys, common + _MAX_CHAR, i)
                while i < n and keys[i].startswith(common):
                    i += 1
                continue
        if count == max_keys:
            return ListPage(contents, prefixes, True, last)
        contents.append(objects[key])
        count += 1
        last = key
        i += 1
    return ListPage(contents, prefixes, False, None)


def encode_token(marker: str) -> str:
    """Wrap a marker into an opaque V2 continuation token."""
    return base64.urlsafe_b64encode(_TOKEN_TAG + marker.encode("utf-8", "surrogatepass")).decode(
        "ascii"
    )


def decode_token(token: str) -> str:
    """Unwrap a continuation token made by :func:`encode_token`.

    Raises:
        InvalidArgument: the token was not made by this emulator.
    """
    try:
        raw = base64.urlsafe_b64decode(token.encode("ascii"))
        if not raw.startswith(_TOKEN_TAG):
            raise ValueError(token)
        return raw[len(_TOKEN_TAG) :].decode("utf-8")
    except (ValueError, UnicodeError, binascii.Error):
        raise InvalidArgument(
            "The continuation token provided is incorrect.", name="continuation-token", value=token
        ) from None
