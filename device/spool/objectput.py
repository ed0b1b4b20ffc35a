"""Whole-object puts in the spool: a fixed name, a content type and the object's bytes.

Most spool chunks are bytes to append to the current object. A chunk flagged
:data:`~device.spool.chunkfile.FLAG_WHOLE_OBJECT` instead carries one complete object (an
HLS segment or playlist) to be stored with ``PutObject`` under the device's granted prefix.
It is queued, made durable and uploaded exactly like any other chunk, in the same order, so
a playlist spooled after its segments can never reach the store before them.

The chunk's data is::

    name length u16 | name (UTF-8) | content type length u8 | content type (ASCII)
    | flags u8 | [start_ms u64 | end_ms u64, when flags has REPORT]
    | [start_ms u64, when flags has OPENED] | body

An entry with a :class:`Report` asks the uploader to announce the object with a signed
``segment.closed`` event once it is stored (a finished HLS playlist: the console lists
recordings from these events). An entry with ``opened_ms`` asks for a signed
``segment.opened`` event instead (the first live version of an HLS playlist: the console
shows the recording in progress and follows the playlist as it is rewritten).

The chunk's own CRC-64 covers all of it. The name is relative to the granted prefix, which
is only known once credentials arrive: the uploader adds it when it sends the put.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from device.spool.chunkfile import ChunkFormatError

__all__ = [
    "MAX_NAME_BYTES",
    "ObjectPut",
    "Report",
    "check_name",
    "decode_object_put",
    "encode_object_put",
]

MAX_NAME_BYTES = 1000  # OSS keys are at most 1023 bytes; leave room for the prefix.
_NAME_LEN = struct.Struct(">H")
_TYPE_LEN = struct.Struct(">B")
_FLAGS = struct.Struct(">B")
_SPAN = struct.Struct(">QQ")
_REPORT = 0x01
_OPENED = 0x02
_START = struct.Struct(">Q")


@dataclass(frozen=True)
class Report:
    """Announce the stored object with ``segment.closed``, covering this recording time.

    Attributes:
        start_ms: wall time of the recording's first frame.
        end_ms: wall time of its last frame.
    """

    start_ms: int
    end_ms: int


@dataclass(frozen=True)
class ObjectPut:
    """One whole object waiting in the spool.

    Attributes:
        name: the object key below the granted prefix (``front/S1/000042.ts``).
        data: the object's bytes.
        content_type: its ``Content-Type``.
        report: announce it with a ``segment.closed`` event once stored.
        opened_ms: announce it with a ``segment.opened`` event once stored, the recording
            having started at this wall time (never together with ``report``).
    """

    name: str
    data: bytes
    content_type: str
    report: Report | None = None
    opened_ms: int | None = None

    def __post_init__(self) -> None:
        check_name(self.name)
        if not self.content_type or len(self.content_type) > 255:
            raise ValueError("a content type is 1 to 255 characters")
        if not self.content_type.isascii() or not self.content_type.isprintable():
            raise ValueError("a content type is printable ASCII")
        if self.report is not None and not 0 <= self.report.start_ms <= self.report.end_ms:
            raise ValueError("a reported span needs 0 <= start_ms <= end_ms")
        if self.opened_ms is not None and (self.report is not None or self.opened_ms < 0):
            raise ValueError("an opened announcement is a start time >= 0 without a report")

    def __repr__(self) -> str:
        return (
            f"ObjectPut(name={self.name!r}, bytes={len(self.data)}, "
            f"type={self.content_type!r}, report={self.report is not None}, "
            f"opened={self.opened_ms is not None})"
        )


def check_name(name: str) -> None:
    """Refuse names that are not a clean relative object key.

    Raises:
        ValueError: empty, too long, absolute, with empty or dot segments, or with control
            characters.
    """
    raw = name.encode("utf-8")
    if not raw or len(raw) > MAX_NAME_BYTES:
        raise ValueError(f"an object name is 1 to {MAX_NAME_BYTES} bytes")
    if name.startswith("/") or "//" in name or "\\" in name or name.endswith("/"):
        raise ValueError(f"{name!r} is not a clean relative object key")
    if any(part in (".", "..") for part in name.split("/")):
        raise ValueError(f"{name!r} steps out of its folder")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name):
        raise ValueError(f"{name!r} contains control characters")


def encode_object_put(put: ObjectPut) -> bytes:
    """Return the chunk data that carries ``put``."""
    name = put.name.encode("utf-8")
    ctype = put.content_type.encode("ascii")
    head = _NAME_LEN.pack(len(name)) + name + _TYPE_LEN.pack(len(ctype)) + ctype
    if put.report is not None:
        span = _SPAN.pack(put.report.start_ms, put.report.end_ms)
        return head + _FLAGS.pack(_REPORT) + span + put.data
    if put.opened_ms is not None:
        return head + _FLAGS.pack(_OPENED) + _START.pack(put.opened_ms) + put.data
    return head + _FLAGS.pack(0) + put.data


def decode_object_put(data: bytes) -> ObjectPut:
    """Parse the data of a whole-object chunk.

    Raises:
        ChunkFormatError: the data is too short or its name or content type is invalid.
    """
    try:
        (name_len,) = _NAME_LEN.unpack_from(data, 0)
        at = _NAME_LEN.size + name_len
        (type_len,) = _TYPE_LEN.unpack_from(data, at)
        name = data[_NAME_LEN.size : at].decode("utf-8")
        start = at + _TYPE_LEN.size
        ctype = data[start : start + type_len].decode("ascii")
        if len(ctype) != type_len:
            raise ChunkFormatError("whole-object chunk is truncated")
        at = start + type_len
        (flags,) = _FLAGS.unpack_from(data, at)
        at += _FLAGS.size
        report = None
        if flags & _REPORT:
            start_ms, end_ms = _SPAN.unpack_from(data, at)
            at += _SPAN.size
            report = Report(start_ms, end_ms)
        opened_ms = None
        if flags & _OPENED:
            (opened_ms,) = _START.unpack_from(data, at)
            at += _START.size
        return ObjectPut(name, data[at:], ctype, report, opened_ms)
    except (struct.error, UnicodeDecodeError, ValueError) as exc:
        if isinstance(exc, ChunkFormatError):
            raise
        raise ChunkFormatError(f"not a whole-object chunk: {exc}") from None
