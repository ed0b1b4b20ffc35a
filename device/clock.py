"""Time as the device sees it: wall clock, monotonic clock and sleep, all injectable.

Wall time (milliseconds since the epoch) is what goes on the wire and into object keys;
the monotonic clock drives every timeout and refresh deadline, so a wall-clock jump never
expires credentials early or late. :class:`AdjustedClock` applies an offset learned from a
signed server time (a ``clock_skew`` reply), which is how a camera with a wrong clock still
gets credentials and names its objects correctly.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol, runtime_checkable

__all__ = ["AdjustedClock", "Clock", "ManualClock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """The three time sources device code uses."""

    def wall_ms(self) -> int:
        """Return wall-clock time in integer milliseconds since the epoch."""
        ...

    def monotonic(self) -> float:
        """Return a monotonic time in seconds (only differences are meaningful)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block for ``seconds``."""
        ...


class SystemClock:
    """The operating system's clocks."""

    def wall_ms(self) -> int:
        """Return ``time.time()`` in milliseconds."""
        return time.time_ns() // 1_000_000

    def monotonic(self) -> float:
        """Return ``time.monotonic()``."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """Sleep with ``time.sleep`` (negative values sleep zero)."""
        time.sleep(max(0.0, seconds))


class ManualClock:
    """A clock that only moves when told to; ``sleep`` advances it instead of blocking.

    Useful for simulations that run in virtual time and for deterministic tests of
    deadlines. Thread-safe.

    Args:
        wall_ms: initial wall time in milliseconds.
        monotonic: initial monotonic time in seconds.
    """

    def __init__(self, wall_ms: int = 1_764_380_000_000, monotonic: float = 1000.0) -> None:
        self._lock = threading.Lock()
        self._wall_ms = wall_ms
        self._mono = monotonic
        self.slept: list[float] = []

    def wall_ms(self) -> int:
        """Return the current virtual wall time."""
        with self._lock:
            return self._wall_ms

    def monotonic(self) -> float:
        """Return the current virtual monotonic time."""
        with self._lock:
            return self._mono

    def sleep(self, seconds: float) -> None:
        """Record the sleep and advance both clocks by it."""
        with self._lock:
            self.slept.append(seconds)
        self.advance(max(0.0, seconds))

    def advance(self, seconds: float) -> None:
        """Move both clocks forward by ``seconds``."""
        with self._lock:
            self._mono += seconds
            self._wall_ms += round(seconds * 1000)

    def set_wall_ms(self, wall_ms: int) -> None:
        """Jump the wall clock (the monotonic clock does not move)."""
        with self._lock:
            self._wall_ms = wall_ms


class AdjustedClock:
    """A clock whose wall time is the base clock's plus an adopted offset.

    Args:
        base: the underlying clock (monotonic time and sleep pass straight through).
        offset_ms: initial offset in milliseconds.
    """

    def __init__(self, base: Clock, offset_ms: int = 0) -> None:
        self._base = base
        self._lock = threading.Lock()
        self._offset_ms = offset_ms

    @property
    def base(self) -> Clock:
        """The unadjusted clock."""
        return self._base

    @property
    def offset_ms(self) -> int:
        """Milliseconds added to the base wall clock."""
        with self._lock:
            return self._offset_ms

    def adopt(self, server_time_ms: int) -> int:
        """Adopt a trusted server time: from now on ``wall_ms()`` tracks it.

        Args:
            server_time_ms: a server timestamp from a verified (signed) message.

        Returns:
            The new offset in milliseconds.
        """
        offset = server_time_ms - self._base.wall_ms()
        with self._lock:
            self._offset_ms = offset
        return offset

    def wall_ms(self) -> int:
        """Return the base wall time plus the offset."""
        return self._base.wall_ms() + self.offset_ms

    def monotonic(self) -> float:
        """Return the base monotonic time."""
        return self._base.monotonic()

    def sleep(self, seconds: float) -> None:
        """Sleep on the base clock."""
        self._base.sleep(seconds)
