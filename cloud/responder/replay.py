"""Replay rules: a nonce is used once, but a duplicate delivery gets the same answer.

QoS 1 delivers a message at least once, so the very same request (same device, request id,
nonce and signature) may arrive twice, possibly at two responder processes. It must receive
the same reply again, not ``replay``. A *different* request reusing a nonce is a replay. The
nonce record lives until the request could no longer pass the skew check
(``issued_at + skew window``), so a nonce cannot be replayed inside the window.

While the first copy is still being processed, a duplicate waits for its reply. A claim whose
process stopped its heartbeat (it died), or that stays unanswered longer than the lease, is
taken over, so a request the broker redelivers after a crash is still answered.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from cloud.state.protocols import Claim, ClaimState, ReplyState

_MIN_POLL_S = 0.005
_MAX_POLL_S = 0.2


@dataclass(frozen=True, slots=True)
class RequestIdentity:
    """The parts of a request the replay rules look at.

    Attributes:
        device_id: the device.
        request_id: the request id.
        nonce: the request nonce.
        sig: the request signature.
        issued_at_ms: when the device says it issued the request.
    """

    device_id: str
    request_id: str
    nonce: str
    sig: str
    issued_at_ms: int

    @property
    def key(self) -> str:
        """The nonce record key."""
        return f"{self.device_id}:{self.nonce}"

    @property
    def fingerprint(self) -> str:
        """What makes two deliveries the same request (the nonce is in the key)."""
        return f"{self.request_id}:{self.sig}"


class ReplayGuard:
    """Apply the replay rules on top of a :class:`~cloud.state.ReplyState`.

    Args:
        replies: the nonce records (memory or Redis).
        skew_window_ms: the accepted clock skew; nonces are kept until it has passed.
        lease_ms: how long a claim may stay unanswered before a duplicate takes it over.
        clock_ms: wall clock in milliseconds.
        sleep: used while a duplicate waits for the first copy's reply.
        owner: this process's id in claims (its heartbeat keeps its claims from being taken
            over while it works on them).
    """

    def __init__(
        self,
        replies: ReplyState,
        *,
        skew_window_ms: int,
        lease_ms: int,
        clock_ms: Callable[[], int],
        sleep: Callable[[float], None] = time.sleep,
        owner: str = "",
    ) -> None:
        self._replies = replies
        self._owner = owner
        self._skew_ms = skew_window_ms
        self._lease_ms = lease_ms
        self._clock_ms = clock_ms
        self._sleep = sleep

    def _claim_once(self, ident: RequestIdentity) -> Claim:
        now = self._clock_ms()
        # Remember the nonce until the request itself would be refused as skewed.
        ttl = ident.issued_at_ms + self._skew_ms - now + 1000
        return self._replies.claim(
            ident.key,
            ident.fingerprint,
            now_ms=now,
            ttl_ms=max(ttl, 1000),
            lease_ms=self._lease_ms,
            owner=self._owner,
        )

    def claim(self, ident: RequestIdentity, *, wait: bool = True) -> Claim:
        """Claim a request's nonce.

        Args:
            ident: the request.
            wait: when the same request is being processed right now, wait until it is
                answered or its lease runs out (otherwise return ``PENDING`` at once).

        Returns:
            ``NEW`` (process it, then call :meth:`complete`), ``DONE`` with the stored reply
            (send it again), ``REPLAY``, or, only without ``wait``, ``PENDING``.

        Raises:
            StateError: the shared state failed.
        """
        delay = _MIN_POLL_S
        while True:
            claim = self._claim_once(ident)
            if claim.state is not ClaimState.PENDING or not wait:
                return claim
            self._sleep(delay)
            delay = min(delay * 2, _MAX_POLL_S)

    def peek(self, ident: RequestIdentity) -> Claim | None:
        """``REPLAY``, or ``DONE`` with the stored reply, if already known; records nothing."""
        return self._replies.peek(ident.key, ident.fingerprint, now_ms=self._clock_ms())

    def complete(self, ident: RequestIdentity, reply: bytes) -> None:
        """Store the reply sent for a claimed request, for its duplicates."""
        self._replies.complete(ident.key, ident.fingerprint, reply, now_ms=self._clock_ms())
