"""Counters of the OSS emulator: requests per operation and outcome, bytes in and out."""

from __future__ import annotations

import threading
from collections import Counter


class Stats:
    """Request counters (safe to read from another thread while the app runs).

    Outcomes are ``OK`` or the OSS error code answered (``NoSuchKey``,
    ``PositionNotEqualToLength`` ...); ``ClientDisconnected`` counts requests whose client went
    away before the body was complete.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[tuple[str, str]] = Counter()
        self._bytes_in = 0
        self._bytes_out = 0

    def record(
        self, operation: str, outcome: str, *, bytes_in: int = 0, bytes_out: int = 0
    ) -> None:
        """Count one finished request."""
        with self._lock:
            self._requests[(operation, outcome)] += 1
            self._bytes_in += bytes_in
            self._bytes_out += bytes_out

    def count(self, operation: str, outcome: str | None = None) -> int:
        """Requests of ``operation`` with ``outcome`` (all outcomes when ``None``)."""
        with self._lock:
            if outcome is not None:
                return self._requests[(operation, outcome)]
            return sum(n for (op, _), n in self._requests.items() if op == operation)

    def snapshot(self) -> dict[str, object]:
        """A JSON-ready copy: ``{"requests": {op: {outcome: n}}, "bytes_in": n, "bytes_out": n}``."""
        with self._lock:
            requests: dict[str, dict[str, int]] = {}
            for (op, outcome), n in sorted(self._requests.items()):
                requests.setdefault(op, {})[outcome] = n
            return {"requests": requests, "bytes_in": self._bytes_in, "bytes_out": self._bytes_out}

    def reset(self) -> None:
        """Zero every counter."""
        with self._lock:
            self._requests.clear()
            self._bytes_in = 0
            self._bytes_out = 0
