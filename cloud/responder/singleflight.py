"""Single flight: concurrent calls for the same key share one execution."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Generic, TypeVar

T = TypeVar("T")


class SingleFlight(Generic[T]):
    """Run ``fn`` once per key at a time; callers arriving meanwhile get the same result.

    Use it where a duplicate call is costly or rate-limited (an STS call); do not use it for
    calls whose result depends on who asks.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[str, Future[T]] = {}

    def do(self, key: str, fn: Callable[[], T]) -> tuple[T, bool]:
        """Run ``fn`` for ``key``, or wait for the run already in progress.

        Args:
            key: what identifies identical calls.
            fn: the call.

        Returns:
            The result and whether it was shared from another caller's run.

        Raises:
            Exception: whatever ``fn`` raised, to the leader and to every follower.
        """
        with self._lock:
            future = self._calls.get(key)
            leader = future is None
            if future is None:
                future = Future()
                self._calls[key] = future
        if not leader:
            return future.result(), True
        try:
            result = fn()
        except BaseException as exc:
            future.set_exception(exc)
            raise
        else:
            future.set_result(result)
            return result, False
        finally:
            with self._lock:
                del self._calls[key]

    def in_flight(self) -> int:
        """How many keys are being computed right now."""
        with self._lock:
            return len(self._calls)
