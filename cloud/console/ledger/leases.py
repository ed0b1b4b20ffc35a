"""Leases in the ledger's database: one reconciler at a time among several console replicas,
with take-over when the holder dies."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from cloud.console.ledger.store import Ledger

__all__ = ["Lease"]

_TAKE = """
INSERT INTO leases (name, holder, expires_ms) VALUES (:name, :holder, :expires)
ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_ms = excluded.expires_ms
WHERE leases.holder = excluded.holder OR leases.expires_ms <= :now
"""


class Lease:
    """A named lease in the ledger: held by one replica until it lapses.

    The holder renews it before each piece of work; a replica that dies stops renewing, and
    another takes the lease over once ``ttl_s`` has passed since the last renewal. Replica
    clocks are compared, so keep them in step (NTP); a skew shortens or lengthens the
    take-over by that much and never lets two holders in at once for longer than it.

    Args:
        ledger: whose database holds the lease.
        name: what the lease guards (``"reconcile"``).
        holder: this replica's name (unique per process).
        ttl_s: how long a renewal holds.
        clock: wall clock in seconds.
    """

    def __init__(
        self,
        ledger: Ledger,
        name: str,
        *,
        holder: str,
        ttl_s: float,
        clock: Callable[[], float],
    ) -> None:
        self._engine = ledger.engine
        self._ledger = ledger
        self.name = name
        self.holder = holder
        self._ttl_ms = int(ttl_s * 1000)
        self._clock = clock

    def acquire(self) -> bool:
        """Take or renew the lease; True when this replica holds it now."""
        now = int(self._clock() * 1000)
        with self._ledger.write() as conn:
            done = conn.execute(
                sa.text(_TAKE),
                {
                    "name": self.name,
                    "holder": self.holder,
                    "expires": now + self._ttl_ms,
                    "now": now,
                },
            )
            return done.rowcount == 1

    def release(self) -> None:
        """Give the lease up (a clean stop), so another replica need not wait for it."""
        with self._ledger.write() as conn:
            conn.execute(
                sa.text("DELETE FROM leases WHERE name = :name AND holder = :holder"),
                {"name": self.name, "holder": self.holder},
            )
