"""Append latency as each camera's uploader sees it, through the device's crash-point seam.

The uploader passes ``upload.appending`` just before it sends a chunk and ``upload.appended``
once the append is in the object (after any retries the exactly-once rule allowed), both on
the uploader's thread. :class:`AppendTimer` is the camera's crash-point hook: it never stops
anything, it times the span between those two points into a shared
:class:`LatencyHistogram`. An append that fails leaves no sample (the next
``upload.appending`` starts over).
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable, Sequence

__all__ = ["BOUNDS_S", "AppendTimer", "LatencyHistogram", "merge_counts"]

# Bucket upper bounds: 1 ms growing by a quarter each step, past ten minutes.
BOUNDS_S: tuple[float, ...] = tuple(0.001 * 1.25**k for k in range(61))


class LatencyHistogram:
    """Counts of latencies per bucket of :data:`BOUNDS_S` (the last one takes the rest)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = [0] * (len(BOUNDS_S) + 1)

    def add(self, seconds: float) -> None:
        """Count one latency."""
        index = bisect.bisect_left(BOUNDS_S, seconds)
        with self._lock:
            self._counts[index] += 1

    def counts(self) -> list[int]:
        """A copy of the bucket counts."""
        with self._lock:
            return list(self._counts)


def merge_counts(histograms: Sequence[Sequence[int]]) -> list[tuple[float, float]]:
    """Sum bucket counts and return (upper bound s, cumulative count) pairs, ascending.

    The overflow bucket is given an infinite bound.
    """
    totals = [0] * (len(BOUNDS_S) + 1)
    for counts in histograms:
        for i, n in enumerate(counts):
            totals[i] += n
    out: list[tuple[float, float]] = []
    running = 0
    for bound, n in zip((*BOUNDS_S, float("inf")), totals, strict=True):
        running += n
        out.append((bound, float(running)))
    return out


class AppendTimer:
    """A camera's crash-point hook that times appends into ``histogram``.

    Args:
        histogram: where the latencies go (shared by a group's cameras).
        monotonic: the clock.
    """

    def __init__(
        self, histogram: LatencyHistogram, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._histogram = histogram
        self._monotonic = monotonic
        self._sent: float | None = None

    def reached(self, name: str) -> None:
        """Start timing at ``upload.appending``, record at ``upload.appended``."""
        if name == "upload.appending":
            self._sent = self._monotonic()
        elif name == "upload.appended" and self._sent is not None:
            self._histogram.add(self._monotonic() - self._sent)
            self._sent = None
