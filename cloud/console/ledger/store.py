"""The recording ledger, in SQLite (embedded default) or PostgreSQL (several replicas).

Writes are idempotent by construction: a recording's primary key is the event id, so a
duplicate or redelivered ``segment.closed`` is ignored by the database itself (``ON CONFLICT
DO NOTHING``), and so is the same object reported again under a new event id; a status only
replaces an older one. The sequence number is *not* a key: a camera whose spool was wiped,
or a replacement after ``devices rotate``, counts from 0 again, and its new recordings must
not vanish behind old ones. Such a collision (same camera and ``seq``, another object) is
stored, logged and counted on the camera's row for the console to show. A deleted
recording stays as a tombstone so that a late redelivery cannot bring it back.
HLS content keys live here too, only ever sealed (:mod:`cloud.console.content_keys`); a key
id is written once.

Every statement is written once, in the SQL both engines speak (``INSERT ... ON CONFLICT``,
``CASE`` rather than two-argument ``MAX``), and run through SQLAlchemy Core. Each write is one
transaction that takes its write lock at once (``BEGIN IMMEDIATE`` on SQLite, row locks on
PostgreSQL), so replicas that receive the same event at the same moment store it once. The
schema is kept by Alembic scripts in :mod:`cloud.console.ledger.migrations`.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool

from cloud.console.ledger.models import (
    CameraState,
    Page,
    Recording,
    SegmentFacts,
    StatusFacts,
    Verification,
)
from cloud.database import (
    DatabaseError,
    Migrations,
    PoolSettings,
    is_postgres,
    make_engine,
    write_options,
)

__all__ = ["FLEET", "MIGRATIONS", "Ledger", "ledger_url", "migrate_ledger"]

MIGRATIONS = Migrations(
    "cloud.console.ledger:migrations",
    version_table="ledger_schema_version",
    name="ledger",
    command="ossmedia console migrate",
)

FLEET = "*"  # retention scope meaning "every camera"
_log = logging.getLogger("ossmedia.console.ledger")

# Every recording query selects these columns; the statements are spelled out in full so no
# SQL is ever assembled at run time.
_RECORDING_BY_ID = """
SELECT event_id, device_id, seq, object_key, size, crc64, start_ms, end_ms, received_ms,
       verification, reason, checked_ms, observed_size
FROM recordings WHERE event_id = :event_id
"""
_RECORDINGS_IN_WINDOW = """
SELECT event_id, device_id, seq, object_key, size, crc64, start_ms, end_ms, received_ms,
       verification, reason, checked_ms, observed_size
FROM recordings
WHERE device_id = :device_id AND verification != 'deleted' AND end_ms > :from_ms
  AND start_ms < :to_ms AND (start_ms > :start OR (start_ms = :start AND event_id > :eid))
ORDER BY start_ms, event_id LIMIT :limit
"""
_RECORDINGS_DUE = """
SELECT event_id, device_id, seq, object_key, size, crc64, start_ms, end_ms, received_ms,
       verification, reason, checked_ms, observed_size
FROM recordings
WHERE verification != 'deleted' AND (checked_ms IS NULL OR checked_ms <= :before)
ORDER BY CASE WHEN checked_ms IS NULL THEN 0 ELSE 1 END, checked_ms, received_ms
LIMIT :limit
"""


def _recording(row: sa.RowMapping) -> Recording:
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


def _camera(row: sa.RowMapping) -> CameraState:
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


# Per-camera counts live in the cameras row and are kept up to date by every write, so the
# fleet overview reads one row per camera however many recordings there are.
_CAMERA_BY_ID = "SELECT * FROM cameras WHERE device_id = :device_id"
_CAMERAS_AFTER = "SELECT * FROM cameras WHERE device_id > :after ORDER BY device_id LIMIT :limit"


def ledger_url(path_or_url: str) -> str:
    """A ledger location as a database URL: a bare path (the older setting) is SQLite."""
    if "://" in path_or_url:
        return path_or_url
    return f"sqlite://{path_or_url}"


# SQLite's write transaction already excludes every other writer; PostgreSQL locks the row.
_LOCK_RECORDING = "SELECT device_id, verification FROM recordings WHERE event_id=:event_id"
_LOCK_RECORDING_PG = _LOCK_RECORDING + " FOR UPDATE"
_LOCK_CAMERA_PG = "SELECT 1 FROM cameras WHERE device_id = :device_id FOR UPDATE"
_ADD_CAMERA = "INSERT INTO cameras (device_id) VALUES (:device_id) ON CONFLICT DO NOTHING"


def migrate_ledger(location: str, revision: str = "head") -> tuple[str | None, str | None]:
    """Upgrade (or downgrade) the ledger schema at ``location`` to ``revision``.

    A ledger written before the schema had revisions is adopted with its rows.

    Returns:
        The revisions before and after.

    Raises:
        DatabaseError: the database cannot be reached or the migration failed.
    """
    engine = make_engine(ledger_url(location))
    try:
        return MIGRATIONS.go_to(engine, revision)
    except sa.exc.SQLAlchemyError as exc:
        raise DatabaseError(f"ledger: {type(exc).__name__}") from None
    finally:
        engine.dispose()


class _Tx:
    """One write transaction: statements with named parameters."""

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, **params: object) -> sa.CursorResult[Any]:
        return self._conn.execute(sa.text(sql), params)

    def execute_many(self, sql: str, rows: Sequence[Mapping[str, object]]) -> None:
        self._conn.execute(sa.text(sql), rows)


class Ledger:
    """Recordings, camera states and retention settings, in one SQL database.

    Args:
        location: a SQLite file, ``":memory:"``, or a database URL (``sqlite:///abs.db``,
            ``postgresql://user@host/db``).
        migrate: bring the schema up to date at open; by default yes on SQLite (the
            embedded ledger looks after itself) and no on PostgreSQL, where ``ossmedia
            console migrate`` does it once for every replica.
        pool: PostgreSQL connection pool settings.

    Raises:
        DatabaseError: the database cannot be reached or its schema is not current.
    """

    def __init__(
        self, location: str, *, migrate: bool | None = None, pool: PoolSettings | None = None
    ) -> None:
        self._closed = False
        self._engine = make_engine(ledger_url(location), pool=pool)
        self._writer = self._engine.execution_options(**write_options())
        self._pg = is_postgres(self._engine)
        # A StaticPool is one connection (an in-memory database): one thread at a time.
        self._lock: AbstractContextManager[object] = (
            threading.Lock() if isinstance(self._engine.pool, StaticPool) else nullcontext()
        )
        if migrate is None:
            migrate = not self._pg
        if migrate:
            MIGRATIONS.upgrade(self._engine)
        else:
            MIGRATIONS.require_current(self._engine)

    @property
    def engine(self) -> Engine:
        """The engine (health checks, leases)."""
        return self._engine

    def ping(self) -> None:
        """Run a trivial query (raises when the database does not answer)."""
        self._query("SELECT 1")

    def close(self) -> None:
        """Close the database connections; the ledger answers no query after this."""
        self._closed = True
        self._engine.dispose()

    def counts(self) -> tuple[dict[str, int], int, int]:
        """What ``/metrics`` shows: recordings by verification state, cameras, cameras online.

        Raises:
            DatabaseError: the database cannot be read.
        """
        states = {
            str(r["verification"]): int(r["n"])
            for r in self._query(
                "SELECT verification, COUNT(*) AS n FROM recordings GROUP BY verification"
            )
        }
        row = self._query(
            "SELECT COUNT(*) AS cameras, COALESCE(SUM(CASE WHEN online = 1 AND"
            " (registry_state IS NULL OR registry_state <> 'revoked') THEN 1 ELSE 0 END), 0)"
            " AS online FROM cameras"
        )[0]
        return states, int(row["cameras"]), int(row["online"])

    def backup(self, destination: str) -> None:
        """Copy a SQLite ledger to ``destination`` with SQLite's online backup API.

        The copy is consistent while the console keeps writing, and holds what is still in
        the write-ahead log (a plain file copy of a running ledger misses it). A PostgreSQL
        ledger is backed up with the database's own tools (``pg_dump``).

        Raises:
            DatabaseError: not SQLite, or the copy failed.
        """
        if self._pg:
            raise DatabaseError("back up a PostgreSQL ledger with pg_dump")
        with self._errors(), self._lock, self._engine.connect() as conn:
            source = conn.connection.driver_connection
            assert isinstance(source, sqlite3.Connection)  # noqa: S101 - checked above
            target = sqlite3.connect(destination)
            try:
                source.backup(target)
            finally:
                target.close()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        # One error type for the console's callers (health checks, the CLI), whatever the
        # engine; the driver's first line says what happened.
        if self._closed:
            raise DatabaseError("ledger: closed")
        try:
            yield
        except (sa.exc.SQLAlchemyError, sqlite3.Error) as exc:
            text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
            raise DatabaseError(
                f"ledger: {type(exc).__name__}{': ' + text[0] if text else ''}"
            ) from None

    @contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """A write transaction on the ledger's database (for tables beside the ledger's)."""
        with self._errors(), self._lock, self._writer.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """A read-only connection to the ledger's database."""
        with self._errors(), self._lock, self._engine.connect() as conn:
            yield conn

    @property
    def shared(self) -> bool:
        """True on PostgreSQL, where several console replicas may share the ledger."""
        return self._pg

    @contextmanager
    def _tx(self) -> Iterator[_Tx]:
        with self._errors(), self._lock, self._writer.begin() as conn:
            yield _Tx(conn)

    def _query(self, sql: str, args: Mapping[str, object] | None = None) -> list[sa.RowMapping]:
        with self._errors(), self._lock, self._engine.connect() as conn:
            return list(conn.execute(sa.text(sql), dict(args or {})).mappings())

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
            db.execute(_ADD_CAMERA, device_id=facts.device_id)
            if self._pg:
                # Replicas ingesting the same camera at once take turns from here, so the
                # check below sees what the other one stored.
                db.execute(_LOCK_CAMERA_PG, device_id=facts.device_id)
            same_seq = (
                db.execute(
                    "SELECT event_id, object_key FROM recordings WHERE device_id = :device_id"
                    " AND seq = :seq AND event_id != :event_id",
                    device_id=facts.device_id,
                    seq=facts.seq,
                    event_id=facts.event_id,
                )
                .mappings()
                .all()
            )
            if any(row["object_key"] == facts.object_key for row in same_seq):
                return False  # the same recording reported again under another event id
            clash = same_seq[0] if same_seq else None
            cur = db.execute(
                "INSERT INTO recordings (event_id, device_id, seq, object_key, size,"
                " crc64, start_ms, end_ms, received_ms) VALUES (:event_id, :device_id, :seq,"
                " :object_key, :size, :crc64, :start_ms, :end_ms, :received_ms)"
                " ON CONFLICT DO NOTHING",
                event_id=facts.event_id,
                device_id=facts.device_id,
                seq=facts.seq,
                object_key=facts.object_key,
                size=facts.size,
                crc64=str(facts.crc64),
                start_ms=facts.start_ms,
                end_ms=facts.end_ms,
                received_ms=now_ms,
            )
            if cur.rowcount != 1:
                return False
            db.execute(
                "UPDATE cameras SET n_recordings = n_recordings + 1,"
                " last_end_ms = CASE WHEN last_end_ms IS NULL OR last_end_ms < :end_ms"
                " THEN :end_ms ELSE last_end_ms END,"
                " n_seq_collisions = n_seq_collisions + :clash WHERE device_id = :device_id",
                end_ms=facts.end_ms,
                clash=1 if clash else 0,
                device_id=facts.device_id,
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
            db.execute(_ADD_CAMERA, device_id=facts.device_id)
            cur = db.execute(
                "UPDATE cameras SET status_issued_ms=:issued, status_received_ms=:now,"
                " online=:online, last_upload_ms=:last_upload_ms, spool_bytes=:spool_bytes,"
                " oldest_unsent_age_ms=:oldest_unsent_age_ms,"
                " credential_expires_ms=:credential_expires_ms, clock_offset_ms=:clock_offset_ms,"
                " uploaded_bytes=:uploaded_bytes, dropped_bytes=:dropped_bytes"
                " WHERE device_id=:device_id"
                " AND (status_issued_ms IS NULL OR status_issued_ms < :issued)",
                issued=facts.issued_at_ms,
                now=now_ms,
                online=int(facts.online),
                last_upload_ms=facts.last_upload_ms,
                spool_bytes=facts.spool_bytes,
                oldest_unsent_age_ms=facts.oldest_unsent_age_ms,
                credential_expires_ms=facts.credential_expires_ms,
                clock_offset_ms=facts.clock_offset_ms,
                uploaded_bytes=facts.uploaded_bytes,
                dropped_bytes=facts.dropped_bytes,
                device_id=facts.device_id,
            )
            return cur.rowcount == 1

    def mark_offline(self, device_id: str, *, now_ms: int) -> bool:
        """Apply a camera's last will: offline, every other field unchanged.

        Returns:
            True if the camera was online before.
        """
        with self._tx() as db:
            db.execute(_ADD_CAMERA, device_id=device_id)
            cur = db.execute(
                "UPDATE cameras SET online=0, status_received_ms=:now"
                " WHERE device_id=:device_id AND online=1",
                now=now_ms,
                device_id=device_id,
            )
            return cur.rowcount == 1

    def sync_registry(self, devices: Iterable[tuple[str, str]]) -> None:
        """Record what the registry says about each device, adding cameras never heard from.

        Args:
            devices: ``(device_id, state)`` pairs, for example ``("cam-1", "active")``.
        """
        with self._tx() as db:
            rows = [{"device_id": d, "state": state} for d, state in devices]
            if rows:
                db.execute_many(
                    "INSERT INTO cameras (device_id, registry_state) VALUES (:device_id, :state)"
                    " ON CONFLICT(device_id) DO UPDATE SET registry_state=excluded.registry_state",
                    rows,
                )

    # -- reading ------------------------------------------------------------------------

    def camera(self, device_id: str) -> CameraState | None:
        """One camera's state, or None if the console has never heard of it."""
        rows = self._query(_CAMERA_BY_ID, {"device_id": device_id})
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
            {"after": after or "", "limit": limit + 1},
        )
        items = tuple(_camera(r) for r in rows[:limit])
        more = len(rows) > limit
        return Page(items, (items[-1].device_id,) if more and items else None)

    def recording(self, event_id: str) -> Recording | None:
        """A recording by id, including deleted ones (check ``verification``)."""
        rows = self._query(_RECORDING_BY_ID, {"event_id": event_id})
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
            {
                "device_id": device_id,
                "from_ms": from_ms,
                "to_ms": to_ms,
                "start": start,
                "eid": eid,
                "limit": limit + 1,
            },
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
                {"before": now_ms - recheck_after_ms, "limit": limit},
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
            # FOR UPDATE: two replicas checking the same recording count its flag once.
            row = (
                db.execute(_LOCK_RECORDING_PG if self._pg else _LOCK_RECORDING, event_id=event_id)
                .mappings()
                .first()
            )
            if row is None or row["verification"] == Verification.DELETED.value:
                return False
            db.execute(
                "UPDATE recordings SET verification=:verification, reason=:reason,"
                " observed_size=:observed_size, checked_ms=:now WHERE event_id=:event_id",
                verification=verification.value,
                reason=reason,
                observed_size=observed_size,
                now=now_ms,
                event_id=event_id,
            )
            was_flagged = row["verification"] == Verification.FLAGGED.value
            is_flagged = verification is Verification.FLAGGED
            deleted = verification is Verification.DELETED
            db.execute(
                "UPDATE cameras SET n_flagged = n_flagged + :flagged,"
                " n_recordings = n_recordings - :deleted WHERE device_id=:device_id",
                flagged=int(is_flagged) - int(was_flagged),
                deleted=int(deleted),
                device_id=row["device_id"],
            )
            if deleted:
                db.execute(
                    "UPDATE cameras SET last_end_ms = (SELECT MAX(end_ms) FROM recordings"
                    " WHERE device_id = cameras.device_id AND verification != 'deleted')"
                    " WHERE device_id=:device_id",
                    device_id=row["device_id"],
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
                "INSERT INTO content_keys (device_id, key_id, sealed, created_ms, received_ms)"
                " VALUES (:device_id, :key_id, :sealed, :created_ms, :now) ON CONFLICT DO NOTHING",
                device_id=device_id,
                key_id=key_id,
                sealed=sealed,
                created_ms=created_ms,
                now=now_ms,
            )
            return cur.rowcount == 1

    def content_key(self, device_id: str, key_id: str) -> bytes | None:
        """The sealed content key stored under this id, or None."""
        rows = self._query(
            "SELECT sealed FROM content_keys WHERE device_id = :device_id AND key_id = :key_id",
            {"device_id": device_id, "key_id": key_id},
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
                "INSERT INTO retention (scope, days) VALUES (:scope, :days)"
                " ON CONFLICT(scope) DO UPDATE SET days=excluded.days",
                scope=scope,
                days=days,
            )

    def clear_retention(self, scope: str) -> bool:
        """Remove a camera's override (or the fleet setting). Returns True if one existed."""
        with self._tx() as db:
            return db.execute("DELETE FROM retention WHERE scope=:scope", scope=scope).rowcount == 1
