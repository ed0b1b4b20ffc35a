"""One virtual camera: the real :class:`device.agent.agent.Agent` fed by a logging source.

The source paces bytes at the camera's bitrate and logs every piece it hands to the recorder
as an integrity :class:`~simulator.fleet.integrity.Chunk`, so the end-of-run audit can account
for every produced byte. The bytes are a deterministic synthetic stream, or a pre-encoded
video clip replayed in a loop (encoding once saves CPU across a fleet); both can be
regenerated from any offset, so a camera process killed mid-run resumes from the source mark
its spool committed and logs the bytes before it again (the audit then covers the whole
recording, whichever process produced each byte). The camera's base clock can be skewed from a given moment on: that is how the ``clock_skew`` step reaches the
device through its own clock seam.
"""

from __future__ import annotations

import functools
import hashlib
import random
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from device.clock import SystemClock
from device.recorder import Piece
from device.resume import resume_offset
from device.spool import SourceMark
from simulator.fleet.integrity import Chunk

__all__ = [
    "ChunkLog",
    "LoggingSource",
    "PieceBytes",
    "SkewPlan",
    "SkewedClock",
    "StopSignal",
    "piece_bytes",
]


class StopSignal(Protocol):
    """What ends a recording early: a :class:`threading.Event`, or a
    ``multiprocessing`` event set by the parent of a camera process."""

    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


@dataclass(frozen=True)
class SkewPlan:
    """From ``at_s`` seconds into the run on, the camera's clock is ``offset_s`` off."""

    at_s: float
    offset_s: float


class SkewedClock(SystemClock):
    """The system clock, with wall time moved by a planned offset once its moment has come.

    Args:
        plans: when and by how much the wall clock goes wrong (latest applicable wins).
        start_mono: the run's start on the monotonic clock.
    """

    def __init__(self, plans: Sequence[SkewPlan], start_mono: float) -> None:
        self._plans = sorted(plans, key=lambda p: p.at_s)
        self._start = start_mono

    def wall_ms(self) -> int:
        """Return the system wall time plus the offset in force."""
        elapsed = time.monotonic() - self._start
        offset = 0.0
        for plan in self._plans:
            if elapsed >= plan.at_s:
                offset = plan.offset_s
        return super().wall_ms() + int(offset * 1000)


class PieceBytes:
    """Deterministic synthetic bytes, a whole piece at a time, at memory-copy speed.

    Every piece opens with a 32-byte tag, the SHA-256 of the camera, the run's seed and the
    piece's number, so no two pieces of a run are alike, a piece stored in the wrong place or
    under the wrong camera fails the audit, and a run repeats exactly. The rest of the piece
    is a slice of a random pool shared by the run's cameras, starting at an offset the tag
    picks. Drawing each piece from a seeded generator instead (``random.randbytes``, about
    250 MB/s) cost a fleet of 1,500 cameras at 256 kbit/s an eighth of its camera processes.

    Args:
        camera_id: the camera.
        seed: the run's seed.
    """

    POOL_BYTES = 1 << 20
    TAG_BYTES = 32

    def __init__(self, camera_id: str, seed: int) -> None:
        self._prefix = f"{camera_id}/{seed}/".encode()
        self._pool = _pool(seed)
        self._count = 0

    def seek(self, count: int) -> None:
        """Make piece number ``count`` the next one read."""
        self._count = count

    def read(self, size: int) -> bytes:
        """Return the next piece, ``size`` bytes long."""
        data = _piece(self._prefix, self._pool, self._count, size)
        self._count += 1
        return data


def piece_bytes(camera_id: str, seed: int, number: int, size: int) -> bytes:
    """Piece ``number`` (from 0) of a camera's synthetic stream, as :class:`PieceBytes`
    produced it: the audit rebuilds a damaged piece to count its damage to the byte."""
    return _piece(f"{camera_id}/{seed}/".encode(), _pool(seed), number, size)


def _piece(prefix: bytes, pool: bytes, number: int, size: int) -> bytes:
    tag = hashlib.sha256(prefix + str(number).encode()).digest()
    if size <= PieceBytes.TAG_BYTES:
        return tag[:size]
    parts = [tag]
    offset = int.from_bytes(tag[:4], "big") % PieceBytes.POOL_BYTES
    need = size - PieceBytes.TAG_BYTES
    while need > 0:
        part = pool[offset : offset + need]
        parts.append(part)
        need -= len(part)
        offset = 0
    return b"".join(parts)


@functools.cache
def _pool(seed: int) -> bytes:
    return random.Random(seed).randbytes(PieceBytes.POOL_BYTES)  # noqa: S311 - test data


class ChunkLog:
    """The producer's log of one camera (thread-safe append, read at the end)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._chunks: list[Chunk] = []
        self.produced_bytes = 0

    def add(self, data: bytes) -> None:
        """Log one piece handed to the recorder."""
        with self._lock:
            self._chunks.append(Chunk.of(len(self._chunks), data))
            self.produced_bytes += len(data)

    def chunks(self) -> list[Chunk]:
        """Every chunk logged so far, in order."""
        with self._lock:
            return list(self._chunks)


class LoggingSource:
    """A paced recording source that logs what it produces.

    Args:
        camera_id: seeds the synthetic bytes.
        seed: run seed.
        bitrate_bps: production rate.
        chunk_bytes: size of each piece.
        duration_s: produce for this long, then end (the camera then drains).
        log: where each piece is logged.
        clip: replay these bytes in a loop instead of synthetic ones.
        stream: take the bytes from this iterator instead (a live encoder: each item, such as
            one fMP4 fragment, becomes one piece); it ends the recording when exhausted. A
            stream cannot resume.
        resume: the mark the camera's spool committed before its process was killed; the
            recording continues after it (and the bytes before it are logged again).
    """

    def __init__(
        self,
        camera_id: str,
        *,
        seed: int,
        bitrate_bps: int,
        chunk_bytes: int,
        duration_s: float,
        log: ChunkLog,
        clip: bytes | None = None,
        stream: Iterator[bytes] | None = None,
        end: StopSignal | None = None,
        piece_interval_s: float | None = None,
        resume: SourceMark | None = None,
    ) -> None:
        self._interval = piece_interval_s
        self._stream = stream
        self._end: StopSignal = end or threading.Event()
        self._synthetic = PieceBytes(camera_id, seed)
        self._rate = bitrate_bps / 8.0
        self._chunk = chunk_bytes
        self._duration = duration_s
        self._log = log
        self._clip = clip
        self._clip_pos = 0
        self._here = SourceMark(
            kind="fleet",
            identity=f"{camera_id}/{seed}/{chunk_bytes}/{'clip' if clip else 'synthetic'}",
            offset=0,
        )
        self._resumed = 0
        if stream is None:
            decision = resume_offset(resume, self._here, size=None, what=f"camera {camera_id}")
            self._resumed = decision.offset
            self.resume_note = decision.note
            self.source_changed = decision.changed

    def _replay(self, offset: int) -> None:
        # Log what the killed process produced (every piece but a last short one is
        # ``chunk_bytes`` long) and leave the generator where it stopped.
        whole, rest = divmod(offset, self._chunk)
        for _ in range(whole):
            self._log.add(self._next(self._chunk))
        if rest:  # log the head of the piece it was in, then go back to the piece's start
            self._log.add(self._next(self._chunk)[:rest])
            self._synthetic.seek(whole)
            if self._clip:
                self._clip_pos = (self._clip_pos - self._chunk) % len(self._clip)

    def _next(self, size: int) -> bytes:
        if not self._clip:
            return self._synthetic.read(size)
        out = bytearray()
        while len(out) < size:
            take = self._clip[self._clip_pos : self._clip_pos + size - len(out)]
            out += take
            self._clip_pos = (self._clip_pos + len(take)) % len(self._clip)
        return bytes(out)

    def pieces(self, stop: threading.Event) -> Iterator[Piece]:
        """Yield pieces at the bitrate until the duration has passed or ``stop`` is set."""
        if self._stream is not None:
            yield from self._stream_pieces(stop)
            return
        sent = self._resumed
        self._replay(sent)
        start = time.monotonic() - sent / self._rate  # the recording continues in real time
        while not stop.is_set() and not self._end.is_set():
            elapsed = time.monotonic() - start
            if elapsed >= self._duration:
                break
            due = min(self._duration, start + (sent + self._chunk) / self._rate - start)
            wait = start + due - time.monotonic()
            if wait > 0 and (stop.wait(wait) or self._end.is_set()):
                break
            size = self._chunk
            if due >= self._duration:
                size = max(0, int(self._duration * self._rate) - sent)
            if size <= 0:
                break
            head = sent % self._chunk  # resumed inside a piece: its head is already spooled
            size = min(size, self._chunk - head)
            data = self._next(head + size)[head:]  # a shorter read is a prefix of a longer
            self._log.add(data)
            sent += size
            yield Piece(data, mark=self._here.model_copy(update={"offset": sent}))
        yield Piece(b"", end_of_segment=True)

    def _stream_pieces(self, stop: threading.Event) -> Iterator[Piece]:
        assert self._stream is not None  # noqa: S101 - only called with a stream
        start = time.monotonic()
        sent = 0
        for count, data in enumerate(self._stream):
            if stop.is_set() or self._end.is_set() or time.monotonic() - start >= self._duration:
                break
            self._log.add(data)
            yield Piece(data)
            sent += len(data)
            # Release the encoder's output in real time: one fragment (a GOP) per interval,
            # or, without one, no faster than the bitrate.
            due = sent / self._rate if self._interval is None else count * self._interval
            wait = start + due - time.monotonic()
            if wait > 0 and stop.wait(min(wait, self._duration)):
                break
        yield Piece(b"", end_of_segment=True)
