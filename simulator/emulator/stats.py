"""Request counters per operation and outcome (``"200"``, ``"503"``, ``"reset"`` ...)."""

from __future__ import annotations

import threading


class RequestStats:
    """Thread-safe counters, read through :meth:`snapshot` by the admin API."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, dict[str, int]] = {}

    def record(self, operation: str, outcome: str) -> None:
        """Count one finished request."""
        with self._lock:
            per_op = self._counts.get(operation)
            if per_op is None:
                per_op = self._counts[operation] = {}
            per_op[outcome] = per_op.get(outcome, 0) + 1

    def snapshot(self) -> dict[str, dict[str, int]]:
        """A copy of all counters."""
        with self._lock:
            return {op: dict(outcomes) for op, outcomes in self._counts.items()}

    def reset(self) -> None:
        """Start counting from zero."""
        with self._lock:
            self._counts = {}
