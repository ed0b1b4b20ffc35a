"""In-process shared state: the default for a single responder process.

Every structure is guarded by one lock per seam; expired records are swept lazily so memory
stays bounded by the live window (nonces of the last skew window, devices seen recently).
"""

from __future__ import annotations

import heapq
import threading

from cloud.state.gcra import GcraCell, gcra_step, idle_after
from cloud.state.protocols import Claim, ClaimState, Reservation

_SWEEP_EVERY = 1024


class _Expiring:
    """A dict whose entries carry an expiry, swept in expiry order."""

    def __init__(self) -> None:
        self.items: dict[str, tuple[float, object]] = {}
        self._heap: list[tuple[float, str]] = []  # about one entry per key
        self._ops = 0

    def get(self, key: str, now_ms: float) -> object | None:
        entry = self.items.get(key)
        if entry is None or entry[0] <= now_ms:
            return None
        return entry[1]

    def put(self, key: str, value: object, expires_ms: float, now_ms: float) -> None:
        known = key in self.items
        self.items[key] = (expires_ms, value)
        # A key already in the heap keeps its entry: the sweep re-files it at its current
        # expiry when that entry comes up, so a hot key costs no heap push per update.
        if not known:
            heapq.heappush(self._heap, (expires_ms, key))
        self._ops += 1
        if self._ops % _SWEEP_EVERY == 0:
            self.sweep(now_ms)

    def sweep(self, now_ms: float) -> None:
        while self._heap and self._heap[0][0] <= now_ms:
            _, key = heapq.heappop(self._heap)
            entry = self.items.get(key)
            if entry is None:
                continue
            if entry[0] <= now_ms:
                del self.items[key]
            else:
                heapq.heappush(self._heap, (entry[0], key))


class MemoryRateState:
    """GCRA counters in a dict."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cells = _Expiring()

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
        """See :meth:`cloud.state.protocols.RateState.reserve`."""
        with self._lock:
            cell = self._cells.get(key, now_ms)
            reservation, new = gcra_step(
                cell if isinstance(cell, GcraCell) else None,
                now_ms=now_ms,
                interval_ms=interval_ms,
                burst=burst,
                max_wait_ms=max_wait_ms,
                promise=promise,
                promise_interval_ms=promise_interval_ms,
            )
            self._cells.put(key, new, idle_after(new) + 1, now_ms)
            return reservation


class _Record:
    __slots__ = ("fingerprint", "lease_until", "reply")

    def __init__(self, fingerprint: str, lease_until: int) -> None:
        self.fingerprint = fingerprint
        self.lease_until = lease_until
        self.reply: bytes | None = None


class MemoryReplyState:
    """Nonce records and stored replies in a dict."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records = _Expiring()

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
        """See :meth:`cloud.state.protocols.ReplyState.claim` (one process: owners are alive)."""
        with self._lock:
            record = self._records.get(key, now_ms)
            if not isinstance(record, _Record):
                self._records.put(
                    key, _Record(fingerprint, now_ms + lease_ms), now_ms + ttl_ms, now_ms
                )
                return Claim(ClaimState.NEW)
            if record.fingerprint != fingerprint:
                return Claim(ClaimState.REPLAY)
            if record.reply is not None:
                return Claim(ClaimState.DONE, record.reply)
            if record.lease_until <= now_ms:
                record.lease_until = now_ms + lease_ms
                return Claim(ClaimState.NEW)
            return Claim(ClaimState.PENDING)

    def complete(self, key: str, fingerprint: str, reply: bytes, *, now_ms: int) -> None:
        """See :meth:`cloud.state.protocols.ReplyState.complete`."""
        with self._lock:
            record = self._records.get(key, now_ms)
            if isinstance(record, _Record) and record.fingerprint == fingerprint:
                record.reply = reply

    def peek(self, key: str, fingerprint: str, *, now_ms: int) -> Claim | None:
        """See :meth:`cloud.state.protocols.ReplyState.peek`."""
        with self._lock:
            record = self._records.get(key, now_ms)
            if not isinstance(record, _Record):
                return None
            if record.fingerprint != fingerprint:
                return Claim(ClaimState.REPLAY)
            return None if record.reply is None else Claim(ClaimState.DONE, record.reply)


class MemoryBlobState:
    """Expiring bytes in a dict."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values = _Expiring()

    def get(self, key: str, *, now_ms: int) -> bytes | None:
        """See :meth:`cloud.state.protocols.BlobState.get`."""
        with self._lock:
            value = self._values.get(key, now_ms)
            return value if isinstance(value, bytes) else None

    def put(self, key: str, value: bytes, *, now_ms: int, ttl_ms: int) -> None:
        """See :meth:`cloud.state.protocols.BlobState.put`."""
        with self._lock:
            self._values.put(key, value, now_ms + ttl_ms, now_ms)

    def delete(self, key: str) -> None:
        """See :meth:`cloud.state.protocols.BlobState.delete`."""
        with self._lock:
            self._values.items.pop(key, None)


class MemoryState:
    """All seams in process memory (one responder process)."""

    name = "memory"

    def __init__(self) -> None:
        self.rates = MemoryRateState()
        self.replies = MemoryReplyState()
        self.blobs = MemoryBlobState()

    def heartbeat(self, owner: str, *, ttl_ms: int) -> None:
        """Nothing to do: every claim in this process has a live owner."""

    def ping(self) -> None:
        """Always reachable."""

    def close(self) -> None:
        """Nothing to release."""
