"""Cutting an H.264 Annex B byte stream (a file, a pipe) into access units.

:class:`~device.hls.stream.HlsStream` takes one picture per ``write``. An encoder that
hands over pictures one at a time needs nothing from here; a raw ``.h264`` file or an
encoder writing to a pipe gives one long byte stream, and :class:`AccessUnitSplitter`
finds the picture boundaries in it with the rules of H.264 section 7.4.1.2.3, restricted
to what cameras produce:

- an access unit delimiter (9) always starts a new access unit;
- SPS (7), PPS (8), SEI (6) and NAL types 14 to 18 start one when the current access unit
  already holds a slice;
- a slice (1 or 5) starts one when the current access unit already holds a slice and the
  new slice's ``first_mb_in_slice`` is 0 (its first payload bit is 1).

Streams with arbitrary slice order or redundant pictures are not supported.
"""

from __future__ import annotations

from collections.abc import Iterator

from device.hls.h264 import NAL_AUD, NAL_IDR, NAL_SLICE, join_annexb, nal_type

__all__ = ["AccessUnitSplitter", "split_access_units"]

_START = b"\x00\x00\x01"
_PREFIX_TYPES = frozenset({6, 7, 8, 14, 15, 16, 17, 18})
_VCL_TYPES = frozenset({NAL_SLICE, NAL_IDR})


class AccessUnitSplitter:
    """Incremental splitter: feed bytes as they arrive, take whole access units out.

    An access unit is only known to be complete when the next one starts, so the last one
    comes out of :meth:`finish`. NAL units before the first slice that never get one are
    dropped.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._scan_from = 0
        self._started = False
        self._current: list[bytes] = []
        self._has_slice = False

    def feed(self, data: bytes) -> list[bytes]:
        """Add bytes; return the access units completed by them (Annex B, 4-byte codes)."""
        self._buffer += data
        out: list[bytes] = []
        if not self._started:
            first = self._buffer.find(_START)
            if first < 0:
                # Keep at most two bytes: they may begin a start code.
                del self._buffer[: max(0, len(self._buffer) - 2)]
                return out
            del self._buffer[: first + 3]
            self._started = True
            self._scan_from = 0
        while True:
            nxt = self._buffer.find(_START, self._scan_from)
            if nxt < 0:
                self._scan_from = max(0, len(self._buffer) - 2)
                return out
            nal = bytes(self._buffer[:nxt]).rstrip(b"\x00")
            del self._buffer[: nxt + 3]
            self._scan_from = 0
            if nal:
                unit = self._add(nal)
                if unit is not None:
                    out.append(unit)

    def finish(self) -> list[bytes]:
        """End of stream: return the access units still held (those with a slice)."""
        out: list[bytes] = []
        if self._started:
            nal = bytes(self._buffer).rstrip(b"\x00")
            self._buffer.clear()
            if nal:
                unit = self._add(nal)
                if unit is not None:
                    out.append(unit)
        if self._has_slice:
            out.append(self._take())
        self._current = []
        return out

    def _add(self, nal: bytes) -> bytes | None:
        kind = nal_type(nal)
        if kind == NAL_AUD:
            starts = bool(self._current)
        elif kind in _PREFIX_TYPES:
            starts = self._has_slice
        else:
            # A slice with first_mb_in_slice == 0 begins the next picture.
            first_slice = kind in _VCL_TYPES and len(nal) > 1 and bool(nal[1] & 0x80)
            starts = self._has_slice and first_slice
        done = None
        if starts:
            done = self._take() if self._has_slice else None
            if done is None:
                self._current = []
        self._current.append(nal)
        if kind in _VCL_TYPES:
            self._has_slice = True
        return done

    def _take(self) -> bytes:
        unit = join_annexb(self._current)
        self._current = []
        self._has_slice = False
        return unit


def split_access_units(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Yield the access units of an Annex B stream given in arbitrary pieces."""
    splitter = AccessUnitSplitter()
    for data in chunks:
        yield from splitter.feed(data)
    yield from splitter.finish()
