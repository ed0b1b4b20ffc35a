"""``Recorder``: reads a source and queues its bytes in the spool as chunks.

Sources yield :class:`Piece` objects. The recorder cuts the stream into chunks of
``chunk_bytes`` and also writes out a partly filled chunk when it has waited
``chunk_max_age_s`` (so a slow stream still reaches the store promptly), at the end of each
segment file and at the end of the source. Each chunk carries the wall time of its first
byte and, for a source that can resume, the source mark after its last byte, committed with
the chunk (:mod:`device.resume`), so a restarted camera continues where the spool stands:
no byte twice, none skipped. A full spool is handled by the spool's policy; a chunk it
rejects is counted there and the recording goes on.

Crash points (tests): ``source.spooled`` after a chunk and its source mark are durable and
before the source hears of it (a directory's segment file is still there),
``source.released`` after a source was told its bytes are spooled (the segment file removed).

Sources:

* :class:`FileSource` - one file, read as fast as possible or paced at a bitrate; resumes at
  the committed byte offset if the file is still the same one;
* :class:`StreamSource` - a binary stream such as stdin, read until end of file; it cannot
  resume (a restart records what the stream gives from then on);
* :class:`DirectorySource` - segment files in natural name order, each removed once spooled;
  a segment file spooled but not yet removed when the camera stopped is removed, not spooled
  again (one spooled in part continues);
* :class:`PatternSource` - generated, reproducible bytes at a bitrate
  (:func:`pattern_bytes` recomputes any stretch of them, to check what was stored); resumes
  at the committed offset of the same seed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from device.clock import Clock
from device.errors import SourceError, SpoolFull
from device.fmp4 import split_fmp4
from device.resume import NEW, file_identity, resume_offset, segment_identity
from device.segdir import SegmentScanner
from device.spool import (
    FLAG_INIT_SEGMENT,
    FLAG_SEGMENT_START,
    NO_CRASH,
    CrashPoints,
    SourceMark,
    Spool,
)

__all__ = [
    "DirectorySource",
    "FileSource",
    "PatternSource",
    "Piece",
    "Recorder",
    "Source",
    "StreamSource",
    "pattern_bytes",
]

log = logging.getLogger(__name__)

_READ_BYTES = 64 * 1024


@dataclass(frozen=True)
class Piece:
    """Bytes from a source.

    Attributes:
        data: the bytes (may be empty for a pure marker).
        end_of_segment: the bytes end a segment (a file); flush the chunk.
        on_spooled: called once every byte up to here is in the spool.
        mark: the source position just after the piece's last byte (``None``: the source
            cannot resume).
        init_segment: the bytes are an initialisation segment (fMP4 ``ftyp`` + ``moov``)
            that every stored object must begin with; spooled as a chunk of their own.
    """

    data: bytes
    end_of_segment: bool = False
    on_spooled: Callable[[], None] | None = None
    mark: SourceMark | None = None
    init_segment: bool = False


class Source(Protocol):
    """Something that produces the recording."""

    def pieces(self, stop: threading.Event) -> Iterator[Piece]:
        """Yield the recording until it ends or ``stop`` is set."""
        ...


class _Pacer:
    """Sleeps so that bytes are released no faster than ``bitrate_bps``."""

    def __init__(self, bitrate_bps: int, clock: Clock, stop: threading.Event) -> None:
        self._rate = bitrate_bps / 8.0
        self._clock = clock
        self._stop = stop
        self._start = clock.monotonic()
        self._sent = 0

    def account(self, size: int) -> None:
        if self._rate <= 0:
            return
        self._sent += size
        due = self._start + self._sent / self._rate
        delay = due - self._clock.monotonic()
        if delay > 0:
            self._stop.wait(delay)


class FileSource:
    """One file.

    Args:
        path: the file.
        clock: for pacing.
        bitrate_bps: pace reading at this rate (0: as fast as possible).
        resume: the committed mark; the same file continues after it.
    """

    def __init__(
        self, path: Path, clock: Clock, bitrate_bps: int = 0, *, resume: SourceMark | None = None
    ) -> None:
        self.path = path
        self._clock = clock
        self._bitrate = bitrate_bps
        self._resume = resume
        self.resume_note = NEW
        self.source_changed = False

    def pieces(self, stop: threading.Event) -> Iterator[Piece]:
        """Yield the file's bytes from the resume point on; the last piece ends the segment."""
        with self.path.open("rb") as fh:
            stat = os.fstat(fh.fileno())
            here = SourceMark(kind="file", identity=file_identity(fh, stat), offset=0)
            decision = resume_offset(
                self._resume, here, size=stat.st_size, what=f"source file {self.path}"
            )
            self.resume_note = decision.note
            self.source_changed = decision.changed
            fh.seek(decision.offset)
            offset = decision.offset
            pacer = _Pacer(self._bitrate, self._clock, stop)
            while not stop.is_set():
                data = fh.read1(_READ_BYTES)
                if not data:
                    break
                offset += len(data)
                yield Piece(data, mark=here.model_copy(update={"offset": offset}))
                pacer.account(len(data))
        yield Piece(b"", end_of_segment=True)


class StreamSource:
    """A binary stream (stdin, a pipe from an encoder).

    Args:
        stream: the stream.
        clock: for pacing.
        bitrate_bps: pace reading at this rate (0: as fast as the stream gives).
    """

    def __init__(self, stream: BinaryIO, clock: Clock, bitrate_bps: int = 0) -> None:
        self._stream = stream
        self._clock = clock
        self._bitrate = bitrate_bps
        self.resume_note = "cannot resume (a stream): recording what arrives from now on"
        self.source_changed = False

    def pieces(self, stop: threading.Event) -> Iterator[Piece]:
        """Yield what the stream gives until end of file."""
        pacer = _Pacer(self._bitrate, self._clock, stop)
        read = getattr(self._stream, "read1", self._stream.read)
        while not stop.is_set():
            data = read(_READ_BYTES)
            if not data:
                break
            yield Piece(bytes(data))
            pacer.account(len(data))
        yield Piece(b"", end_of_segment=True)


class DirectorySource:
    """Segment files in a directory, in natural name order; each is removed once spooled.

    Which files are complete is decided by :class:`device.segdir.SegmentScanner` (empty
    files never, temporary names never, a file once a later one exists or once unchanged
    for ``settle_s``). A fragmented MP4 initialisation segment, in a file of its own or at
    the head of each segment, is passed on as an init piece (once per distinct content),
    so the uploader can start every object with it; the mark of an fMP4 file counts the
    media bytes spooled from it. The source runs until stopped.

    Args:
        directory: where segment files appear.
        clock: for the settle time.
        settle_s: a non-empty file unchanged this long is complete.
        poll_s: how often to look for new files.
        resume: the committed mark: names the segment file being spooled when the camera
            stopped and how much of it is in the spool.
    """

    def __init__(
        self,
        directory: Path,
        clock: Clock,
        *,
        settle_s: float = 10.0,
        poll_s: float = 0.5,
        resume: SourceMark | None = None,
    ) -> None:
        self.directory = directory
        self._scanner = SegmentScanner(directory, clock, settle_s=settle_s)
        self._poll_s = poll_s
        self._init = b""
        self._resume = resume
        self.resume_note = NEW
        self.source_changed = False

    def pieces(self, stop: threading.Event) -> Iterator[Piece]:
        """Yield each complete file as one segment, removing it after it is spooled."""
        yield from self._resumed()
        while not stop.is_set():
            files = self._scanner.complete()
            for path in files:
                self._scanner.taken(path)
                yield from self._segment(path)
                if stop.is_set():
                    break
            if not files:
                stop.wait(self._poll_s)

    def _segment(self, path: Path, skip: int = 0) -> Iterator[Piece]:
        try:
            with path.open("rb") as fh:
                data = fh.read()
                stat = os.fstat(fh.fileno())
        except FileNotFoundError:
            return  # removed by someone else since it was listed
        parts = split_fmp4(data)
        if parts.init and parts.init != self._init:
            self._init = parts.init
            yield Piece(parts.init, init_segment=True)
        mark = SourceMark(
            kind="directory",
            identity=segment_identity(stat),
            name=path.name,
            offset=len(parts.media),
        )
        yield Piece(parts.media[skip:], end_of_segment=True, on_spooled=_remover(path), mark=mark)

    def _resumed(self) -> Iterator[Piece]:
        # The committed mark names at most one segment file that may still be here: the
        # one being spooled (or spooled, not yet removed) when the camera stopped.
        mark = self._resume
        if mark is None or mark.kind != "directory" or mark.name is None:
            return
        path = self.directory / mark.name
        try:
            stat = path.stat()
        except FileNotFoundError:
            self.resume_note = f"resumed after segment {mark.name}"
            return
        here = SourceMark(
            kind="directory", identity=segment_identity(stat), name=mark.name, offset=0
        )
        decision = resume_offset(mark, here, size=stat.st_size, what=f"segment file {path}")
        self.resume_note = decision.note
        self.source_changed = decision.changed
        if decision.changed:
            return  # listed again like any new file
        if decision.offset >= stat.st_size:
            log.info("segment file %s was spooled before the restart; removing it", path)
            _remover(path)()
            return
        yield from self._segment(path, skip=decision.offset)


def _remover(path: Path) -> Callable[[], None]:
    def remove() -> None:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("cannot remove spooled segment %s: %s", path, exc.strerror)

    return remove


_BLOCK = 64


def pattern_bytes(seed: int, offset: int, length: int) -> bytes:
    """Return bytes ``[offset, offset + length)`` of the test pattern for ``seed``.

    The pattern is BLAKE2b in counter mode: block ``i`` is ``blake2b(seed || i)``, so any
    stretch can be recomputed without generating what precedes it.
    """
    if length <= 0:
        return b""
    first, last = offset // _BLOCK, (offset + length - 1) // _BLOCK
    key = seed.to_bytes(8, "big", signed=False)
    blocks = b"".join(
        hashlib.blake2b(i.to_bytes(8, "big"), key=key, digest_size=_BLOCK).digest()
        for i in range(first, last + 1)
    )
    start = offset - first * _BLOCK
    return blocks[start : start + length]


class PatternSource:
    """Generated bytes at a constant bitrate (a stand-in camera).

    Args:
        clock: paces generation.
        bitrate_bps: the recording bitrate.
        duration_s: stop after this long (``None``: until stopped).
        seed: pattern seed (see :func:`pattern_bytes`).
        tick_s: how often a piece is produced.
        resume: the committed mark; the same seed continues after it (the duration counts
            the whole recording, so a resumed one ends at the same byte).
    """

    def __init__(
        self,
        clock: Clock,
        *,
        bitrate_bps: int = 4_000_000,
        duration_s: float | None = None,
        seed: int = 0,
        tick_s: float = 0.1,
        resume: SourceMark | None = None,
    ) -> None:
        self._clock = clock
        self._bitrate = bitrate_bps
        self._duration = duration_s
        self.seed = seed
        self._tick = tick_s
        self._here = SourceMark(kind="pattern", identity=f"seed={seed}", offset=0)
        decision = resume_offset(resume, self._here, size=None, what=f"pattern seed {seed}")
        self.resume_note = decision.note
        self.source_changed = decision.changed
        self.produced = decision.offset

    def pieces(self, stop: threading.Event) -> Iterator[Piece]:
        """Yield the pattern in real time until the duration passes or ``stop`` is set."""
        start = self._clock.monotonic()
        first = self.produced
        total = None if self._duration is None else int(self._bitrate * self._duration / 8)
        while not stop.is_set():
            elapsed = self._clock.monotonic() - start
            due = first + int(self._bitrate * elapsed / 8)
            if total is not None:
                due = min(due, total)
            if due > self.produced:
                data = pattern_bytes(self.seed, self.produced, due - self.produced)
                self.produced = due
                yield Piece(data, mark=self._here.model_copy(update={"offset": due}))
            if total is not None and self.produced >= total:
                break
            stop.wait(self._tick)
        yield Piece(b"", end_of_segment=True)


@dataclass
class RecorderStats:
    """What the recorder did."""

    read_bytes: int = 0
    chunks: int = 0
    rejected_chunks: int = 0
    finished: bool = False


class Recorder:
    """Cut a source into spool chunks.

    Args:
        source: the recording source.
        spool: where chunks go.
        clock: capture time of each chunk (device wall clock) and chunk ages.
        chunk_bytes: chunk size.
        chunk_max_age_s: write a partial chunk after this long.
        crash: crash point hook (tests).
    """

    def __init__(
        self,
        source: Source,
        spool: Spool,
        clock: Clock,
        *,
        chunk_bytes: int,
        chunk_max_age_s: float,
        crash: CrashPoints = NO_CRASH,
    ) -> None:
        self._source = source
        self._crash = crash
        self._buffer_mark: SourceMark | None = None
        self._spool = spool
        self._clock = clock
        self._chunk_bytes = chunk_bytes
        self._max_age = chunk_max_age_s
        self._buffer = bytearray()
        self._buffer_wall_ms = 0
        self._buffer_mono = 0.0
        self._segment_start = True  # the next chunk begins a segment (file)
        self._buffer_flags = 0
        self.stats = RecorderStats()
        self.finished = threading.Event()

    def run(self, stop: threading.Event) -> None:
        """Record until the source ends or ``stop`` is set, then flush what is buffered.

        Raises:
            device.errors.SpoolError: the spool cannot be written (disk failure).
            device.errors.SourceError: the source cannot be read.
        """
        try:
            for piece in self._source.pieces(stop):
                self._take(piece)
            self._flush()
        except OSError as exc:
            self._flush()  # what was read before the failure is still recorded
            raise SourceError(f"recording source failed: {exc.strerror or exc}") from None
        finally:
            self.stats.finished = True
            self.finished.set()

    def _take(self, piece: Piece) -> None:
        if piece.init_segment:
            self._put_init(piece)
            return
        data = memoryview(piece.data)
        while data:
            if not self._buffer:
                self._buffer_wall_ms = self._clock.wall_ms()
                self._buffer_mono = self._clock.monotonic()
                self._buffer_flags = FLAG_SEGMENT_START if self._segment_start else 0
                self._segment_start = False
            room = self._chunk_bytes - len(self._buffer)
            self._buffer += data[:room]
            self.stats.read_bytes += min(room, len(data))
            data = data[room:]
            self._buffer_mark = None if piece.mark is None else piece.mark.back(len(data))
            if len(self._buffer) >= self._chunk_bytes:
                self._flush()
        if piece.end_of_segment or (
            self._buffer and self._clock.monotonic() - self._buffer_mono >= self._max_age
        ):
            self._flush()
        if piece.end_of_segment:
            self._segment_start = True
        if piece.on_spooled is not None:
            piece.on_spooled()
            self._crash.reached("source.released")

    def _put_init(self, piece: Piece) -> None:
        # Its own chunk, ahead of the media that needs it; the spool never drops it.
        self._flush()
        if not piece.data:
            return
        try:
            self._spool.put(piece.data, self._clock.wall_ms(), flags=FLAG_INIT_SEGMENT)
            self.stats.chunks += 1
        except SpoolFull:
            self.stats.rejected_chunks += 1
            log.error("spool disk full: initialisation segment not spooled; objects lack it")

    def _flush(self) -> None:
        if not self._buffer:
            return
        # The buffer itself goes to the spool and a new one starts: copying a MiB out of
        # it would hold the chunk twice
        data, self._buffer = self._buffer, bytearray()
        try:
            self._spool.put(
                data, self._buffer_wall_ms, flags=self._buffer_flags, mark=self._buffer_mark
            )
            self.stats.chunks += 1
            self._crash.reached("source.spooled")
        except SpoolFull:
            self.stats.rejected_chunks += 1
            if self.stats.rejected_chunks in (1, 10, 100) or self.stats.rejected_chunks % 1000 == 0:
                log.warning("spool full: %d chunks rejected so far", self.stats.rejected_chunks)
