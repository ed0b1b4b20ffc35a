"""What the responder keeps between requests, as three small seams.

Each seam has an in-process implementation (:mod:`cloud.state.memory`) and a Redis one
(:mod:`cloud.state.redis`) so that replay detection, rate limits, the STS call cap and the
credential cache hold across several responder processes. Every call takes ``now_ms`` from
the caller's injected clock: the backends never read a clock themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Reservation:
    """The answer of a rate reservation.

    Attributes:
        admitted: whether the caller may go ahead.
        wait_ms: when admitted, how long to wait for its slot (0 = now).
        retry_after_ms: when refused, how long until asking again makes sense.
    """

    admitted: bool
    wait_ms: int = 0
    retry_after_ms: int = 0


class RateState(Protocol):
    """Generic cell rate algorithm (GCRA) counters keyed by name."""

    def reserve(
        self,
        key: str,
        *,
        now_ms: int,
        interval_ms: float,
        burst: int,
        max_wait_ms: int,
        promise: bool = False,
        promise_interval_ms: float | None = None,
    ) -> Reservation:
        """Take the next slot of ``key`` if it is at most ``max_wait_ms`` away.

        Slots are ``interval_ms`` apart; up to ``burst`` may be taken at once after a pause.
        With ``promise``, a refused caller is handed the next unpromised future slot as its
        ``retry_after_ms`` (and later refused callers the ones after it), so callers told to
        come back return spread out at the rate instead of all at once;
        ``promise_interval_ms`` spaces those promises (default ``interval_ms``).
        """


class ClaimState(StrEnum):
    """What a request's nonce record says when the request arrives."""

    NEW = "new"  # first sight (or a stale claim taken over): process it
    DONE = "done"  # the same request was answered: send the stored reply again
    PENDING = "pending"  # the same request is being processed elsewhere right now
    REPLAY = "replay"  # the nonce was used by a different request


@dataclass(frozen=True)
class Claim:
    """Result of :meth:`ReplyState.claim`."""

    state: ClaimState
    reply: bytes | None = field(default=None, repr=False)


class ReplyState(Protocol):
    """Nonce memory and reply cache, one record per ``(device_id, nonce)``."""

    def claim(
        self,
        key: str,
        fingerprint: str,
        *,
        now_ms: int,
        ttl_ms: int,
        lease_ms: int,
        owner: str = "",
    ) -> Claim:
        """Record a request's nonce, or report what is known about it.

        Args:
            key: the record key (device id and nonce).
            fingerprint: identifies the exact request (request id, nonce, signature).
            now_ms: current time.
            ttl_ms: how long to remember the nonce (covers the skew window).
            lease_ms: how long a claim may stay unanswered before another worker may take it
                over (a process that died mid-request must not strand its requests).
            owner: the claiming process; a claim whose owner stopped sending heartbeats
                (see :meth:`SharedState.heartbeat`) is taken over before its lease ends.
        """

    def complete(self, key: str, fingerprint: str, reply: bytes, *, now_ms: int) -> None:
        """Store the reply sent for a claimed request, for duplicates to receive."""

    def peek(self, key: str, fingerprint: str, *, now_ms: int) -> Claim | None:
        """What is already known about a request, recording nothing.

        Returns:
            ``REPLAY`` when the nonce belongs to another request, ``DONE`` with the stored
            reply when this very request was answered, else ``None`` (unknown or pending).
        """


class BlobState(Protocol):
    """Opaque values with an expiry (the credential cache)."""

    def get(self, key: str, *, now_ms: int) -> bytes | None:
        """The value, or ``None`` when absent or expired."""

    def put(self, key: str, value: bytes, *, now_ms: int, ttl_ms: int) -> None:
        """Store a value for ``ttl_ms``."""

    def delete(self, key: str) -> None:
        """Forget a value."""


class SharedState(Protocol):
    """The three seams together, from one backend."""

    @property
    def name(self) -> str:
        """``memory`` or ``redis``."""

    @property
    def rates(self) -> RateState:
        """Rate reservations."""

    @property
    def replies(self) -> ReplyState:
        """Nonce memory and reply cache."""

    @property
    def blobs(self) -> BlobState:
        """Expiring values."""

    def heartbeat(self, owner: str, *, ttl_ms: int) -> None:
        """Declare ``owner`` alive for ``ttl_ms`` (claims of dead owners are taken over)."""

    def ping(self) -> None:
        """Check that the backend answers.

        Raises:
            StateError: it does not.
        """

    def close(self) -> None:
        """Release connections."""
