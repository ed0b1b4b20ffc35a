"""What console replicas on one ledger database share about operators: sessions, so that a
login on one replica is valid on every replica (and a logout ends it on all), and failed
logins, so that the lockout counts attempts made at any replica, and the sign-in attempt
limits, so that N replicas admit the configured rate rather than N times it. Only a hash of each session
id is stored: a reader of the database cannot sign in with what it finds there."""

from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Callable

import sqlalchemy as sa

from cloud.console.ledger import Ledger
from cloud.console.web.auth import Session
from cloud.state.gcra import GcraCell, gcra_step

__all__ = ["SharedAttempts", "SharedFailures", "SharedSessions"]


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class SharedSessions:
    """Operator sessions in the ledger's database; only a hash of each id is stored.

    Args:
        ledger: whose database holds them.
        max_age_s: session lifetime.
        clock: wall clock in seconds.
    """

    def __init__(self, ledger: Ledger, *, max_age_s: int, clock: Callable[[], float]) -> None:
        self._ledger = ledger
        self._max_age_ms = max_age_s * 1000
        self._clock = clock

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def create(self, username: str) -> Session:
        """Start a session for ``username`` (expired ones are purged on the way)."""
        now = self._now_ms()
        session = Session(secrets.token_urlsafe(32), username, secrets.token_urlsafe(32), now)
        with self._ledger.write() as conn:
            conn.execute(
                sa.text("DELETE FROM sessions WHERE created_ms <= :oldest"),
                {"oldest": now - self._max_age_ms},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO sessions (id_hash, username, csrf_token, created_ms)"
                    " VALUES (:id_hash, :username, :csrf, :created)"
                ),
                {
                    "id_hash": _hash(session.session_id),
                    "username": username,
                    "csrf": session.csrf_token,
                    "created": now,
                },
            )
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session with this id, or None."""
        if not session_id:
            return None
        with self._ledger.read() as conn:
            row = (
                conn.execute(
                    sa.text(
                        "SELECT username, csrf_token, created_ms FROM sessions"
                        " WHERE id_hash = :id_hash"
                    ),
                    {"id_hash": _hash(session_id)},
                )
                .mappings()
                .first()
            )
        if row is None or self._now_ms() - row["created_ms"] >= self._max_age_ms:
            return None
        return Session(session_id, row["username"], row["csrf_token"], row["created_ms"])

    def end(self, session_id: str) -> None:
        """Log out, on every replica."""
        with self._ledger.write() as conn:
            conn.execute(
                sa.text("DELETE FROM sessions WHERE id_hash = :id_hash"),
                {"id_hash": _hash(session_id)},
            )


class SharedFailures:
    """Failed logins in the ledger's database, counted whichever replica saw them.

    Args:
        ledger: whose database holds them.
        keep_s: failures older than this are purged (the lockout time).
    """

    def __init__(self, ledger: Ledger, *, keep_s: float) -> None:
        self._ledger = ledger
        self._keep_ms = int(keep_s * 1000)

    def recent(self, key: tuple[str, str], *, since: float) -> int:
        """Failures of ``key`` after ``since``."""
        with self._ledger.read() as conn:
            count = conn.execute(
                sa.text(
                    "SELECT COUNT(*) FROM login_failures"
                    " WHERE username = :username AND client = :client AND at_ms > :since"
                ),
                {"username": key[0], "client": key[1], "since": int(since * 1000)},
            ).scalar()
        return int(count or 0)

    def add(self, key: tuple[str, str], at: float) -> None:
        """Record a failure (and purge the expired ones)."""
        at_ms = int(at * 1000)
        with self._ledger.write() as conn:
            conn.execute(
                sa.text("DELETE FROM login_failures WHERE at_ms <= :oldest"),
                {"oldest": at_ms - self._keep_ms},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO login_failures (username, client, at_ms)"
                    " VALUES (:username, :client, :at)"
                ),
                {"username": key[0], "client": key[1], "at": at_ms},
            )

    def clear(self, key: tuple[str, str]) -> None:
        """Forget ``key``'s failures (a successful login)."""
        with self._ledger.write() as conn:
            conn.execute(
                sa.text(
                    "DELETE FROM login_failures WHERE username = :username AND client = :client"
                ),
                {"username": key[0], "client": key[1]},
            )


_SELECT_BUCKET = "SELECT tat_ms FROM login_buckets WHERE key = :key"
# On PostgreSQL the row is locked until the transaction ends (SQLite's BEGIN IMMEDIATE
# already serialises the writers).
_SELECT_BUCKET_PG = _SELECT_BUCKET + " FOR UPDATE"


class SharedAttempts:
    """Sign-in attempt buckets and the operators' recent addresses in the ledger's database.

    Each bucket is one row holding its next free slot (``tat_ms``); a row whose slot has
    passed carries no information and is purged. Each take is one write transaction that
    locks the bucket's row, so replicas taking from one bucket at once are counted in turn.

    Args:
        ledger: whose database holds them.
    """

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._select = _SELECT_BUCKET_PG if ledger.shared else _SELECT_BUCKET

    def take(self, key: str, now_ms: float, *, interval_ms: float, burst: int) -> float | None:
        """Take one slot of ``key``'s bucket: ``None`` when admitted, else ms to wait."""
        now = int(now_ms)
        with self._ledger.write() as conn:
            conn.execute(
                sa.text("DELETE FROM login_buckets WHERE tat_ms <= :now AND key <> :key"),
                {"now": now, "key": key},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO login_buckets (key, tat_ms) VALUES (:key, :now)"
                    " ON CONFLICT (key) DO NOTHING"
                ),
                {"key": key, "now": now},
            )
            tat = conn.execute(
                sa.text(self._select),
                {"key": key},
            ).scalar_one()
            reservation, cell = gcra_step(
                GcraCell(float(tat), float(tat)),
                now_ms=now,
                interval_ms=interval_ms,
                burst=burst,
                max_wait_ms=0,
                promise=False,
            )
            conn.execute(
                sa.text("UPDATE login_buckets SET tat_ms = :tat WHERE key = :key"),
                {"key": key, "tat": math.ceil(cell.tat)},
            )
        return None if reservation.admitted else float(reservation.retry_after_ms or 1000)

    def trust(self, client: str, now_ms: float, *, keep_ms: float) -> None:
        """Remember that an operator signed in from ``client`` (expired ones are purged)."""
        now = int(now_ms)
        with self._ledger.write() as conn:
            conn.execute(
                sa.text("DELETE FROM login_trusted WHERE at_ms <= :oldest"),
                {"oldest": now - int(keep_ms)},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO login_trusted (client, at_ms) VALUES (:client, :at)"
                    " ON CONFLICT (client) DO UPDATE SET at_ms = excluded.at_ms"
                ),
                {"client": client, "at": now},
            )

    def trusted(self, client: str, now_ms: float, *, keep_ms: float) -> bool:
        """True when an operator signed in from ``client`` less than ``keep_ms`` ago."""
        with self._ledger.read() as conn:
            at = conn.execute(
                sa.text("SELECT at_ms FROM login_trusted WHERE client = :client"),
                {"client": client},
            ).scalar()
        return at is not None and now_ms - int(at) < keep_ms
