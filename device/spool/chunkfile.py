"""The on-disk format of one spool chunk.

A chunk file is a fixed header followed by the data::

    magic "OSMC" | version u8 | flags u8 | mark length u16 | seq u64 | wall_ms u64
    | length u32 | crc64 u64 | header crc32 u32 | data (length bytes)
    | source mark (mark length bytes, :mod:`device.spool.mark`)

All integers are big-endian. The header CRC-32 covers the fields before it; the CRC-64
(the same CRC OSS uses) covers the data; the source mark ends with its own CRC-32. A chunk
whose header, length or CRCs do not check out is never uploaded. A mark length of 0 means
the chunk carries no source mark (a source that cannot resume, such as stdin).
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from device.crc64 import crc64
from device.spool.mark import MarkFormatError, SourceMark, decode_mark, encode_mark

__all__ = [
    "FLAG_INIT_SEGMENT",
    "FLAG_SEGMENT_START",
    "FLAG_WHOLE_OBJECT",
    "HEADER_SIZE",
    "Chunk",
    "ChunkFormatError",
    "chunk_parts",
    "decode_chunk",
    "decode_mark_trailer",
    "encode_chunk",
    "header_fields",
    "read_chunk",
]

_MAGIC = b"OSMC"
_VERSION = 1
_FIELDS = struct.Struct(">4sBBHQQIQ")
_HEADER_CRC = struct.Struct(">I")
HEADER_SIZE = _FIELDS.size + _HEADER_CRC.size
# The chunk holds a whole-object put (:mod:`device.spool.objectput`), not bytes to append.
FLAG_WHOLE_OBJECT = 0x01
# The chunk is an initialisation segment (fMP4 ``ftyp`` + ``moov``): not appended where it
# falls, but put at the head of every object opened after it.
FLAG_INIT_SEGMENT = 0x02
# The chunk's first byte begins a segment (a file of a directory source): an object that
# needs an initialisation segment is only rolled over here.
FLAG_SEGMENT_START = 0x04


class ChunkFormatError(ValueError):
    """A chunk file is torn, truncated or corrupted."""


@dataclass(frozen=True)
class Chunk:
    """One spooled piece of the recording.

    Attributes:
        seq: position in the queue (strictly increasing, never reused).
        wall_ms: capture time of the chunk's first byte (device wall clock).
        data: the recorded bytes.
        crc64: CRC-64 of ``data``.
        flags: markers; :data:`FLAG_WHOLE_OBJECT` says the data is a whole-object put.
        mark: the source position just after the chunk's last byte, if the source has one.
    """

    seq: int
    wall_ms: int
    data: bytes
    crc64: int
    flags: int = 0
    mark: SourceMark | None = None

    @property
    def size(self) -> int:
        """Length of the data in bytes."""
        return len(self.data)

    @property
    def whole_object(self) -> bool:
        """Whether the chunk is a whole-object put rather than bytes to append."""
        return bool(self.flags & FLAG_WHOLE_OBJECT)

    @property
    def init_segment(self) -> bool:
        """Whether the chunk is an initialisation segment for the objects after it."""
        return bool(self.flags & FLAG_INIT_SEGMENT)

    @property
    def segment_start(self) -> bool:
        """Whether the chunk begins a segment."""
        return bool(self.flags & FLAG_SEGMENT_START)


def encode_chunk(
    seq: int, wall_ms: int, data: bytes, flags: int = 0, mark: SourceMark | None = None
) -> tuple[bytes, int]:
    """Return the file bytes of a chunk and the CRC-64 of its data."""
    parts, checksum = chunk_parts(seq, wall_ms, data, flags, mark)
    return b"".join(parts), checksum


def chunk_parts(
    seq: int,
    wall_ms: int,
    data: bytes | bytearray,
    flags: int = 0,
    mark: SourceMark | None = None,
) -> tuple[tuple[bytes, bytes | bytearray, bytes], int]:
    """Return a chunk file as ``(header, data, mark)``, and the CRC-64 of its data.

    Written one after the other they make the bytes :func:`encode_chunk` returns, without
    a second copy of the data in memory.
    """
    checksum = crc64(data)
    trailer = b"" if mark is None else encode_mark(mark)
    fields = _FIELDS.pack(_MAGIC, _VERSION, flags, len(trailer), seq, wall_ms, len(data), checksum)
    return (fields + _HEADER_CRC.pack(zlib.crc32(fields)), data, trailer), checksum


def header_fields(raw: bytes) -> tuple[int, int, int, int]:
    """Return ``(wall_ms, flags, data length, mark length)`` of a chunk header, unchecked.

    Only for rebuilding the spool's index; the full checks run when the chunk is read.
    """
    if len(raw) < HEADER_SIZE:
        return 0, 0, 0, 0
    _, _, flags, mark_len, _, wall_ms, length, _ = _FIELDS.unpack_from(raw)
    return wall_ms, flags, length, mark_len


def decode_mark_trailer(raw: bytes) -> SourceMark:
    """Parse a chunk's source mark read on its own (see :func:`header_fields`).

    Raises:
        ChunkFormatError: the mark is torn or corrupted.
    """
    try:
        return decode_mark(raw)
    except MarkFormatError as exc:
        raise ChunkFormatError(str(exc)) from None


def decode_chunk(raw: bytes) -> Chunk:
    """Parse and check a chunk file.

    Raises:
        ChunkFormatError: bad magic, version, header CRC, length or data CRC.
    """
    head = _check_header(raw[:HEADER_SIZE], len(raw))
    data = raw[HEADER_SIZE : HEADER_SIZE + head.length]
    trailer = raw[HEADER_SIZE + head.length :]
    return _finish(head, data, trailer)


def read_chunk(path: Path) -> Chunk:
    """Read and check the chunk file at ``path``, as :func:`decode_chunk` does.

    The header, the data and the mark are read on their own, so the data is held in memory
    once (decoding the whole file would hold it twice while it is sliced out).

    Raises:
        ChunkFormatError: as :func:`decode_chunk`.
        OSError: the file cannot be read.
    """
    with path.open("rb") as fh:
        head = _check_header(fh.read(HEADER_SIZE), os.fstat(fh.fileno()).st_size)
        data = fh.read(head.length)
        trailer = fh.read(head.mark_len)
    if len(data) != head.length or len(trailer) != head.mark_len:
        raise ChunkFormatError("chunk file shrank while it was read")
    return _finish(head, data, trailer)


@dataclass(frozen=True, slots=True)
class _Header:
    seq: int
    wall_ms: int
    flags: int
    length: int
    mark_len: int
    checksum: int


def _check_header(raw: bytes, file_size: int) -> _Header:
    if len(raw) < HEADER_SIZE:
        raise ChunkFormatError(f"truncated header ({len(raw)} bytes)")
    fields = raw[: _FIELDS.size]
    (header_crc,) = _HEADER_CRC.unpack_from(raw, _FIELDS.size)
    if zlib.crc32(fields) != header_crc:
        raise ChunkFormatError("header checksum mismatch")
    magic, version, flags, mark_len, seq, wall_ms, length, checksum = _FIELDS.unpack(fields)
    if magic != _MAGIC or version != _VERSION:
        raise ChunkFormatError("not a spool chunk")
    if file_size - HEADER_SIZE != length + mark_len:
        raise ChunkFormatError(
            f"chunk is {file_size - HEADER_SIZE} bytes, header says {length} + {mark_len}"
        )
    return _Header(
        seq=seq, wall_ms=wall_ms, flags=flags, length=length, mark_len=mark_len, checksum=checksum
    )


def _finish(head: _Header, data: bytes, trailer: bytes) -> Chunk:
    if crc64(data) != head.checksum:
        raise ChunkFormatError("data checksum mismatch")
    mark = decode_mark_trailer(trailer) if head.mark_len else None
    return Chunk(
        seq=head.seq,
        wall_ms=head.wall_ms,
        data=data,
        crc64=head.checksum,
        flags=head.flags,
        mark=mark,
    )
