"""Clips: one playable file cut from a camera's stored recordings over a time range.

For fragmented MP4 the clip is the init segment followed by every fragment that overlaps the
range, cut at fragment boundaries and never re-encoded; it may span several objects of the
camera, closed or still growing (fragment indexes as in :mod:`cloud.console.live`). For HLS
recordings it is the MPEG-TS segments that overlap the range, concatenated. The clip is
built from stored bytes only: adjacent fragments are read with one ranged GET per object,
and where the clip holds an object whole its CRC-64 is checked against the ledger before any
byte is handed out.

:meth:`Clips.build` writes the clip to a file-like sink while hashing it, so its length and
SHA-256 are known before it is sent.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import BinaryIO

import oss2.utils

from cloud.console.errors import ConflictError, ConsoleError, NotFoundError, StorageError
from cloud.console.hls import MAX_PLAYLIST_BYTES, is_hls_key, resolve_segment
from cloud.console.ledger import Ledger, Recording
from cloud.console.live import IndexState, LiveRecordings
from cloud.console.settings import OssSettings
from cloud.console.storage import ObjectStore
from schemas.liblzma import load_crc64

__all__ = ["ClipError", "ClipPlan", "Clips", "NoMediaError", "Piece"]

MAX_OBJECTS = 1000
LOOK_BACK_MS = 3_600_000  # how far back the object a stream continues from is looked for
READ_BYTES = 4 << 20  # one ranged GET reads at most this much
READ_AHEAD = 4  # ranged GETs in flight while a clip is built
MAX_SEGMENT_BYTES = 256 << 20

_FAST_CRC64 = load_crc64()


def _crc64(data: bytes, previous: int) -> int:
    """CRC-64 of ``data`` continued from ``previous``: liblzma's (GB/s), else oss2's."""
    if _FAST_CRC64 is not None:
        return _FAST_CRC64(data, previous)
    crc = oss2.utils.Crc64(previous)
    crc.update(data)
    return int(crc.crc)


class NoMediaError(NotFoundError):
    """Nothing stored overlaps the range (HTTP 404)."""


class ClipError(ConsoleError):
    """Stored bytes do not match what the ledger says (HTTP 502).

    Attributes:
        object_key: the object.
        reason: what differs.
    """

    def __init__(self, object_key: str, reason: str) -> None:
        super().__init__(f"clip source {object_key}: {reason}")
        self.object_key = object_key
        self.reason = reason


@dataclass(frozen=True)
class Piece:
    """A byte range of one object that goes into the clip.

    Attributes:
        key: the object.
        offset: first byte.
        length: number of bytes, or -1 for the whole (small) object.
    """

    key: str
    offset: int
    length: int


@dataclass(frozen=True)
class ClipPlan:
    """What a clip is made of.

    Attributes:
        media_type: ``video/mp4`` or ``video/mp2t``.
        pieces: the ranges, in order.
        whole: objects the clip holds entirely, with the CRC-64 the ledger has for them.
        start_ms: time of the first fragment or segment.
        end_ms: end of the last one.
    """

    media_type: str
    pieces: tuple[Piece, ...]
    whole: dict[str, int]
    start_ms: int
    end_ms: int

    @property
    def suffix(self) -> str:
        """File name suffix."""
        return ".mp4" if self.media_type == "video/mp4" else ".ts"


@dataclass(frozen=True)
class _Source:
    key: str
    start_ms: int
    size: int
    crc64: int | None  # None while the object still grows


def _merged(pieces: list[Piece]) -> list[Piece]:
    out: list[Piece] = []
    for piece in pieces:
        last = out[-1] if out else None
        if (
            last is not None
            and last.key == piece.key
            and last.length >= 0
            and last.offset + last.length == piece.offset
        ):
            out[-1] = Piece(last.key, last.offset, last.length + piece.length)
        else:
            out.append(piece)
    return out


class Clips:
    """Plan and build clips.

    Args:
        ledger: closed recordings.
        live: recordings in progress and fragment indexes.
        objects: the bucket, with the console's own credentials.
        oss: bucket layout (each camera's prefix, for HLS segment URIs).
        clock: wall clock in seconds.
    """

    def __init__(
        self,
        ledger: Ledger,
        live: LiveRecordings,
        objects: ObjectStore,
        oss: OssSettings,
        *,
        clock: Callable[[], float],
    ) -> None:
        self._ledger = ledger
        self._live = live
        self._objects = objects
        self._oss = oss
        self._clock = clock

    def _sources(self, device_id: str, from_ms: int, to_ms: int) -> list[_Source]:
        page = self._ledger.list_recordings(
            device_id, from_ms=from_ms, to_ms=to_ms, after=None, limit=MAX_OBJECTS
        )
        sources = [self._closed(r) for r in page.items]
        live = self._live.in_progress(device_id)
        if (
            live is not None
            and live.facts.start_ms < to_ms
            and all(s.key != live.facts.object_key for s in sources)
        ):
            sources.append(_Source(live.facts.object_key, live.facts.start_ms, live.size, None))
        return sorted(sources, key=lambda s: s.start_ms)

    @staticmethod
    def _closed(recording: Recording) -> _Source:
        f = recording.facts
        return _Source(f.object_key, f.start_ms, f.size, f.crc64)

    def plan(self, device_id: str, from_ms: int, to_ms: int) -> ClipPlan:
        """Choose what goes into the clip of ``[from_ms, to_ms)``.

        Raises:
            NoMediaError: nothing stored overlaps the range.
            ConflictError: the range mixes HLS and MP4 recordings, or HLS is encrypted.
            StorageError: OSS could not be read.
        """
        sources = self._sources(device_id, from_ms, to_ms)
        if not sources:
            raise NoMediaError(f"no recordings of {device_id} in that range")
        kinds = {is_hls_key(s.key) for s in sources}
        if len(kinds) > 1:
            raise ConflictError("the range holds both HLS and MP4 recordings; pick one kind")
        if kinds == {True}:
            return self._plan_hls(device_id, sources, from_ms, to_ms)
        return self._plan_mp4(device_id, sources, from_ms, to_ms)

    def _before(self, device_id: str, source: _Source) -> tuple[str | None, Piece | None]:
        """The camera's object before ``source`` and its init segment: a stream rolled over
        into a new object goes on without one."""
        page = self._ledger.list_recordings(
            device_id,
            from_ms=source.start_ms - LOOK_BACK_MS,
            to_ms=source.start_ms,
            after=None,
            limit=MAX_OBJECTS,
        )
        earlier = [r for r in page.items if r.facts.start_ms < source.start_ms]
        if not earlier:
            return None, None
        last = self._closed(earlier[-1])
        state = self._live.index_object(last.key, last.size)
        init = Piece(last.key, 0, state.init_size) if state and state.init_size else None
        return last.key, init

    def _plan_mp4(
        self, device_id: str, sources: list[_Source], from_ms: int, to_ms: int
    ) -> ClipPlan:
        pieces: list[Piece] = []
        whole: dict[str, int] = {}
        previous, borrowed = self._before(device_id, sources[0])
        init: Piece | None = None
        first_ms, last_ms = math.inf, -math.inf
        for source in sources:
            state = self._live.index_object(source.key, source.size, previous_key=previous)
            previous = source.key
            if state is None or not state.fragments:
                continue
            chosen = self._fragments(state, source, from_ms, to_ms)
            if init is None:
                init = Piece(source.key, 0, state.init_size) if state.init_size else borrowed
            for piece, start, end in chosen:
                pieces.append(piece)
                first_ms, last_ms = min(first_ms, start), max(last_ms, end)
            # Every byte of the object is in the clip: its init segment (if it has one) is the
            # clip's, and its chosen fragments make up the rest of it.
            own_init = state.init_size if init is not None and init.key == source.key else 0
            holds_all = own_init + sum(p.length for p, _, _ in chosen) == source.size
            if holds_all and source.crc64 is not None:
                whole[source.key] = source.crc64
        if init is None or not pieces:
            raise NoMediaError("no complete fragment with an init segment in that range")
        return ClipPlan(
            "video/mp4",
            tuple(_merged([init, *pieces])),
            whole,
            int(first_ms),
            int(last_ms),
        )

    @staticmethod
    def _fragments(
        state: IndexState, source: _Source, from_ms: int, to_ms: int
    ) -> list[tuple[Piece, int, int]]:
        chosen = []
        base = state.fragments[0].decode_time
        for fragment in state.fragments:
            start = source.start_ms + (fragment.decode_time - base) * 1000 // state.timescale
            end = start + fragment.duration * 1000 // state.timescale
            if end > from_ms and start < to_ms:
                chosen.append((Piece(source.key, fragment.offset, fragment.size), start, end))
        return chosen

    def _plan_hls(
        self, device_id: str, sources: list[_Source], from_ms: int, to_ms: int
    ) -> ClipPlan:
        pieces: list[Piece] = []
        first_ms, last_ms = math.inf, -math.inf
        prefix = self._oss.device_prefix(device_id)
        for source in sources:
            data = self._objects.get(source.key, MAX_PLAYLIST_BYTES)
            if data is None:
                raise StorageError("get", object_key=source.key, code="NoSuchKey", status=404)
            position = float(source.start_ms)
            duration = 0.0
            for raw in data.decode("utf-8", errors="replace").splitlines():
                line = raw.strip()
                if line.startswith("#EXT-X-KEY:") and "METHOD=NONE" not in line:
                    raise ConflictError("clips of encrypted HLS recordings are not offered")
                if line.startswith("#EXTINF:"):
                    duration = float(line[8:].split(",")[0] or 0)
                elif line and not line.startswith("#"):
                    segment = resolve_segment(source.key, line, prefix)
                    if segment is None:
                        raise ClipError(source.key, "segment outside the camera's prefix")
                    start, end = position, position + duration * 1000
                    if end > from_ms and start < to_ms:
                        pieces.append(Piece(segment, 0, -1))
                        first_ms, last_ms = min(first_ms, start), max(last_ms, end)
                    position = end
        if not pieces:
            raise NoMediaError("no HLS segment in that range")
        return ClipPlan("video/mp2t", tuple(pieces), {}, int(first_ms), int(last_ms))

    def build(self, plan: ClipPlan, sink: BinaryIO) -> tuple[int, str]:
        """Write the clip to ``sink``.

        Up to :data:`READ_AHEAD` ranged reads are in flight while earlier blocks are hashed
        and written, in order, so the network and the hashing overlap.

        Returns:
            Its length and lowercase hex SHA-256.

        Raises:
            ClipError: an object the clip holds whole does not match the ledger's CRC-64.
            StorageError: OSS could not be read.
        """
        digest = hashlib.sha256()
        crcs = dict.fromkeys(plan.whole, 0)
        total = 0
        blocks = [
            (piece, offset, length) for piece in plan.pieces for offset, length in _blocks(piece)
        ]
        with ThreadPoolExecutor(READ_AHEAD, thread_name_prefix="clip-read") as pool:
            pending: deque[Future[bytes]] = deque()
            ahead = iter(blocks)
            for piece, offset, length in itertools.islice(ahead, READ_AHEAD):
                pending.append(pool.submit(self._read, piece, offset, length))
            for piece, _, _ in blocks:
                block = pending.popleft().result()
                for next_piece, offset, length in itertools.islice(ahead, 1):
                    pending.append(pool.submit(self._read, next_piece, offset, length))
                digest.update(block)
                if piece.key in crcs:
                    crcs[piece.key] = _crc64(block, crcs[piece.key])
                sink.write(block)
                total += len(block)
        for key, expected in plan.whole.items():
            if crcs[key] != expected:
                raise ClipError(key, "stored bytes differ from the ledger's CRC-64")
        return total, digest.hexdigest()

    def _read(self, piece: Piece, offset: int, length: int) -> bytes:
        if piece.length < 0:
            data = self._objects.get(piece.key, MAX_SEGMENT_BYTES)
            if data is None:
                raise StorageError("get", object_key=piece.key, code="NoSuchKey", status=404)
            return data
        return self._objects.get_range(piece.key, offset, length)


def _blocks(piece: Piece) -> list[tuple[int, int]]:
    if piece.length < 0:
        return [(0, -1)]  # a whole (small) object, read in one GET
    end = piece.offset + piece.length
    return [(at, min(READ_BYTES, end - at)) for at in range(piece.offset, end, READ_BYTES)]
