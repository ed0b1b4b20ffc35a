"""Durable file writes: temporary file, fsync, rename, directory fsync.

A rename is atomic, so a reader sees either the old file or the complete new one; the
fsync before it makes sure the new file's bytes are on disk before its name is, and the
directory fsync after it makes the rename itself survive a power cut.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from device.spool.crash import NO_CRASH, CrashPoints

__all__ = ["atomic_write", "fsync_dir", "temporary_path"]


def fsync_dir(directory: Path) -> None:
    """Flush a directory's entries (new, renamed, removed names) to disk."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temporary_path(path: Path, tmp_dir: Path | None = None) -> Path:
    """The temporary file :func:`atomic_write` writes ``path``'s new content to first."""
    return (tmp_dir or path.parent) / f".{path.name}.tmp"


def atomic_write(
    path: Path,
    data: bytes | Sequence[bytes | bytearray],
    *,
    tmp_dir: Path | None = None,
    durable: bool = True,
    crash: CrashPoints = NO_CRASH,
    point: str = "file",
) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves the old or the new file, whole.

    Args:
        path: the destination.
        data: the complete new content, or its parts in order (written one after the
            other, so a large part is never copied to join it to the others).
        tmp_dir: where the temporary file goes (same file system as ``path``); defaults to
            ``path``'s directory.
        durable: fsync the file and the directory (False only for data that may be lost).
        crash: crash point hook; passes ``{point}.tmp_written`` and ``{point}.renamed``.
        point: prefix of the crash point names.

    Raises:
        OSError: the write failed (callers convert it to a ``SpoolError``).
    """
    tmp = temporary_path(path, tmp_dir)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for part in (data,) if isinstance(data, bytes) else data:
            view = memoryview(part)
            while view:
                written = os.write(fd, view)
                view = view[written:]
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)
    crash.reached(f"{point}.tmp_written")
    os.replace(tmp, path)
    crash.reached(f"{point}.renamed")
    if durable:
        fsync_dir(path.parent)
