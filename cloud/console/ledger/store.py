"""The recording ledger in SQLite.

Writes are idempotent by construction: a recording's primary key is the event id, so a
duplicate or redelivered ``segment.closed`` is ignored by the database itself (``INSERT OR
IGNORE``), and so is the same object reported again under a new event id; a status only
replaces an older one. The sequence number is *not* a key: a camera whose spool was wiped,
or a replacement after ``devices rotate``, counts from 0 again, and its new recordings must
not vanish behind old ones. Such a collision (same camera and ``seq``, another object) is
stored, logged and counted on the camera's row for the console to show. A deleted
recording stays as a tombstone so that a late redelivery cannot bring it back.
HLS content keys live here too, only ever sealed (:mod:`cloud.console.content_keys`); a key
id is written once.

One connection is shared by the MQTT thread, the reconciler thread and the web server's
worker threads; a lock serialises access, which SQLite needs anyway for writes.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from cloud.console.ledger.models import (
    CameraState,
    Page,
    Recording,
    SegmentFacts,
    StatusFacts,
    Verification,
)

__all__ = ["FLEET", "Ledger"]

FLEET = "*"  # retention scope meaning "every camera"
_log = logging.getLogger("ossmedia.console.ledger")

_CREATE_RECORDINGS = """
CREATE TABLE IF NOT EXISTS recordings (
    event_id       TEXT PRIMARY KEY,
    device_id      TEXT NOT NULL,
    seq            INTEGER NOT NULL,
    object_key     TEXT NOT NULL,
    size           INTEGER NOT NULL,
    crc64          TEXT NOT NULL,
    start_ms       INTEGER NOT NULL,
    end_ms         INTEGER NOT NULL,
    received_ms    INTEGER NOT NULL,
    verification   TEXT NOT NULL DEFAULT 'pending',
    reason         TEXT NOT NULL DEFAULT '',
    checked_ms     INTEGER,
    observed_size  INTEGER
)"""
_SCHEMA = (
    _CREATE_RECORDINGS
    + """;
CREATE INDEX IF NOT EXISTS recordings_by_seq ON recordings (device_id, seq);
CREATE INDEX IF NOT EXISTS recordings_by_time ON recordings (device_id, start_ms, event_id);
CREATE INDEX IF NOT EXISTS recordings_by_check ON recordings (verification, checked_ms);
CREATE TABLE IF NOT EXISTS cameras (
    device_id        TEXT PRIMARY KEY,
    registry_state   TEXT,
    status_issued_ms INTEGER,
    status_received_ms INTEGER,
    online           INTEGER,
    last_upload_ms   INTEGER,
    spool_bytes      INTEGER,
    oldest_unsent_age_ms INTEGER,
    credential_expires_ms INTEGER,
    clock_offset_ms  INTEGER,
    uploaded_bytes   INTEGER,
    dropped_bytes    INTEGER,
    n_recordings     INTEGER NOT NULL DEFAULT 0,
    n_flagged        INTEGER NOT NULL DEFAULT 0,
    last_end_ms      INTEGER,
    n_seq_collisions INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS retention (
    scope TEXT PRIMARY KEY,
    days  INTEGER
);
CREATE TABLE IF NOT EXISTS content_keys (
    device_id   TEXT NOT NULL,
    key_id      TEXT NOT NULL,
    sealed      BLOB NOT NULL,
    created_ms  INTEGER NOT NULL,
    received_ms INTEGER NOT NULL,
    PRIMARY KEY (device_id, key_id)
);
"""
)

# Every recording query selects these columns; the statements are spelled out in full so no
# SQL is ever assembled at run time.
_RECORDING_BY_ID = """
SELECT event_id, device_id, seq, object_key, size, crc64, start_ms, end_ms, received_ms,
       verification, reason, checked_ms, observed_size
FROM recordings WHERE event_id = ?
"""
_RECORDINGS_IN_WINDOW = """
SELECT event_id, device_id, seq, object_key, size, crc64, start_ms, end_ms, received_ms,
       verification, reason, checked_ms, observed_size
FROM recordings
WHERE device_id = ? AND verification != 'deleted' AND end_ms > ? AND start_ms < ?
  AND (start_ms > ? OR (start_ms = ? AND event_id > ?))
ORDER BY start_ms, event_id LIMIT ?
"""
_RECORDINGS_DUE = """
SELECT event_id, device_id, seq, object_key, size, crc64, start_ms, end_ms, received_ms,
       verification, reason, checked_ms, observed_size
FROM recordings
WHERE verification != 'deleted' AND (checked_ms IS NULL OR checked_ms <= ?)
ORDER BY checked_ms IS NOT NULL, checked_ms, received_ms LIMIT ?
"""


def _recording(row: sqlite3.Row) -> Recording:
    facts = SegmentFacts(
        event_id=row["event_id"],
        device_id=row["device_id"],
        seq=row["seq"],
        object_key=row["object_key"],
        size=row["size"],
        crc64=int(row["crc64"]),
        start_ms=row["start_ms"],
        end_ms=row["end_ms"],
    )
    return Recording(
        facts=facts,
        received_at_ms=row["received_ms"],
        verification=Verification(row["verification"]),
        reason=row["reason"],
        checked_at_ms=row["checked_ms"],
        observed_size=row["observed_size"],
    )


def _camera(row: sqlite3.Row) -> CameraState:
    status = None
    if row["status_issued_ms"] is not None:
        status = StatusFacts(
            device_id=row["device_id"],
            issued_at_ms=row["status_issued_ms"],
            online=bool(row["online"]),
            last_upload_ms=row["last_upload_ms"],
            spool_bytes=row["spool_bytes"],
            oldest_unsent_age_ms=row["oldest_unsent_age_ms"],
            credential_expires_ms=row["credential_expires_ms"],
            clock_offset_ms=row["clock_offset_ms"],
            uploaded_bytes=row["uploaded_bytes"],
            dropped_bytes=row["dropped_bytes"],
        )
    return CameraState(
        device_id=row["device_id"],
        status=status,
        status_received_ms=row["status_received_ms"],
        registry_state=row["registry_state"],
        recordings=row["n_recordings"],
        flagged=row["n_flagged"],
        last_recording_end_ms=row["last_end_ms"],
        seq_collisions=row["n_seq_collisions"],
    )


def _upgrade(db: sqlite3.Connection) -> None:
    """Bring a ledger written by an earlier version to the current schema, in place.

    Earlier ledgers made ``(device_id, seq)`` unique; SQLite cannot drop a constraint, so the
    table is copied into one without it. They also lack the collision counter.
    """
    row = db.execute(
        "SELECT sql FROM sqlite_master WHERE type='table' AND name='recordings'"
    ).fetchone()
    if row is not None and "UNIQUE (device_id, seq)" in row[0]:
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("ALTER TABLE recordings RENAME TO recordings_v1")
            db.execute(_CREATE_RECORDINGS)
            db.execute("INSERT INTO recordings SELECT * FROM recordings_v1")
            db.execute("DROP TABLE recordings_v1")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
    columns = {r[1] for r in db.execute("PRAGMA table_info(cameras)")}
    if columns and "n_seq_collisions" not in columns:
        db.execute("ALTER TABLE cameras ADD COLUMN n_seq_collisions INTEGER NOT NULL DEFAULT 0")


# Per-camera counts live in the cameras row and are kept up to date by every write, so the
# fleet overview reads one row per camera however many recordings there are.
_CAMERA_BY_ID = "SELECT * FROM cameras WHERE device_id = ?"
_CAMERAS_AFTER = "SELECT * FROM cameras WHERE device_id > ? ORDER BY device_id LIMIT ?"


class Ledger:
    """Recordings, camera states and retention settings, in one SQLite database.

    Args:
        path: database file, or ``":memory:"``.
    """

    def __init__(self, path: str) -> None:
        self._lock = threading.Lock()
        # check_same_thread=False: the lock below is what makes sharing safe.
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        if path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        _upgrade(self._db)
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def counts(self) -> tuple[dict[str, int], int, int]:
        """What ``/metrics`` shows: recordings by verification state, cameras, cameras online.

        Raises:
            sqlite3.Error: the database cannot be read.
        """
        with self._lock:
            states = dict(
                self._db.execute(
                    "SELECT verification, COUNT(*) FROM recordings GROUP BY verification"
                ).fetchall()
            )
            cameras, online = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(online = 1 AND registry_state IS NOT 'revoked'),"
                " 0) FROM cameras"
            ).fetchone()
        return {str(k): int(v) for k, v in states.items()}, int(cameras), int(online)

    def backup(self, destination: str) -> None:
        """Copy the ledger to ``destination`` with SQLite's online backup API.

        The copy is consistent while the console keeps writing, and holds what is still in
        the write-ahead log (a plain file copy of a running ledger misses it).

        Raises:
            sqlite3.Error: the copy failed.
        """
        target = sqlite3.connect(destination)
        try:
            with self._lock:
                self._db.backup(target)
        finally:
            target.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query(self, sql: str, args: Iterable[object] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return list(self._db.execute(sql, tuple(args)))

    # -- ingest -------------------------------------------------------------------------

    def record_segment(self, facts: SegmentFacts, *, now_ms: int) -> bool:
        """Store a finished segment unless it is already known.

        Args:
            facts: the verified event's content.
            now_ms: receive time.

        Returns:
            True if it was new; False for a duplicate (same event id, or the same camera,
            sequence number and object), which changes nothing. A new event reusing a
            sequence number of the camera for *another* object is new (see the module
            docstring).
        """
        with self._tx() as db:
            same_seq = db.execute(
                "SELECT event_id, object_key FROM recordings WHERE device_id = ? AND seq = ?"
                " AND event_id != ?",
                (facts.device_id, facts.seq, facts.event_id),
            ).fetchall()
            if any(row["object_key"] == facts.object_key for row in same_seq):
                return False  # the same recording reported again under another event id
            clash = same_seq[0] if same_seq else None
            cur = db.execute(
                "INSERT OR IGNORE INTO recordings (event_id, device_id, seq, object_key, size,"
                " crc64, start_ms, end_ms, received_ms) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    facts.event_id,
                    facts.device_id,
                    facts.seq,
                    facts.object_key,
                    facts.size,
                    str(facts.crc64),
                    facts.start_ms,
                    facts.end_ms,
                    now_ms,
                ),
            )
            db.execute("INSERT OR IGNORE INTO cameras (device_id) VALUES (?)", (facts.device_id,))
            if cur.rowcount != 1:
                return False
            db.execute(
                "UPDATE cameras SET n_recordings = n_recordings + 1,"
                " last_end_ms = MAX(COALESCE(last_end_ms, ?), ?),"
                " n_seq_collisions = n_seq_collisions + ? WHERE device_id = ?",
                (facts.end_ms, facts.end_ms, 1 if clash else 0, facts.device_id),
            )
        if clash:
            _log.warning(
                "ledger: %s reused seq %d for another object (event %s, earlier event %s);"
                " both recordings are kept",
                facts.device_id,
                facts.seq,
                facts.event_id,
                clash["event_id"],
            )
        return True

    def record_status(self, facts: StatusFacts, *, now_ms: int) -> bool:
        """Store a camera status if it is newer than the one on file.

        Args:
            facts: the verified status.
            now_ms: receive time.

        Returns:
            True if it replaced the stored status; False for an older or equal one.
        """
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO cameras (device_id) VALUES (?)", (facts.device_id,))
            cur = db.execute(
                "UPDATE cameras SET status_issued_ms=?, status_received_ms=?, online=?,"
                " last_upload_ms=?, spool_bytes=?, oldest_unsent_age_ms=?,"
                " credential_expires_ms=?, clock_offset_ms=?, uploaded_bytes=?, dropped_bytes=?"
                " WHERE device_id=? AND (status_issued_ms IS NULL OR status_issued_ms < ?)",
                (
                    facts.issued_at_ms,
                    now_ms,
                    int(facts.online),
                    facts.last_upload_ms,
                    facts.spool_bytes,
                    facts.oldest_unsent_age_ms,
                    facts.credential_expires_ms,
                    facts.clock_offset_ms,
                    facts.uploaded_bytes,
                    facts.dropped_bytes,
                    facts.device_id,
                    facts.issued_at_ms,
                ),
            )
            return cur.rowcount == 1

    def mark_offline(self, device_id: str, *, now_ms: int) -> bool:
        """Apply a camera's last will: offline, every other field unchanged.

        Returns:
            True if the camera was online before.
        """
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO cameras (device_id) VALUES (?)", (device_id,))
            cur = db.execute(
                "UPDATE cameras SET online=0, status_received_ms=? WHERE device_id=? AND online=1",
                (now_ms, device_id),
            )
            return cur.rowcount == 1

    def sync_registry(self, devices: Iterable[tuple[str, str]]) -> None:
        """Record what the registry says about each device, adding cameras never heard from.

        Args:
            devices: ``(device_id, state)`` pairs, for example ``("cam-1", "active")``.
        """
        with self._tx() as db:
            db.executemany(
                "INSERT INTO cameras (device_id, registry_state) VALUES (?, ?)"
                " ON CONFLICT(device_id) DO UPDATE SET registry_state=excluded.registry_state",
                list(devices),
            )

    # -- reading ------------------------------------------------------------------------

    def camera(self, device_id: str) -> CameraState | None:
        """One camera's state, or None if the console has never heard of it."""
        rows = self._query(_CAMERA_BY_ID, (device_id,))
        return _camera(rows[0]) if rows else None

    def list_cameras(self, *, after: str | None, limit: int) -> Page[CameraState]:
        """Cameras ordered by id.

        Args:
            after: continue after this device id (from the previous page).
            limit: page size.

        Returns:
            A page whose ``next_after`` is ``(device_id,)`` when more follow.
        """
        rows = self._query(
            _CAMERAS_AFTER,
            (after or "", limit + 1),
        )
        items = tuple(_camera(r) for r in rows[:limit])
        more = len(rows) > limit
        return Page(items, (items[-1].device_id,) if more and items else None)

    def recording(self, event_id: str) -> Recording | None:
        """A recording by id, including deleted ones (check ``verification``)."""
        rows = self._query(_RECORDING_BY_ID, (event_id,))
        return _recording(rows[0]) if rows else None

    def list_recordings(
        self,
        device_id: str,
        *,
        from_ms: int,
        to_ms: int,
        after: tuple[int, str] | None,
        limit: int,
    ) -> Page[Recording]:
        """A camera's recordings overlapping ``[from_ms, to_ms)``, oldest first.

        Args:
            device_id: the camera.
            from_ms: window start.
            to_ms: window end.
            after: continue after this ``(start_ms, event_id)`` (from the previous page).
            limit: page size.

        Returns:
            A page whose ``next_after`` is ``(start_ms, event_id)`` when more follow.
        """
        start, eid = after if after is not None else (-(2**62), "")
        rows = self._query(
            _RECORDINGS_IN_WINDOW,
            (device_id, from_ms, to_ms, start, start, eid, limit + 1),
        )
        items = tuple(_recording(r) for r in rows[:limit])
        if len(rows) > limit and items:
            last = items[-1].facts
            return Page(items, (last.start_ms, last.event_id))
        return Page(items, None)

    def due_for_check(self, *, now_ms: int, recheck_after_ms: int, limit: int) -> list[Recording]:
        """Recordings the reconciler should check now: never checked ones first.

        Args:
            now_ms: current time.
            recheck_after_ms: checked recordings are due again after this long.
            limit: at most this many.
        """
        return [
            _recording(r)
            for r in self._query(
                _RECORDINGS_DUE,
                (now_ms - recheck_after_ms, limit),
            )
        ]

    # -- changes ------------------------------------------------------------------------

    def set_verification(
        self,
        event_id: str,
        verification: Verification,
        *,
        reason: str,
        observed_size: int | None,
        now_ms: int,
    ) -> bool:
        """Record a check result; a deleted recording stays deleted.

        Returns:
            True if the recording exists and is not deleted.
        """
        with self._tx() as db:
            row = db.execute(
                "SELECT device_id, verification FROM recordings WHERE event_id=?", (event_id,)
            ).fetchone()
            if row is None or row["verification"] == Verification.DELETED.value:
                return False
            db.execute(
                "UPDATE recordings SET verification=?, reason=?, observed_size=?, checked_ms=?"
                " WHERE event_id=?",
                (verification.value, reason, observed_size, now_ms, event_id),
            )
            was_flagged = row["verification"] == Verification.FLAGGED.value
            is_flagged = verification is Verification.FLAGGED
            deleted = verification is Verification.DELETED
            db.execute(
                "UPDATE cameras SET n_flagged = n_flagged + ?, n_recordings = n_recordings - ?"
                " WHERE device_id=?",
                (int(is_flagged) - int(was_flagged), int(deleted), row["device_id"]),
            )
            if deleted:
                db.execute(
                    "UPDATE cameras SET last_end_ms = (SELECT MAX(end_ms) FROM recordings"
                    " WHERE device_id = cameras.device_id AND verification != 'deleted')"
                    " WHERE device_id=?",
                    (row["device_id"],),
                )
            return True

    def mark_deleted(self, event_id: str, *, now_ms: int) -> bool:
        """Turn a recording into a tombstone.

        Returns:
            True if it existed and was not deleted before.
        """
        return self.set_verification(
            event_id, Verification.DELETED, reason="deleted", observed_size=None, now_ms=now_ms
        )

    # -- HLS content keys (sealed by cloud.console.content_keys) ---------------------------

    def add_content_key(
        self, device_id: str, key_id: str, sealed: bytes, *, created_ms: int, now_ms: int
    ) -> bool:
        """Store a sealed content key unless one is already held under this id.

        Returns:
            True if it was new; False when the id is taken (the stored row is unchanged).
        """
        with self._tx() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO content_keys (device_id, key_id, sealed, created_ms,"
                " received_ms) VALUES (?,?,?,?,?)",
                (device_id, key_id, sealed, created_ms, now_ms),
            )
            return cur.rowcount == 1

    def content_key(self, device_id: str, key_id: str) -> bytes | None:
        """The sealed content key stored under this id, or None."""
        rows = self._query(
            "SELECT sealed FROM content_keys WHERE device_id = ? AND key_id = ?",
            (device_id, key_id),
        )
        return bytes(rows[0]["sealed"]) if rows else None

    # -- retention ----------------------------------------------------------------------

    def retention(self) -> tuple[int | None, dict[str, int | None]]:
        """The fleet retention (days, None = keep forever) and per-camera overrides."""
        rows = self._query("SELECT scope, days FROM retention ORDER BY scope")
        fleet: int | None = None
        cameras: dict[str, int | None] = {}
        for row in rows:
            if row["scope"] == FLEET:
                fleet = row["days"]
            else:
                cameras[row["scope"]] = row["days"]
        return fleet, cameras

    def set_retention(self, scope: str, days: int | None) -> None:
        """Set the retention of the fleet (scope ``"*"``) or of one camera."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO retention (scope, days) VALUES (?, ?)"
                " ON CONFLICT(scope) DO UPDATE SET days=excluded.days",
                (scope, days),
            )

    def clear_retention(self, scope: str) -> bool:
        """Remove a camera's override (or the fleet setting). Returns True if one existed."""
        with self._tx() as db:
            return db.execute("DELETE FROM retention WHERE scope=?", (scope,)).rowcount == 1
