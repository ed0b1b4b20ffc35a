"""Bucket-name and object-key rules (checked once, where a name enters the emulator)."""

from __future__ import annotations

import re

from simulator.oss.errors import InvalidBucketName, InvalidObjectName

_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")

MAX_KEY_BYTES = 1023


def check_bucket_name(name: str) -> str:
    """Return ``name`` if it is a valid OSS bucket name.

    OSS bucket names are 3-63 characters of lowercase letters, digits and hyphens, starting
    and ending with a letter or digit.

    Raises:
        InvalidBucketName: otherwise.
    """
    if _BUCKET_RE.match(name) is None:
        raise InvalidBucketName(name)
    return name


def check_object_key(key: str) -> str:
    """Return ``key`` if OSS accepts it as an object name.

    Real OSS takes any UTF-8 name of 1-1023 bytes that does not start with ``/`` or ``\\``,
    control characters included (``specified-char-\\x01\\x07``); such keys are listed legibly
    only with ``encoding-type=url``, which oss2 always asks for. Keys reach here decoded from
    strict UTF-8, so they hold no lone surrogates.

    Raises:
        InvalidObjectName: otherwise.
    """
    if not key:
        raise InvalidObjectName("the name is empty")
    if key[0] in "/\\":
        raise InvalidObjectName("the name must not start with '/' or '\\'")
    if len(key) > MAX_KEY_BYTES // 4 and len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise InvalidObjectName(f"the name is longer than {MAX_KEY_BYTES} bytes")
    return key
