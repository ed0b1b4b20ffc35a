"""``SourceMark``: where in its source the recording stands, committed with the chunks.

Every chunk the recorder spools from a resumable source carries the mark of the source
position just after its last byte, inside the same chunk file (so it becomes durable in the
same rename that queues the chunk: there is no moment at which the chunk is queued and the
position is not, or the reverse). When the uploader journals the chunk as stored, the
journal takes over its mark, so the position survives the chunk's removal from the queue.
After a restart the newest mark (the last queued chunk's, else the journal's) says where the
source continues; a source that no longer matches its mark's identity is recorded as new.

The mark is opaque to the spool: ``kind`` and ``identity`` are compared for equality only,
``offset`` counts bytes of the named source consumed so far.
"""

from __future__ import annotations

import zlib

from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = ["MarkFormatError", "SourceMark", "decode_mark", "encode_mark"]

_CRC_BYTES = 4


class MarkFormatError(ValueError):
    """A stored mark is torn or corrupted."""


class SourceMark(BaseModel):
    """A position in a recording source.

    Attributes:
        kind: the source kind (``file``, ``directory``, ``pattern``).
        identity: what makes the source the same one (a file's device, inode, size, mtime
            and head hash; a pattern's seed); an empty string never matches.
        name: the segment file within a directory source (``None`` for other kinds).
        offset: bytes of the source (or of the named segment file) already spooled.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str = Field(min_length=1, max_length=32)
    identity: str = Field(max_length=512)
    name: str | None = Field(default=None, max_length=1024)
    offset: int = Field(ge=0)

    def back(self, count: int) -> SourceMark:
        """The mark ``count`` bytes earlier (a chunk that ends inside a piece)."""
        if count == 0:
            return self
        return self.model_copy(update={"offset": self.offset - count})

    def same_source(self, other: SourceMark) -> bool:
        """Whether ``other`` marks the same source (and, for a directory, the same file)."""
        return (
            bool(self.identity)
            and self.kind == other.kind
            and self.identity == other.identity
            and self.name == other.name
        )


def encode_mark(mark: SourceMark) -> bytes:
    """The stored form: compact JSON followed by its CRC-32 (big-endian)."""
    body = mark.model_dump_json().encode()
    return body + zlib.crc32(body).to_bytes(_CRC_BYTES, "big")


def decode_mark(raw: bytes) -> SourceMark:
    """Parse and check a stored mark.

    Raises:
        MarkFormatError: the CRC does not match or the content is not a mark.
    """
    body, crc = raw[:-_CRC_BYTES], raw[-_CRC_BYTES:]
    if len(raw) <= _CRC_BYTES or zlib.crc32(body) != int.from_bytes(crc, "big"):
        raise MarkFormatError("source mark checksum mismatch")
    try:
        return SourceMark.model_validate_json(body)
    except ValidationError:
        raise MarkFormatError("source mark is not valid") from None
