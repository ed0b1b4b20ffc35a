"""The global STS call cap.

STS allows an account about 100 AssumeRole calls per second; every responder process shares
one budget through :class:`~cloud.state.RateState`. A call whose slot is at most
``max_queue_ms`` away waits for it; any other caller is refused at once with a
``retry_after_ms`` taken from the queue of promised slots, so a boot storm of thousands of
cameras comes back spread over time at the cap instead of hammering it in lockstep. Returns
are promised a little faster than the cap (see ``PROMISE_DENSITY``) because cameras add
jitter to the wait, so some always come back late.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from cloud.errors import StsThrottled
from cloud.state.protocols import RateState

STS_RATE_KEY = "sts-calls"
# Cameras wait retry_after_ms *plus* jitter, so a promised slot is often reached late and would
# go unused. Promising returns at about 1.4 times the cap keeps STS busy at the cap; the surplus
# that arrives when every slot is taken is refused again with a later slot.
PROMISE_DENSITY = 0.7


class StsCallLimiter:
    """Admit STS calls at no more than ``calls_per_second``.

    Args:
        rates: the shared rate state.
        calls_per_second: the cap (keep it below the account quota).
        max_queue_ms: the longest a caller may wait for its slot before being refused.
        clock_ms: wall clock in milliseconds (shared across processes).
        sleep: sleeps for a number of seconds (injected for tests).
    """

    def __init__(
        self,
        rates: RateState,
        *,
        calls_per_second: float,
        max_queue_ms: int,
        clock_ms: Callable[[], int],
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._rates = rates
        self._interval_ms = 1000.0 / calls_per_second
        self._max_queue_ms = max_queue_ms
        self._clock_ms = clock_ms
        self._sleep = sleep

    def acquire(self) -> int:
        """Wait for a slot for one STS call.

        Returns:
            How many milliseconds the caller waited in the queue.

        Raises:
            StsThrottled: no slot within ``max_queue_ms``; ``retry_after_ms`` says when to
                come back.
            StateError: the shared state failed.
        """
        reservation = self._rates.reserve(
            STS_RATE_KEY,
            now_ms=self._clock_ms(),
            interval_ms=self._interval_ms,
            burst=1,
            max_wait_ms=self._max_queue_ms,
            promise=True,
            promise_interval_ms=self._interval_ms * PROMISE_DENSITY,
        )
        if not reservation.admitted:
            raise StsThrottled(
                "STS call cap reached",
                code="LocalThrottling",
                retry_after_ms=reservation.retry_after_ms,
            )
        if reservation.wait_ms > 0:
            self._sleep(reservation.wait_ms / 1000.0)
        return reservation.wait_ms
