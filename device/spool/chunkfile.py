"""The on-disk format of one spool chunk.

A chunk file is a fixed header followed by the data::

    magic "OSMC" | version u8 | flags u8 | reserved u16 | seq u64 | wall_ms u64
    | length u32 | crc64 u64 | header crc32 u32 | data (length bytes)

All integers are big-endian. The header CRC-32 covers the fields before it; the CRC-64
(the same CRC OSS uses) covers the data. A chunk whose header, length or CRC does not
check out is never uploaded.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from device.crc64 import crc64

__all__ = [
    "FLAG_INIT_SEGMENT",
    "FLAG_SEGMENT_START",
    "FLAG_WHOLE_OBJECT",
    "HEADER_SIZE",
    "Chunk",
    "ChunkFormatError",
    "decode_chunk",
    "encode_chunk",
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
    """

    seq: int
    wall_ms: int
    data: bytes
    crc64: int
    flags: int = 0

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


def encode_chunk(seq: int, wall_ms: int, data: bytes, flags: int = 0) -> tuple[bytes, int]:
    """Return the file bytes of a chunk and the CRC-64 of its data."""
    checksum = crc64(data)
    fields = _FIELDS.pack(_MAGIC, _VERSION, flags, 0, seq, wall_ms, len(data), checksum)
    return fields + _HEADER_CRC.pack(zlib.crc32(fields)) + data, checksum


def decode_chunk(raw: bytes) -> Chunk:
    """Parse and check a chunk file.

    Raises:
        ChunkFormatError: bad magic, version, header CRC, length or data CRC.
    """
    if len(raw) < HEADER_SIZE:
        raise ChunkFormatError(f"truncated header ({len(raw)} bytes)")
    fields = raw[: _FIELDS.size]
    (header_crc,) = _HEADER_CRC.unpack_from(raw, _FIELDS.size)
    if zlib.crc32(fields) != header_crc:
        raise ChunkFormatError("header checksum mismatch")
    magic, version, flags, _, seq, wall_ms, length, checksum = _FIELDS.unpack(fields)
    if magic != _MAGIC or version != _VERSION:
        raise ChunkFormatError("not a spool chunk")
    data = raw[HEADER_SIZE:]
    if len(data) != length:
        raise ChunkFormatError(f"data is {len(data)} bytes, header says {length}")
    if crc64(data) != checksum:
        raise ChunkFormatError("data checksum mismatch")
    return Chunk(seq=seq, wall_ms=wall_ms, data=data, crc64=checksum, flags=flags)
