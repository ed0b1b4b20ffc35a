"""Conditional GET/HEAD: If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since.

Checked in the order HTTP prescribes: a failed If-Match or If-Unmodified-Since is 412
PreconditionFailed; a matching If-None-Match or an object not modified since the given date is
304 Not Modified. Dates that do not parse are ignored, as HTTP servers do.
"""

from __future__ import annotations

from collections.abc import Mapping
from email.utils import parsedate_to_datetime

from simulator.oss.errors import NotModified, PreconditionFailed
from simulator.oss.records import ObjectRecord


def check_preconditions(headers: Mapping[str, str], record: ObjectRecord) -> None:
    """Raise if the conditional headers of a GET/HEAD exclude serving ``record``.

    Raises:
        PreconditionFailed: If-Match does not match, or the object changed after If-Unmodified-Since.
        NotModified: If-None-Match matches, or the object did not change after If-Modified-Since.
    """
    if_match = headers.get("if-match")
    if if_match is not None and not _etag_matches(if_match, record.etag):
        raise PreconditionFailed("If-Match")
    unmodified = _timestamp(headers.get("if-unmodified-since"))
    if if_match is None and unmodified is not None and record.mtime > unmodified:
        raise PreconditionFailed("If-Unmodified-Since")
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        if _etag_matches(if_none_match, record.etag):
            raise NotModified(record.etag)
        return
    modified = _timestamp(headers.get("if-modified-since"))
    if modified is not None and record.mtime <= modified:
        raise NotModified(record.etag)


def _etag_matches(header: str, etag: str) -> bool:
    candidates = [item.strip().removeprefix("W/").strip('"') for item in header.split(",")]
    return "*" in candidates or etag in candidates


def _timestamp(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
