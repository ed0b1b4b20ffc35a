"""The emulator's clock: real time plus an offset the admin API can move forward.

Every component of one emulator (IAM token expiry, STS timestamp checks, OSS request-time
checks, fault outage windows) reads the same :class:`EmulatorClock`, so advancing it makes
tokens expire and lifecycle rules due without any test waiting.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class EmulatorClock:
    """Callable clock returning epoch seconds.

    Args:
        base: the underlying clock (``time.time`` by default).
        offset_s: initial offset added to it.
    """

    def __init__(self, base: Callable[[], float] = time.time, offset_s: float = 0.0) -> None:
        self._base = base
        self._offset_s = offset_s
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self._base() + self._offset_s

    @property
    def offset_s(self) -> float:
        """Seconds the clock runs ahead of (or, when negative, behind) its base."""
        return self._offset_s

    def advance(self, seconds: float) -> float:
        """Move the clock by ``seconds`` (may be negative); returns the new offset."""
        with self._lock:
            self._offset_s += seconds
            return self._offset_s

    def set_offset(self, offset_s: float) -> None:
        """Set the offset outright."""
        with self._lock:
            self._offset_s = offset_s
