"""The upload journal: what is committed in the object store, replaced atomically.

One small JSON file records the current object (key, committed length and CRC-64, time
range), the highest spool sequence number whose bytes are in the store, the next object
number, upload counters, the ``segment.closed`` events not yet confirmed by the broker and
the source mark of the newest stored chunk (:mod:`device.spool.mark`).
It is rewritten with :func:`~device.spool.fsutil.atomic_write` (temporary file, fsync,
rename, directory fsync), so after any crash it holds either the previous or the new state,
never a mix. The uploader writes it after each append lands and before it removes the
chunk from the spool.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from device.errors import SpoolCorrupt, SpoolError
from device.spool.crash import NO_CRASH, CrashPoints
from device.spool.fsutil import atomic_write
from device.spool.mark import SourceMark

__all__ = ["Journal", "JournalState", "ObjectRecord", "UploadCounters"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ObjectRecord(_Frozen):
    """The object being appended to.

    Attributes:
        key: the object key.
        seq: the object's number for this device (1, 2, ...).
        position: committed length.
        crc64: committed CRC-64 of the whole object.
        start_ms: capture time of its first byte.
        end_ms: capture time of the end of its last chunk (approximate).
        chunks: chunks appended so far.
    """

    key: str
    seq: int
    position: int = 0
    crc64: int = 0
    start_ms: int
    end_ms: int
    chunks: int = 0


class UploadCounters(_Frozen):
    """Cumulative upload figures (whole-object puts count in bytes and chunks too)."""

    uploaded_bytes: int = 0
    uploaded_chunks: int = 0
    objects_closed: int = 0
    diverged_objects: int = 0
    objects_put: int = 0
    last_upload_ms: int | None = None


class JournalState(_Frozen):
    """Everything the journal records.

    Attributes:
        version: file format version.
        last_chunk_seq: highest spool sequence number whose bytes are in the store.
        next_object_seq: number of the next object to open.
        current: the object being appended to, if any.
        pending_events: signed ``segment.closed`` payloads not yet acknowledged by the broker.
        counters: upload counters.
        source: the source mark of the newest stored chunk that had one (where a restarted
            recording continues once the queue holds no newer mark).
    """

    version: int = 1
    last_chunk_seq: int = 0
    next_object_seq: int = 1
    current: ObjectRecord | None = None
    pending_events: tuple[str, ...] = ()
    counters: UploadCounters = UploadCounters()
    source: SourceMark | None = None


class Journal:
    """Load the journal in ``directory`` (a fresh state if there is none).

    Args:
        directory: the spool directory.
        crash: crash point hook (tests).

    Raises:
        SpoolCorrupt: the journal exists but cannot be parsed.
    """

    FILE = "journal.json"

    def __init__(self, directory: Path, *, crash: CrashPoints = NO_CRASH) -> None:
        self.path = directory / self.FILE
        self._crash = crash
        self._lock = threading.Lock()
        try:
            directory.mkdir(parents=True, exist_ok=True)
            raw = self.path.read_bytes()
        except FileNotFoundError:
            self._state = JournalState()
        except OSError as exc:
            raise SpoolError(f"cannot read journal {self.path}: {exc.strerror}") from None
        else:
            try:
                self._state = JournalState.model_validate(json.loads(raw))
            except (ValueError, ValidationError):
                raise SpoolCorrupt(f"journal {self.path} is unreadable") from None

    @property
    def state(self) -> JournalState:
        """The last committed state."""
        with self._lock:
            return self._state

    def commit(self, state: JournalState) -> None:
        """Make ``state`` the journal's content, durably and atomically.

        Raises:
            SpoolError: the journal could not be written (the old state stays in force).
        """
        data = state.model_dump_json().encode()
        with self._lock:
            try:
                atomic_write(self.path, data, crash=self._crash, point="journal")
            except OSError as exc:
                raise SpoolError(f"cannot write journal {self.path}: {exc.strerror}") from None
            self._state = state
