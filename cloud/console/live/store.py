"""Recordings in progress and their fragment indexes, in the ledger's database (SQLite or
PostgreSQL; tables ``live_objects``, ``live_closed`` and ``fragment_index``, kept by the
ledger's migrations).

A ``segment.opened`` event becomes a row keyed by its event id, unique per
``(device_id, seq)``, so a redelivery changes nothing. The row is finished when the
object's ``segment.closed`` arrives (in either order). The fragment index of each object is
kept beside it, so a console that restarts continues indexing where it stopped instead of
reading the object again. On PostgreSQL, replicas that receive a camera's ``segment.opened``
and ``segment.closed`` at the same moment take turns on a per-camera advisory lock, so the
closed flag is never lost between them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import sqlalchemy as sa

from cloud.console.ledger import Ledger
from cloud.console.live.fmp4 import Fragment, IndexState

__all__ = ["LiveObject", "LiveStore", "OpenedFacts"]

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


def _live(row: sa.RowMapping) -> LiveObject:
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


_TURN_PG = "SELECT pg_advisory_xact_lock(hashtext(:device_id))"


class LiveStore:
    """Open objects and fragment indexes.

    Args:
        ledger: whose database holds them.
    """

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._pg = ledger.shared

    def close(self) -> None:
        """Nothing to release: the ledger owns the connections."""

    def _one(self, sql: str, **params: object) -> sa.RowMapping | None:
        with self._ledger.read() as conn:
            return conn.execute(sa.text(sql), params).mappings().first()

    def record_opened(self, facts: OpenedFacts, *, now_ms: int) -> bool:
        """Store an opened object unless known; returns whether it was new."""
        with self._ledger.write() as conn:
            if self._pg:
                conn.execute(sa.text(_TURN_PG), {"device_id": facts.device_id})
            closed = conn.execute(
                sa.text("SELECT 1 FROM live_closed WHERE device_id=:device_id AND seq=:seq"),
                {"device_id": facts.device_id, "seq": facts.seq},
            ).first()
            cur = conn.execute(
                sa.text(
                    "INSERT INTO live_objects (event_id, device_id, seq, object_key, start_ms,"
                    " received_ms, closed) VALUES (:event_id, :device_id, :seq, :object_key,"
                    " :start_ms, :now, :closed) ON CONFLICT DO NOTHING"
                ),
                {
                    "event_id": facts.event_id,
                    "device_id": facts.device_id,
                    "seq": facts.seq,
                    "object_key": facts.object_key,
                    "start_ms": facts.start_ms,
                    "now": now_ms,
                    "closed": int(closed is not None),
                },
            )
            return cur.rowcount == 1

    def mark_closed(self, device_id: str, seq: int) -> None:
        """The object ``seq`` of ``device_id`` is finished (its ``segment.closed`` arrived)."""
        params = {"device_id": device_id, "seq": seq}
        with self._ledger.write() as conn:
            if self._pg:
                conn.execute(sa.text(_TURN_PG), {"device_id": device_id})
            conn.execute(
                sa.text(
                    "INSERT INTO live_closed (device_id, seq) VALUES (:device_id, :seq)"
                    " ON CONFLICT DO NOTHING"
                ),
                params,
            )
            conn.execute(
                sa.text("UPDATE live_objects SET closed=1 WHERE device_id=:device_id AND seq=:seq"),
                params,
            )

    def get(self, live_id: str) -> LiveObject | None:
        """One followed object by id."""
        row = self._one(
            f"SELECT {_COLUMNS} FROM live_objects WHERE event_id=:id",  # noqa: S608 - constant
            id=live_id,
        )
        return _live(row) if row is not None else None

    def in_progress(self, device_id: str) -> LiveObject | None:
        """The camera's recording in progress: its newest opened object, if not closed.

        An older object that never closed (the camera crashed) is not in progress once a
        newer one was opened.
        """
        row = self._one(
            f"SELECT {_COLUMNS} FROM live_objects WHERE device_id=:device_id"  # noqa: S608
            " ORDER BY seq DESC LIMIT 1",
            device_id=device_id,
        )
        if row is None or row["closed"]:
            return None
        return _live(row)

    def previous(self, device_id: str, seq: int) -> LiveObject | None:
        """The camera's object opened before ``seq``, if the console knows it."""
        row = self._one(
            f"SELECT {_COLUMNS} FROM live_objects WHERE device_id=:device_id"  # noqa: S608
            " AND seq<:seq ORDER BY seq DESC LIMIT 1",
            device_id=device_id,
            seq=seq,
        )
        return _live(row) if row is not None else None

    def set_progress(self, live_id: str, *, size: int, end_ms: int | None, now_ms: int) -> None:
        """Record the object's length and indexed end as last seen."""
        with self._ledger.write() as conn:
            conn.execute(
                sa.text(
                    "UPDATE live_objects SET size = CASE WHEN size < :size THEN :size"
                    " ELSE size END, size_ms=:now, end_ms=:end_ms WHERE event_id=:id"
                ),
                {"size": size, "now": now_ms, "end_ms": end_ms, "id": live_id},
            )

    def load_index(self, object_key: str) -> IndexState | None:
        """The saved fragment index of ``object_key``."""
        row = self._one("SELECT state FROM fragment_index WHERE object_key=:key", key=object_key)
        return _load(row["state"]) if row is not None else None

    def save_index(self, object_key: str, state: IndexState) -> None:
        """Save the fragment index of ``object_key``."""
        with self._ledger.write() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO fragment_index (object_key, state) VALUES (:key, :state)"
                    " ON CONFLICT(object_key) DO UPDATE SET state=excluded.state"
                ),
                {"key": object_key, "state": _dump(state)},
            )
