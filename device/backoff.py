"""Jittered exponential backoff for loops that are not a single tenacity-wrapped call.

Reconnect loops, credential retries and the uploader's outage waits all retry "until it
works" rather than a bounded number of times, so they keep their own attempt counter and
ask tenacity's ``wait_random_exponential`` (full jitter) for each delay. Full jitter is
what keeps a fleet that lost its broker at the same moment from coming back in lockstep;
a plain ``wait_exponential`` would not.
"""

from __future__ import annotations

from tenacity import RetryCallState, Retrying, wait_random_exponential

__all__ = ["Backoff"]


class Backoff:
    """Full-jitter exponential delays: attempt *n* waits ``uniform(0, min(cap, base * 2**n))``.

    Args:
        initial: the window of the first delay, in seconds.
        maximum: the largest window, in seconds.

    Do not use this for a bounded retry of one call: wrap the call in ``tenacity.Retrying``
    instead, which also counts attempts and re-raises.
    """

    def __init__(self, *, initial: float = 0.5, maximum: float = 30.0) -> None:
        if initial <= 0 or maximum < initial:
            raise ValueError("need 0 < initial <= maximum")
        self._wait = wait_random_exponential(multiplier=initial, max=maximum)
        self._state = RetryCallState(Retrying(), None, (), {})
        self.attempts = 0

    def next_delay(self) -> float:
        """Count one more failed attempt and return how long to wait before the next one."""
        self.attempts += 1
        self._state.attempt_number = self.attempts
        return float(self._wait(self._state))

    def reset(self) -> None:
        """Forget past failures (call after a success)."""
        self.attempts = 0
