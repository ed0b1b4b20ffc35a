"""``Spool``: the bounded, durable, on-disk queue between the recorder and the uploader.

Layout of the spool directory::

    chunks/00000000000000000042.chunk   queued chunks, named by sequence number
    tmp/                                chunks being written (discarded on open)
    corrupt/                            chunks that failed their checks (kept, never sent)
    counters.json                       drop and reject counters (statistics only)

A chunk is *acknowledged* when :meth:`Spool.put` returns: by then its bytes are fsync'd
and its name is renamed into ``chunks/`` and fsync'd too, so neither SIGKILL nor a power
cut can lose it. A crash earlier leaves at most a file in ``tmp/``, which the next open
removes, so a torn chunk is never queued. A chunk may carry a source mark (where in its
source its last byte came from, :mod:`device.spool.mark`), made durable by the same rename;
on open, the newest queued mark is :attr:`Spool.recovered_mark`. The uploader removes a
chunk with :meth:`ack` only after the journal records its append; a chunk that reappears
after a crash (its removal not yet on disk) has a sequence number the journal already
covers and is skipped.

Besides bytes to append, the queue holds whole-object puts (:meth:`Spool.put_object`, an
HLS segment or playlist), in the same sequence and with the same durability. The uploader
sends entries strictly in sequence order, so an object queued after others is never stored
before them.

When full, the policy applies: ``drop_oldest`` deletes the oldest queued append chunks not
being uploaded right now, ``reject_new`` refuses the new chunk; both are counted. Whole
objects are never dropped: a playlist queued later may list a segment, and dropping the
segment would make that playlist lie. A whole object that does not fit is refused with
``SpoolFull`` under either policy, and its producer keeps it and tries again.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import threading
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from device.errors import SpoolCorrupt, SpoolError, SpoolFull
from device.spool.chunkfile import (
    FLAG_INIT_SEGMENT,
    FLAG_WHOLE_OBJECT,
    HEADER_SIZE,
    Chunk,
    ChunkFormatError,
    chunk_parts,
    decode_mark_trailer,
    header_fields,
    read_chunk,
)
from device.spool.crash import NO_CRASH, CrashPoints
from device.spool.fsutil import atomic_write, fsync_dir, temporary_path
from device.spool.mark import SourceMark
from device.spool.objectput import ObjectPut, encode_object_put

__all__ = ["Spool", "SpoolCounters", "SpoolStats"]

log = logging.getLogger(__name__)

Policy = Literal["drop_oldest", "reject_new"]
# The file system cannot take the chunk: as "spool full" as reaching max_bytes.
_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


@dataclass
class SpoolCounters:
    """What the full-spool policy and the integrity checks have thrown away."""

    dropped_chunks: int = 0
    dropped_bytes: int = 0
    rejected_chunks: int = 0
    rejected_bytes: int = 0
    corrupt_chunks: int = 0


@dataclass(frozen=True)
class SpoolStats:
    """A snapshot of the spool for status reports.

    Attributes:
        chunks: queued chunks (whole objects included).
        bytes: queued data bytes.
        oldest_wall_ms: capture time of the oldest queued chunk, if any.
        max_bytes: the bound.
        policy: the full-spool policy.
        counters: drop, reject and corruption counters.
        objects: queued whole objects.
        alert: why the last chunk had to push out others or was refused (``"spool_full"``:
            the bound; ``"disk_full"``: the file system), ``None`` once one fits again.
    """

    chunks: int
    bytes: int
    oldest_wall_ms: int | None
    max_bytes: int
    policy: str
    counters: SpoolCounters
    objects: int = 0
    alert: str | None = None


@dataclass(frozen=True)
class _Entry:
    seq: int
    size: int
    wall_ms: int
    whole: bool = False
    init: bool = False


class Spool:
    """Open (or create) the spool in ``directory``.

    Args:
        directory: the spool directory.
        max_bytes: bound on queued data bytes.
        policy: ``drop_oldest`` or ``reject_new``.
        crash: crash point hook (tests).
        done_through: sequence numbers up to this one are already uploaded (from the
            journal); their files, if any survived a crash, are removed.

    Raises:
        SpoolError: the directory cannot be created or read.
    """

    def __init__(
        self,
        directory: Path,
        *,
        max_bytes: int,
        policy: Policy = "drop_oldest",
        crash: CrashPoints = NO_CRASH,
        done_through: int = 0,
    ) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.policy: Policy = policy
        self._crash = crash
        self._chunks_dir = directory / "chunks"
        self._tmp_dir = directory / "tmp"
        self._corrupt_dir = directory / "corrupt"
        self._counters_path = directory / "counters.json"
        self._cond = threading.Condition()
        self._entries: deque[_Entry] = deque()
        self._bytes = 0
        self._in_flight: int | None = None
        self._closed = False
        self._alert: str | None = None
        self.recovered_mark: SourceMark | None = None
        try:
            for sub in (self._chunks_dir, self._tmp_dir, self._corrupt_dir):
                sub.mkdir(parents=True, exist_ok=True)
            self._counters = self._load_counters()
            self._next_seq = self._recover(done_through) + 1
        except OSError as exc:
            raise SpoolError(f"cannot open spool {directory}: {exc.strerror}") from None
        if not os.access(self._chunks_dir, os.W_OK):  # EROFS: a read-only mount
            raise SpoolError(f"spool {directory} is not writable (read-only file system?)")

    # -- recovery -------------------------------------------------------------------

    def _recover(self, done_through: int) -> int:
        for leftover in self._tmp_dir.iterdir():
            # Never renamed into the queue, so never acknowledged: safe to discard.
            leftover.unlink()
        last = done_through
        for path in sorted(self._chunks_dir.glob("*.chunk")):
            if not path.stem.isdigit():
                continue
            seq = int(path.stem)
            last = max(last, seq)
            if seq <= done_through:
                path.unlink()
                continue
            wall_ms, flags, size, mark = self._peek(path)
            whole = bool(flags & FLAG_WHOLE_OBJECT)
            init = bool(flags & FLAG_INIT_SEGMENT)
            self._entries.append(_Entry(seq, size, wall_ms, whole, init))
            self._bytes += size
            if mark is not None:
                self.recovered_mark = mark  # sorted by seq: the newest wins
        return last

    @staticmethod
    def _peek(path: Path) -> tuple[int, int, int, SourceMark | None]:
        # Only to rebuild the in-memory index; the full checks run when the chunk is read.
        # A mark that does not check out is ignored here: the chunk itself is quarantined
        # when it is read, and an older mark only makes the source repeat unstored bytes.
        with path.open("rb") as fh:
            wall_ms, flags, size, mark_len = header_fields(fh.read(HEADER_SIZE))
            mark = None
            if mark_len:
                fh.seek(HEADER_SIZE + size)
                with contextlib.suppress(ChunkFormatError):
                    mark = decode_mark_trailer(fh.read(mark_len))
        return wall_ms, flags, size, mark

    def _load_counters(self) -> SpoolCounters:
        try:
            raw = json.loads(self._counters_path.read_text())
            return SpoolCounters(**{k: int(v) for k, v in raw.items()})
        except (OSError, ValueError, TypeError):
            return SpoolCounters()

    def _save_counters(self) -> None:
        # Statistics only: a crash may lose the latest increments, never queued data.
        try:
            data = json.dumps(asdict(self._counters)).encode()
            atomic_write(self._counters_path, data, durable=False, point="counters")
        except OSError as exc:
            log.warning("cannot save spool counters: %s", exc.strerror)

    # -- producer -------------------------------------------------------------------

    def put(
        self,
        data: bytes | bytearray,
        wall_ms: int,
        *,
        flags: int = 0,
        mark: SourceMark | None = None,
    ) -> int:
        """Queue ``data`` durably and return its sequence number.

        Args:
            data: the chunk's bytes (non-empty); a ``bytearray`` is written as it is, so
                the caller must not change it afterwards.
            wall_ms: capture time of its first byte.
            flags: chunk flags.
            mark: the source position after the chunk's last byte; it becomes durable in
                the same step as the chunk.

        Returns:
            The chunk's sequence number; the chunk is on disk when this returns.

        Raises:
            SpoolFull: the spool is full and the policy is ``reject_new`` (or the chunk
                alone is larger than the spool).
            SpoolError: the chunk could not be written.
        """
        if not data:
            raise SpoolError("empty chunk")
        whole = bool(flags & FLAG_WHOLE_OBJECT)
        init = bool(flags & FLAG_INIT_SEGMENT)
        with self._cond:
            if self._closed:
                raise SpoolError("spool is closed")
            # An init segment is a few KB, once per encoder configuration: always let in.
            pressed = False if init else self._make_room(len(data), whole=whole)
            seq = self._next_seq
            self._next_seq += 1
        parts, _ = chunk_parts(seq, wall_ms, data, flags, mark)
        path = self._chunks_dir / f"{seq:020d}.chunk"
        while True:
            try:
                atomic_write(path, parts, tmp_dir=self._tmp_dir, crash=self._crash, point="chunk")
                break
            except OSError as exc:
                with contextlib.suppress(OSError):
                    temporary_path(path, self._tmp_dir).unlink()
                if exc.errno not in _DISK_FULL:
                    raise SpoolError(f"cannot write chunk {seq}: {exc.strerror}") from None
                self._disk_full(len(data), whole=whole, error=exc)
                pressed = True
        self._crash.reached("chunk.acknowledged")
        with self._cond:
            if not pressed and self._alert is not None:
                log.info("spool has room again (%d of %d bytes)", self._bytes, self.max_bytes)
                self._alert = None
            self._entries.append(_Entry(seq, len(data), wall_ms, whole, init))
            self._bytes += len(data)
            self._cond.notify_all()
        return seq

    def put_object(self, put: ObjectPut, wall_ms: int, *, mark: SourceMark | None = None) -> int:
        """Queue a whole-object put durably, behind everything queued before it.

        Args:
            put: the object's name (below the granted prefix), bytes and content type.
            wall_ms: when the object was made.
            mark: the source position the object brings the recording to.

        Returns:
            Its sequence number; the entry is on disk when this returns.

        Raises:
            SpoolFull: there is no room (whole objects never push out queued data).
            SpoolError: the entry could not be written.
        """
        return self.put(encode_object_put(put), wall_ms, flags=FLAG_WHOLE_OBJECT, mark=mark)

    def _disk_full(self, size: int, *, whole: bool, error: OSError) -> None:
        """The file system refused a chunk: apply the policy as if the bound were reached.

        Returns once room was made (the caller writes again).

        Raises:
            SpoolFull: the chunk is refused (``reject_new``, nothing left to drop, or a
                whole object, which its producer offers again).
        """
        with self._cond:
            if self._alert != "disk_full":
                log.warning(
                    "spool file system is full (%s) at %d queued bytes; applying %s",
                    error.strerror,
                    self._bytes,
                    self.policy,
                )
            self._alert = "disk_full"
            if whole:
                raise SpoolFull("spool disk full; object not queued", position=size)
            victims = [] if self.policy == "reject_new" else self._victims()
            if not victims:
                self._reject(size)
                raise SpoolFull("spool disk full; chunk rejected", position=size)
            freed = 0
            while victims and freed < size + HEADER_SIZE:
                freed += self._drop(victims.pop(0))
            self._save_counters()

    def _victims(self) -> list[_Entry]:
        # Whole objects are never victims: a playlist queued behind may list them. Nor are
        # initialisation segments: every later object needs them.
        return [e for e in self._entries if e.seq != self._in_flight and not (e.whole or e.init)]

    def _drop(self, victim: _Entry) -> int:
        self._entries.remove(victim)
        self._bytes -= victim.size
        self._counters.dropped_chunks += 1
        self._counters.dropped_bytes += victim.size
        self._unlink(victim.seq)
        return victim.size + HEADER_SIZE

    def _reject(self, size: int) -> None:
        self._counters.rejected_chunks += 1
        self._counters.rejected_bytes += size
        self._save_counters()

    def _make_room(self, size: int, *, whole: bool = False) -> bool:
        # Called with the lock held. Returns whether queued chunks had to be dropped.
        if self._bytes + size <= self.max_bytes:
            return False
        self._alert = "spool_full"
        if whole:
            # Not counted as rejected: the producer keeps the object and offers it again.
            raise SpoolFull(
                f"spool full ({self._bytes} of {self.max_bytes} bytes); object not queued",
                position=size,
            )
        if self.policy == "reject_new" or size > self.max_bytes:
            self._reject(size)
            raise SpoolFull(
                f"spool full ({self._bytes} of {self.max_bytes} bytes); chunk rejected",
                position=size,
            )
        victims = self._victims()
        while self._bytes + size > self.max_bytes and victims:
            self._drop(victims.pop(0))
        self._save_counters()
        if self._bytes + size > self.max_bytes:
            self._reject(size)
            raise SpoolFull("spool full with a chunk in flight; chunk rejected", position=size)
        return True

    # -- consumer -------------------------------------------------------------------

    def peek(self, timeout: float | None = None) -> Chunk | None:
        """Return the oldest queued chunk without removing it, waiting up to ``timeout``.

        A chunk that fails its checks is moved to ``corrupt/``, counted and skipped.

        Returns:
            The chunk, or ``None`` when nothing arrived in time or the spool was closed.
        """
        while True:
            with self._cond:
                if not self._entries and not self._closed:
                    self._cond.wait(timeout)
                if not self._entries:
                    return None
                entry = self._entries[0]
                self._in_flight = entry.seq
            chunk = self._read(entry)
            if chunk is not None:
                return chunk

    def _read(self, entry: _Entry) -> Chunk | None:
        path = self._chunks_dir / f"{entry.seq:020d}.chunk"
        try:
            chunk = read_chunk(path)
            if chunk.seq != entry.seq:
                raise ChunkFormatError(f"file holds chunk {chunk.seq}")
            return chunk
        except (OSError, ChunkFormatError) as exc:
            log.error("spool chunk %d is unusable (%s); quarantined", entry.seq, exc)
            with self._cond:
                if self._entries and self._entries[0] == entry:
                    self._entries.popleft()
                    self._bytes -= entry.size
                self._in_flight = None
                self._counters.corrupt_chunks += 1
                self._save_counters()
            with contextlib.suppress(OSError):
                os.replace(path, self._corrupt_dir / path.name)
            return None

    def ack(self, seq: int) -> None:
        """Remove chunk ``seq`` (and any older leftovers) after its upload is journaled.

        Raises:
            SpoolCorrupt: ``seq`` is not the chunk handed out by :meth:`peek`.
        """
        with self._cond:
            if not self._entries or self._entries[0].seq != seq:
                raise SpoolCorrupt(f"ack of chunk {seq}, which is not at the head of the spool")
            entry = self._entries.popleft()
            self._bytes -= entry.size
            self._in_flight = None
            self._cond.notify_all()
        # No directory fsync: if the removal is lost in a crash, the journal already
        # covers this sequence number and the next open discards the file.
        self._unlink(seq)

    def _unlink(self, seq: int) -> None:
        try:
            (self._chunks_dir / f"{seq:020d}.chunk").unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("cannot remove spool chunk %d: %s", seq, exc.strerror)

    # -- state ----------------------------------------------------------------------

    def stats(self) -> SpoolStats:
        """Return a snapshot of queue size and counters."""
        with self._cond:
            return SpoolStats(
                chunks=len(self._entries),
                bytes=self._bytes,
                oldest_wall_ms=self._entries[0].wall_ms if self._entries else None,
                max_bytes=self.max_bytes,
                policy=self.policy,
                counters=SpoolCounters(**asdict(self._counters)),
                objects=sum(1 for e in self._entries if e.whole),
                alert=self._alert,
            )

    def wait_empty(self, timeout: float) -> bool:
        """Wait until the queue is empty; return whether it is."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._entries, timeout)

    def close(self) -> None:
        """Wake any waiting consumer; later ``put`` calls fail."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def sync(self) -> None:
        """Flush the queue directory (used before shutdown)."""
        try:
            fsync_dir(self._chunks_dir)
        except OSError as exc:
            raise SpoolError(f"cannot sync spool: {exc.strerror}") from None
