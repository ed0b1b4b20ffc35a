"""Recordings in progress and their fragment indexes, in SQLite.

A ``segment.opened`` event becomes a row keyed by its event id, unique per
``(device_id, seq)``, so a redelivery changes nothing. The row is finished when the
object's ``segment.closed`` arrives (in either order). The fragment index of each object is
kept beside it, so a console that restarts continues indexing where it stopped instead of
reading the object again.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass

from cloud.console.live.fmp4 import Fragment, IndexState

__all__ = ["LiveObject", "LiveStore", "OpenedFacts"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS live_objects (
    event_id     TEXT PRIMARY KEY,
    device_id    TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    object_key   TEXT NOT NULL,
    start_ms     INTEGER NOT NULL,
    received_ms  INTEGER NOT NULL,
    closed       INTEGER NOT NULL DEFAULT 0,
    size         INTEGER NOT NULL DEFAULT 0,
    size_ms      INTEGER,
    end_ms       INTEGER,
    UNIQUE (device_id, seq)
);
CREATE INDEX IF NOT EXISTS live_by_device ON live_objects (device_id, closed, seq);
CREATE TABLE IF NOT EXISTS live_closed (
    device_id TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    PRIMARY KEY (device_id, seq)
);
CREATE TABLE IF NOT EXISTS fragment_index (
    object_key TEXT PRIMARY KEY,
    state      TEXT NOT NULL
);
"""

_COLUMNS = (
    "event_id, device_id, seq, object_key, start_ms, received_ms, closed, size, size_ms, end_ms"
)


@dataclass(frozen=True)
class OpenedFacts:
    """What a verified ``segment.opened`` event says.

    Attributes:
        event_id: the event's id (the live recording's id).
        device_id: the camera.
        seq: the object's sequence number.
        object_key: the object.
        start_ms: time of its first frame.
    """

    event_id: str
    device_id: str
    seq: int
    object_key: str
    start_ms: int


@dataclass(frozen=True)
class LiveObject:
    """An appendable object the console follows.

    Attributes:
        facts: the event.
        received_at_ms: when the console stored it.
        closed: its ``segment.closed`` has arrived.
        size: its length at the last look, in bytes.
        size_at_ms: when that length was seen.
        end_ms: time up to which it is indexed (start plus the indexed duration).
    """

    facts: OpenedFacts
    received_at_ms: int
    closed: bool
    size: int
    size_at_ms: int | None
    end_ms: int | None

    @property
    def live_id(self) -> str:
        """The id pages and the API use: the event id."""
        return self.facts.event_id


def _live(row: sqlite3.Row) -> LiveObject:
    return LiveObject(
        facts=OpenedFacts(
            event_id=row["event_id"],
            device_id=row["device_id"],
            seq=row["seq"],
            object_key=row["object_key"],
            start_ms=row["start_ms"],
        ),
        received_at_ms=row["received_ms"],
        closed=bool(row["closed"]),
        size=row["size"],
        size_at_ms=row["size_ms"],
        end_ms=row["end_ms"],
    )


def _dump(state: IndexState) -> str:
    return json.dumps(
        {
            "init_size": state.init_size,
            "timescale": state.timescale,
            "default_duration": state.default_duration,
            "scanned_to": state.scanned_to,
            "pending_moof": state.pending_moof,
            "fragments": [[f.offset, f.size, f.decode_time, f.duration] for f in state.fragments],
        }
    )


def _load(text: str) -> IndexState:
    raw = json.loads(text)
    pending = raw["pending_moof"]
    return IndexState(
        init_size=raw["init_size"],
        timescale=raw["timescale"],
        default_duration=raw["default_duration"],
        scanned_to=raw["scanned_to"],
        pending_moof=tuple(pending) if pending is not None else None,
        fragments=[Fragment(*f) for f in raw["fragments"]],
    )


class LiveStore:
    """Open objects and fragment indexes.

    Args:
        path: database file (the ledger's file is fine), or ``":memory:"``.
    """

    def __init__(self, path: str) -> None:
        self._lock = threading.Lock()
        # check_same_thread=False: the lock is what makes sharing safe.
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def record_opened(self, facts: OpenedFacts, *, now_ms: int) -> bool:
        """Store an opened object unless known; returns whether it was new."""
        with self._lock:
            closed = self._db.execute(
                "SELECT 1 FROM live_closed WHERE device_id=? AND seq=?",
                (facts.device_id, facts.seq),
            ).fetchone()
            cur = self._db.execute(
                "INSERT OR IGNORE INTO live_objects (event_id, device_id, seq, object_key,"
                " start_ms, received_ms, closed) VALUES (?,?,?,?,?,?,?)",
                (
                    facts.event_id,
                    facts.device_id,
                    facts.seq,
                    facts.object_key,
                    facts.start_ms,
                    now_ms,
                    int(closed is not None),
                ),
            )
            return cur.rowcount == 1

    def mark_closed(self, device_id: str, seq: int) -> None:
        """The object ``seq`` of ``device_id`` is finished (its ``segment.closed`` arrived)."""
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO live_closed (device_id, seq) VALUES (?,?)", (device_id, seq)
            )
            self._db.execute(
                "UPDATE live_objects SET closed=1 WHERE device_id=? AND seq=?", (device_id, seq)
            )

    def get(self, live_id: str) -> LiveObject | None:
        """One followed object by id."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM live_objects WHERE event_id=?",  # noqa: S608 - constant
                (live_id,),
            ).fetchone()
        return _live(row) if row is not None else None

    def in_progress(self, device_id: str) -> LiveObject | None:
        """The camera's recording in progress: its newest opened object, if not closed.

        An older object that never closed (the camera crashed) is not in progress once a
        newer one was opened.
        """
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM live_objects WHERE device_id=?"  # noqa: S608 - constant
                " ORDER BY seq DESC LIMIT 1",
                (device_id,),
            ).fetchone()
        if row is None or row["closed"]:
            return None
        return _live(row)

    def previous(self, device_id: str, seq: int) -> LiveObject | None:
        """The camera's object opened before ``seq``, if the console knows it."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM live_objects WHERE device_id=? AND seq<?"  # noqa: S608
                " ORDER BY seq DESC LIMIT 1",
                (device_id, seq),
            ).fetchone()
        return _live(row) if row is not None else None

    def set_progress(self, live_id: str, *, size: int, end_ms: int | None, now_ms: int) -> None:
        """Record the object's length and indexed end as last seen."""
        with self._lock:
            self._db.execute(
                "UPDATE live_objects SET size=MAX(size, ?), size_ms=?, end_ms=? WHERE event_id=?",
                (size, now_ms, end_ms, live_id),
            )

    def load_index(self, object_key: str) -> IndexState | None:
        """The saved fragment index of ``object_key``."""
        with self._lock:
            row = self._db.execute(
                "SELECT state FROM fragment_index WHERE object_key=?", (object_key,)
            ).fetchone()
        return _load(row["state"]) if row is not None else None

    def save_index(self, object_key: str, state: IndexState) -> None:
        """Save the fragment index of ``object_key``."""
        with self._lock:
            self._db.execute(
                "INSERT INTO fragment_index (object_key, state) VALUES (?, ?)"
                " ON CONFLICT(object_key) DO UPDATE SET state=excluded.state",
                (object_key, _dump(state)),
            )
