"""In-memory object bytes: an append-only chunk list, and readers over it.

Appending to one growing ``bytearray`` copies the whole object every time the array is
reallocated, which for a long video segment costs more than the append itself. A
:class:`ChunkedBuffer` keeps the (immutable) bodies of appends as they arrived, so an append is
O(1) and never copies; small appends are gathered into a tail that is frozen once it is large
enough, so the chunk list stays short. Bytes already stored never change, so a reader that
stops at the size it was opened for sees a consistent object while appends continue.
"""

from __future__ import annotations

from bisect import bisect_right

_SMALL = 16 * 1024
_TAIL_LIMIT = 256 * 1024


class ChunkedBuffer:
    """Append-only bytes made of chunks."""

    __slots__ = ("_chunks", "_size", "_starts", "_tail")

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._starts: list[int] = []
        self._tail = bytearray()
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def append(self, data: bytes) -> None:
        """Add ``data`` at the end."""
        if len(data) < _SMALL:
            self._tail += data
            self._size += len(data)
            if len(self._tail) >= _TAIL_LIMIT:
                self._freeze_tail()
            return
        self._freeze_tail()
        if data:
            self._starts.append(self._size)
            self._chunks.append(bytes(data))
            self._size += len(data)

    def _freeze_tail(self) -> None:
        if self._tail:
            start = self._size - len(self._tail)
            self._starts.append(start)
            self._chunks.append(bytes(self._tail))
            self._tail = bytearray()

    def read(self, offset: int, length: int) -> bytes:
        """Return up to ``length`` bytes from ``offset``."""
        end = min(offset + length, self._size)
        if offset >= end:
            return b""
        tail_start = self._size - len(self._tail)
        parts: list[bytes] = []
        position = offset
        i = bisect_right(self._starts, position) - 1
        while position < min(end, tail_start) and i < len(self._chunks):
            chunk, start = self._chunks[i], self._starts[i]
            piece_end = min(end, start + len(chunk))
            parts.append(chunk[position - start : piece_end - start])
            position = piece_end
            i += 1
        if position < end:
            parts.append(bytes(self._tail[position - tail_start : end - tail_start]))
        return parts[0] if len(parts) == 1 else b"".join(parts)


class BufferReader:
    """Reads an in-memory object (bytes of a Normal object, or a chunked appendable one)."""

    __slots__ = ("_buf",)

    def __init__(self, buf: bytes | ChunkedBuffer) -> None:
        self._buf: bytes | ChunkedBuffer = buf

    def read(self, offset: int, length: int) -> bytes:
        """Return up to ``length`` bytes from ``offset``."""
        if isinstance(self._buf, bytes):
            return self._buf[offset : offset + length]
        return self._buf.read(offset, length)

    def close(self) -> None:
        """Drop the reference."""
        self._buf = b""
