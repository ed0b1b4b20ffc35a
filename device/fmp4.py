"""Fragmented MP4 (ISO BMFF) files split into their initialisation and media parts.

An encoder writing fMP4 segments puts the initialisation segment (``ftyp`` + ``moov``:
codec parameters, track ids, time scales) either in a file of its own (ffmpeg's HLS muxer:
``init.mp4``) or at the head of every segment. A player needs it once, before the first
fragment, so every stored object must begin with it, and a concatenation of segments must
not repeat it. :func:`split_fmp4` tells the two parts apart by the top-level boxes:

* ``ftyp`` and ``moov`` are the initialisation part;
* ``styp``, ``moof``, ``mdat``, ``emsg``, ``prft``, ``free`` and ``skip`` are media;
* ``sidx`` and ``mfra`` index byte offsets inside the one file they came in, which are
  wrong once segments are concatenated, so they are left out.

Anything that is not a well-formed sequence of boxes (MPEG-TS, for one) is returned
unchanged as media.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

__all__ = ["Fmp4Parts", "split_fmp4"]

_INIT = frozenset({b"ftyp", b"moov"})
_MEDIA = frozenset({b"styp", b"moof", b"mdat", b"emsg", b"prft", b"free", b"skip"})
_DROPPED = frozenset({b"sidx", b"mfra"})
_HEADER = struct.Struct(">I4s")
_LARGE = struct.Struct(">Q")


@dataclass(frozen=True)
class Fmp4Parts:
    """A file's bytes split in two.

    Attributes:
        init: the initialisation segment (``ftyp`` + ``moov``), or ``b""`` when the file
            has none (a media segment, or not ISO BMFF at all).
        media: what follows the initialisation segment in a stored object.
    """

    init: bytes
    media: bytes


def _boxes(data: bytes) -> list[tuple[bytes, int, int]] | None:
    boxes = []
    offset = 0
    while offset < len(data):
        if offset + _HEADER.size > len(data):
            return None
        size, kind = _HEADER.unpack_from(data, offset)
        if size == 1:
            if offset + 16 > len(data):
                return None
            (size,) = _LARGE.unpack_from(data, offset + 8)
        elif size == 0:
            size = len(data) - offset
        if size < _HEADER.size or offset + size > len(data):
            return None
        if kind not in _INIT | _MEDIA | _DROPPED:
            return None
        boxes.append((kind, offset, offset + size))
        offset += size
    return boxes


def split_fmp4(data: bytes) -> Fmp4Parts:
    """Split a file into its initialisation and media parts (see the module docstring).

    Args:
        data: a whole segment file.

    Returns:
        The parts; ``init`` is empty and ``media`` is ``data`` unchanged for anything that
        is not fragmented MP4.
    """
    boxes = _boxes(data)
    if not boxes or not any(kind in _INIT or kind in (b"moof", b"styp") for kind, _, _ in boxes):
        return Fmp4Parts(b"", data)
    init = b"".join(data[start:end] for kind, start, end in boxes if kind in _INIT)
    media = b"".join(data[start:end] for kind, start, end in boxes if kind in _MEDIA)
    return Fmp4Parts(init, media)
