"""Durable IAM state: an atomically replaced snapshot plus an append-only session journal.

Keys and roles change rarely, so every change rewrites ``iam.json`` (write to a temporary file,
fsync, rename, fsync the directory): a crash leaves either the old or the new file, never a torn
one. Sessions are minted up to a hundred times a second, so each new session is one appended
JSON line in ``iam-sessions.jsonl`` instead; :meth:`IamStore.load` folds the journal back in and
the owner compacts it into a fresh snapshot when it grows.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

SNAPSHOT_NAME = "iam.json"
JOURNAL_NAME = "iam-sessions.jsonl"


def atomic_write_json(path: Path, data: object) -> None:
    """Replace ``path`` with ``data`` as JSON so readers see the old or the new file whole.

    Args:
        path: the destination file.
        data: any JSON-serialisable value.
    """
    tmp = path.with_name(f".{path.name}.tmp")
    payload = json.dumps(data, indent=1, sort_keys=True).encode("utf-8")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, payload)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem lets a directory be fsynced
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class IamStore:
    """Files of the IAM state under one data directory.

    Args:
        data_dir: directory to keep ``iam.json`` and the session journal in (created if absent).
        fsync: fsync every journal append (the snapshot is always fsynced); off trades
            durability of the newest sessions across power loss for speed.
    """

    def __init__(self, data_dir: Path, *, fsync: bool = False) -> None:
        self.data_dir = data_dir
        self.fsync = fsync
        data_dir.mkdir(parents=True, exist_ok=True)
        self._snapshot = data_dir / SNAPSHOT_NAME
        self._journal = data_dir / JOURNAL_NAME
        self.journal_lines = 0

    def load(self) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """Read the snapshot (None when there is none) and the journaled sessions after it.

        A torn last journal line (a crash mid-append) is ignored.
        """
        snapshot: dict[str, Any] | None = None
        if self._snapshot.exists():
            snapshot = json.loads(self._snapshot.read_text("utf-8"))
        sessions: list[dict[str, Any]] = []
        if self._journal.exists():
            for line in self._journal.read_text("utf-8").splitlines():
                with contextlib.suppress(ValueError):
                    sessions.append(json.loads(line))
        self.journal_lines = len(sessions)
        return snapshot, sessions

    def write_snapshot(self, snapshot: dict[str, Any]) -> None:
        """Replace the snapshot and empty the journal (its sessions are in the snapshot now)."""
        atomic_write_json(self._snapshot, snapshot)
        fd = self._open_journal(os.O_TRUNC)
        try:
            if self.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        self.journal_lines = 0

    def _open_journal(self, flag: int) -> int:
        # The journal holds every minted secret and token: owner-only, also when an older
        # version (or a umask) left it readable by others.
        fd = os.open(self._journal, os.O_WRONLY | os.O_CREAT | flag, 0o600)
        os.fchmod(fd, 0o600)
        return fd

    def append_session(self, record: dict[str, Any]) -> None:
        """Append one minted session to the journal."""
        line = (json.dumps(record, sort_keys=True) + "\n").encode("utf-8")
        fd = self._open_journal(os.O_APPEND)
        try:
            os.write(fd, line)
            if self.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        self.journal_lines += 1
