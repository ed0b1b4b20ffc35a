"""Where a restarted recording continues: source identities and the resume decision.

A source that can resume stamps every piece with a :class:`~device.spool.SourceMark` (its
kind, an identity and the offset after the piece), and the spool commits the mark together
with the chunk that holds the piece's last byte. On start the agent hands the newest
committed mark to the new source, which calls :func:`resume_offset`: the same source
continues after the last committed byte; a source whose identity changed (a file replaced,
truncated or rewritten, a segment file replaced under the same name, another pattern seed)
starts from its beginning as a new recording, and says so in the log and in its
``resume_note``, which the agent shows in its progress reports.

A file's identity is its device, inode, size, modification time and a hash of its first
64 KiB: a copy with the same bytes elsewhere is another file, and a file rewritten in place
changes at least its size or time. ``stdin`` has no identity and never resumes.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

from device.spool.journal import Journal
from device.spool.mark import SourceMark
from device.spool.queue import Spool

__all__ = [
    "NEW",
    "Resumable",
    "ResumeDecision",
    "committed_mark",
    "file_identity",
    "newest_mark",
    "resume_offset",
    "segment_identity",
]

log = logging.getLogger(__name__)

NEW = "new recording"
_HEAD_BYTES = 64 * 1024


@runtime_checkable
class Resumable(Protocol):
    """A source that can continue after a restart."""

    resume_note: str
    """What the source did with the committed mark (``resumed at byte ...``, ``new ...``)."""

    source_changed: bool
    """The committed mark named another identity of this source (replaced, truncated or
    rewritten): the source is recorded again from its start as a new recording."""


@dataclass(frozen=True)
class ResumeDecision:
    """Where the source starts and why.

    Attributes:
        offset: first byte to read.
        note: a short phrase for logs and progress reports.
        changed: the committed mark named this source kind but another identity.
    """

    offset: int
    note: str
    changed: bool = False


def file_identity(fh: BinaryIO, stat: os.stat_result) -> str:
    """Identity of an open regular file; leaves the file position at 0."""
    fh.seek(0)
    head = hashlib.blake2b(fh.read(_HEAD_BYTES), digest_size=16).hexdigest()
    fh.seek(0)
    return f"{stat.st_dev}:{stat.st_ino}:{stat.st_size}:{stat.st_mtime_ns}:{head}"


def segment_identity(stat: os.stat_result) -> str:
    """Identity of a finished segment file in a directory source."""
    return f"{stat.st_dev}:{stat.st_ino}:{stat.st_size}:{stat.st_mtime_ns}"


def resume_offset(
    mark: SourceMark | None, current: SourceMark, *, size: int | None, what: str
) -> ResumeDecision:
    """Decide where ``current`` (the source as it is now, at offset 0) starts.

    Args:
        mark: the newest committed mark, if any.
        current: kind, identity and name of the source now.
        size: the source's length, if it has one (an offset past it means it shrank).
        what: the source as named in log lines (``source file /data/a.ts``).

    Returns:
        The committed offset for the same source, else 0 (logged as a new recording).
    """
    if mark is None or mark.kind != current.kind or mark.name != current.name:
        return ResumeDecision(0, NEW)
    if mark.same_source(current) and (size is None or mark.offset <= size):
        if mark.offset:
            log.info("%s: resuming after byte %d (committed before the restart)", what, mark.offset)
        return ResumeDecision(mark.offset, f"resumed after byte {mark.offset}")
    log.warning(
        "%s changed since its last %d bytes were recorded (replaced, truncated or rewritten): "
        "recording it from its start as a new recording",
        what,
        mark.offset,
    )
    return ResumeDecision(0, "source changed since the restart: new recording", changed=True)


def newest_mark(queued: SourceMark | None, stored: SourceMark | None) -> SourceMark | None:
    """Where a restarted recording continues: the newest mark still queued in the spool
    (``Spool.recovered_mark``), else the one the journal took over from the last stored chunk."""
    return queued or stored


def committed_mark(spool_dir: Path) -> SourceMark | None:
    """The mark a camera whose spool is ``spool_dir`` would resume from, read before the
    agent is built (for a source that is built outside it). The spool is left as it was.

    Raises:
        SpoolError: the spool or its journal cannot be read.
    """
    journal = Journal(spool_dir)
    spool = Spool(spool_dir, max_bytes=1, done_through=journal.state.last_chunk_seq)
    spool.close()
    return newest_mark(spool.recovered_mark, journal.state.source)
