"""Fragment index of a growing fragmented MP4, built from ranged reads of what is new.

An appendable object written from fragmented MP4 is ``ftyp`` + ``moov`` (the init segment)
followed by ``moof`` + ``mdat`` pairs (one fragment per key frame). :func:`scan` walks the
top-level boxes from where the previous scan stopped, reading each ``moof`` whole but only
the header of each ``mdat``, so a live object is never downloaded again and most of its
media bytes are never read by the console at all. A fragment is offered only once its
``mdat`` is entirely stored: a torn final fragment (a camera that crashed mid-append, or an
append still in flight) stays out of the index until the object holds all of it.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from cloud.console.errors import ConsoleError

__all__ = ["Fragment", "IndexState", "MediaFormatError", "Reader", "scan"]

Reader = Callable[[int, int], bytes]
"""``read(offset, length)``: that many bytes of the object from ``offset`` (ranged GET)."""

_HEADER = 16  # enough for a box header with a 64-bit size
_MAX_MOOF = 8 << 20
_MAX_MOOV = 8 << 20
_KNOWN = frozenset({b"ftyp", b"moov", b"moof", b"mdat", b"styp", b"sidx", b"free", b"skip",
                    b"uuid", b"prft", b"emsg", b"mfra"})  # fmt: skip


class MediaFormatError(ConsoleError):
    """The object is not fragmented MP4 the console can index (HTTP 502).

    Attributes:
        offset: where the scan found what it could not read.
        reason: what is wrong.
    """

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(f"fragmented MP4 at byte {offset}: {reason}")
        self.offset = offset
        self.reason = reason


@dataclass(frozen=True)
class Fragment:
    """One complete ``moof`` + ``mdat`` pair.

    Attributes:
        offset: first byte of the ``moof``.
        size: bytes up to the end of the ``mdat``.
        decode_time: the fragment's base media decode time, in ``timescale`` units.
        duration: its length in ``timescale`` units.
    """

    offset: int
    size: int
    decode_time: int
    duration: int


@dataclass
class IndexState:
    """What a scan knows about one object; :func:`scan` continues from it.

    Attributes:
        init_size: length of the init segment (``ftyp`` + ``moov``), 0 until it is stored.
        timescale: the video track's timescale, from ``mdhd``.
        default_duration: per-sample duration from ``trex``, when the fragments leave it out.
        scanned_to: every byte before this offset is accounted for.
        pending_moof: a ``moof`` read whose ``mdat`` is not yet complete (offset, end of moof,
            decode time, duration), so it is not read again.
        fragments: the complete fragments, in order.
    """

    init_size: int = 0
    timescale: int = 0
    default_duration: int = 0
    scanned_to: int = 0
    pending_moof: tuple[int, int, int, int] | None = None
    fragments: list[Fragment] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        """Length of the indexed fragments in seconds."""
        if not self.timescale:
            return 0.0
        return sum(f.duration for f in self.fragments) / self.timescale


def _box_header(data: bytes, offset: int) -> tuple[int, bytes, int]:
    size, kind = struct.unpack_from(">I4s", data, 0)
    header = 8
    if size == 1:
        if len(data) < 16:
            raise MediaFormatError(offset, "short 64-bit box header")
        (size,) = struct.unpack_from(">Q", data, 8)
        header = 16
    if size == 0:
        raise MediaFormatError(offset, "box without a length")
    if size < header or kind not in _KNOWN:
        raise MediaFormatError(offset, f"not a top-level MP4 box ({kind!r})")
    return size, kind, header


def _children(data: bytes) -> dict[bytes, list[bytes]]:
    found: dict[bytes, list[bytes]] = {}
    position = 0
    while position + 8 <= len(data):
        size, kind = struct.unpack_from(">I4s", data, position)
        header = 8
        if size == 1 and position + 16 <= len(data):
            (size,) = struct.unpack_from(">Q", data, position + 8)
            header = 16
        if size < header or position + size > len(data):
            break
        found.setdefault(kind, []).append(data[position + header : position + size])
        position += size
    return found


def _first(data: bytes, *path: bytes) -> bytes | None:
    for kind in path:
        boxes = _children(data).get(kind)
        if not boxes:
            return None
        data = boxes[0]
    return data


def _read_moov(state: IndexState, body: bytes) -> None:
    mdhd = _first(body, b"trak", b"mdia", b"mdhd")
    if mdhd is None or len(mdhd) < 24:
        raise MediaFormatError(0, "init segment without a track timescale")
    version = mdhd[0]
    state.timescale = struct.unpack_from(">I", mdhd, 20 if version == 1 else 12)[0]
    trex = _first(body, b"mvex", b"trex")
    if trex is not None and len(trex) >= 24:
        state.default_duration = struct.unpack_from(">I", trex, 12)[0]
    if not state.timescale:
        raise MediaFormatError(0, "track timescale 0")


def _read_moof(state: IndexState, body: bytes, offset: int) -> tuple[int, int]:
    traf = _first(body, b"traf")
    if traf is None:
        raise MediaFormatError(offset, "fragment without a track")
    boxes = _children(traf)
    default = state.default_duration
    tfhd = boxes.get(b"tfhd", [b""])[0]
    if len(tfhd) >= 8:
        flags = int.from_bytes(tfhd[1:4], "big")
        position = 8 + (8 if flags & 0x01 else 0) + (4 if flags & 0x02 else 0)
        if flags & 0x08 and len(tfhd) >= position + 4:
            default = struct.unpack_from(">I", tfhd, position)[0]
    decode_time = 0
    tfdt = boxes.get(b"tfdt", [b""])[0]
    if len(tfdt) >= 8:
        fmt = ">Q" if tfdt[0] == 1 else ">I"
        decode_time = struct.unpack_from(fmt, tfdt, 4)[0]
    duration = 0
    for trun in boxes.get(b"trun", []):
        flags = int.from_bytes(trun[1:4], "big")
        (count,) = struct.unpack_from(">I", trun, 4)
        position = 8 + (4 if flags & 0x01 else 0) + (4 if flags & 0x04 else 0)
        fields = [bit for bit in (0x100, 0x200, 0x400, 0x800) if flags & bit]
        if flags & 0x100:
            step = 4 * len(fields)
            if len(trun) < position + count * step:
                raise MediaFormatError(offset, "truncated sample table")
            duration += sum(
                struct.unpack_from(">I", trun, position + i * step)[0] for i in range(count)
            )
        else:
            duration += count * default
    return decode_time, duration


def _body(read: Reader, offset: int, box_size: int, header: int, head: bytes) -> bytes:
    # The header read already holds the body's first bytes: read only the rest.
    have = head[:box_size]
    return have[header:] + read(offset + len(have), box_size - len(have))


def scan(state: IndexState, size: int, read: Reader) -> bool:
    """Index what the object holds beyond ``state.scanned_to``; ``state`` is updated.

    Args:
        state: the index so far (start with a fresh :class:`IndexState`).
        size: the object's current length (from a HEAD).
        read: ranged reader of the object.

    Returns:
        Whether new fragments (or the init segment) were indexed.

    Raises:
        MediaFormatError: the bytes are not fragmented MP4.
        StorageError: a read failed (the state is left as it was before that read).
    """
    changed = False
    while state.scanned_to + 8 <= size:
        offset = state.scanned_to
        if state.pending_moof is not None:
            moof_offset, moof_end, decode_time, duration = state.pending_moof
            if moof_end + 8 > size:
                return changed
            head = read(moof_end, min(_HEADER, size - moof_end))
            box_size, kind, _ = _box_header(head, moof_end)
            if kind != b"mdat":
                raise MediaFormatError(moof_end, "fragment without media data")
            if moof_end + box_size > size:
                return changed  # torn or still arriving: not offered yet
            end = moof_end + box_size
            state.fragments.append(Fragment(moof_offset, end - moof_offset, decode_time, duration))
            state.pending_moof = None
            state.scanned_to = end
            changed = True
            continue
        head = read(offset, min(_HEADER, size - offset))
        box_size, kind, header = _box_header(head, offset)
        end = offset + box_size
        if kind == b"moof":
            if box_size > _MAX_MOOF:
                raise MediaFormatError(offset, "fragment header too large")
            if end + 8 > size:
                return changed
            if not state.timescale:
                raise MediaFormatError(offset, "fragment before the init segment")
            body = _body(read, offset, box_size, header, head)
            decode_time, duration = _read_moof(state, body, offset)
            state.pending_moof = (offset, end, decode_time, duration)
            continue
        if end > size:
            return changed
        if kind == b"moov":
            if box_size > _MAX_MOOV:
                raise MediaFormatError(offset, "init segment too large")
            _read_moov(state, _body(read, offset, box_size, header, head))
            state.init_size = end
            changed = True
        elif kind == b"mdat":
            raise MediaFormatError(offset, "media data without a fragment header")
        state.scanned_to = end
    return changed
