"""Operator sessions in the ledger's database, so that a login on one console replica is
valid on every replica (and a logout ends it on all). Only a hash of each session id is
stored: a reader of the database cannot sign in with what it finds there."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable

import sqlalchemy as sa

from cloud.console.ledger import Ledger
from cloud.console.web.auth import Session

__all__ = ["SharedSessions"]


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
