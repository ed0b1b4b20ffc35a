"""The generic cell rate algorithm, as a pure function shared by the memory backend and
mirrored line for line by the Redis script.

Each key has a theoretical arrival time ``tat``: the moment its next slot starts. A call is
conforming when ``tat - now`` is at most ``(burst - 1) * interval`` (the burst allowance);
beyond that it may still wait up to ``max_wait`` for its slot. A refused caller gets either
the time until it would conform, or, with promises, the next slot nobody was promised yet, so
that a crowd told to come back returns spread at the rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cloud.state.protocols import Reservation


@dataclass(frozen=True, slots=True)
class GcraCell:
    """Stored state of one key: next slot and the promise pointer (both in ms)."""

    tat: float
    promised: float


def gcra_step(
    cell: GcraCell | None,
    *,
    now_ms: float,
    interval_ms: float,
    burst: int,
    max_wait_ms: float,
    promise: bool,
    promise_interval_ms: float | None = None,
) -> tuple[Reservation, GcraCell]:
    """Decide one reservation.

    Args:
        cell: the key's state, or ``None`` for a fresh key.
        now_ms: current time.
        interval_ms: time between slots (1000 / rate).
        burst: slots usable at once after a pause (at least 1).
        max_wait_ms: the longest an admitted caller may have to wait for its slot.
        promise: hand refused callers spread-out return times.
        promise_interval_ms: spacing of those return times (default ``interval_ms``).

    Returns:
        The reservation and the key's new state.
    """
    tat = now_ms if cell is None else max(cell.tat, now_ms)
    promised = now_ms if cell is None else cell.promised
    tau = (burst - 1) * interval_ms
    ahead = tat - now_ms - tau
    if ahead <= max_wait_ms:
        wait = math.ceil(max(0.0, ahead))
        return Reservation(admitted=True, wait_ms=wait), GcraCell(tat + interval_ms, promised)
    if promise:
        slot = max(promised, tat - tau)
        retry = max(1, math.ceil(slot - now_ms))
        step = interval_ms if promise_interval_ms is None else promise_interval_ms
        return Reservation(admitted=False, retry_after_ms=retry), GcraCell(tat, slot + step)
    retry = max(1, math.ceil(ahead - max_wait_ms))
    return Reservation(admitted=False, retry_after_ms=retry), GcraCell(tat, promised)


def idle_after(cell: GcraCell) -> float:
    """The time after which ``cell`` carries no information and may be forgotten."""
    return max(cell.tat, cell.promised)
