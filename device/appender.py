"""Exactly-once appends to one appendable object, with bounded jittered retries.

Why a retried append cannot add bytes twice: OSS applies ``append(position=p)`` only when
the object's length is exactly ``p``. Once an append of ``n`` bytes has landed, the
object is ``p + n`` long and any repeat of that request is refused with
``PositionNotEqualToLength``. So the only question after a failure whose outcome is
unknown (a transport error, a 5xx, a lost response) is *did it land?*, and it is answered
by HEAD, never by sending again blind:

* length ``p + n`` and CRC-64 equal to the running CRC continued over the new bytes:
  **landed** - commit and return without resending;
* length ``p`` and CRC-64 equal to the committed CRC: **not landed** - send again;
* anything else: **diverged** - someone else changed the object; stop with
  :class:`~device.errors.AppendDiverged` rather than write on top of unknown content.

A ``PositionNotEqualToLength`` answer goes through the same three-way decision.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from device.crc64 import combine, crc64
from device.errors import (
    AppendDiverged,
    AuthError,
    ObjectNotAppendable,
    PositionMismatch,
    TransientStorageError,
)
from device.settings import AppendRetrySettings
from device.store import ObjectInfo, ObjectStore

__all__ = ["AppendState", "Appender", "Outcome", "decide_outcome", "store_retrying"]

log = logging.getLogger(__name__)


class Outcome(enum.Enum):
    """Whether an append whose answer was lost is in the object."""

    LANDED = "landed"
    NOT_LANDED = "not_landed"
    DIVERGED = "diverged"


@dataclass(frozen=True)
class AppendState:
    """The committed state of an appendable object: its length and CRC-64."""

    position: int
    crc64: int


def decide_outcome(info: ObjectInfo | None, before: AppendState, after: AppendState) -> Outcome:
    """Decide from a HEAD whether the append that moves ``before`` to ``after`` landed.

    Args:
        info: the HEAD result (``None`` if the object does not exist).
        before: committed length and CRC-64 before the append.
        after: length and CRC-64 the object has if the append landed.

    Returns:
        ``LANDED``, ``NOT_LANDED`` or ``DIVERGED``.
    """
    if info is None:
        return Outcome.NOT_LANDED if before.position == 0 else Outcome.DIVERGED
    if not info.appendable:
        return Outcome.DIVERGED
    # A store that omits the CRC leaves only the length to compare; OSS always sends it.
    if info.size == after.position and info.crc64 in (None, after.crc64):
        return Outcome.LANDED
    if info.size == before.position and info.crc64 in (None, before.crc64):
        return Outcome.NOT_LANDED
    return Outcome.DIVERGED


class _RefreshedCredentials(Exception):
    """Internal: credentials were just refreshed after an auth error; try once more."""


_hash_pool: ThreadPoolExecutor | None = None
_hash_pool_lock = threading.Lock()


def _hasher() -> ThreadPoolExecutor:
    global _hash_pool
    with _hash_pool_lock:
        if _hash_pool is None:
            _hash_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crc64")
        return _hash_pool


class _Expected:
    """The object's state if the append lands; its CRC is hashed while the request is sent.

    The hash runs in a helper thread so it overlaps the round trip to the store (the C
    CRC code holds the GIL, but the sending thread spends that time waiting on the socket).
    """

    def __init__(self, before: AppendState, data: bytes, data_crc: int | None) -> None:
        self._position = before.position + len(data)
        self._crc: int | None = None
        self._future: Future[int] | None = None
        if data_crc is not None:
            self._crc = combine(before.crc64, data_crc, len(data))
        else:
            self._future = _hasher().submit(crc64, data, before.crc64)

    def state(self) -> AppendState:
        if self._crc is None:
            if self._future is None:  # pragma: no cover - one of the two is always set
                raise RuntimeError("no CRC source")
            self._crc = self._future.result()
        return AppendState(self._position, self._crc)


def store_retrying(retry: AppendRetrySettings, sleep: Callable[[float], None]) -> Retrying:
    """Build the bounded, jittered tenacity strategy used for every store call.

    Args:
        retry: attempts and backoff windows.
        sleep: the injected sleep.

    Returns:
        A ``tenacity.Retrying`` that retries transient storage errors and re-raises the
        last error when attempts run out.
    """
    return Retrying(
        stop=stop_after_attempt(retry.attempts),
        wait=wait_random_exponential(multiplier=retry.initial_s, max=retry.max_s),
        retry=retry_if_exception_type((TransientStorageError, _RefreshedCredentials)),
        sleep=sleep,
        reraise=True,
    )


class Appender:
    """Appends to one object at a known position, exactly once per call.

    Args:
        store: the object store.
        key: the object key.
        state: committed length and CRC-64 of the object.
        retry: bounded retry settings.
        sleep: the injected sleep used between attempts.
        refresh_credentials: called once per append after the store rejects the
            credentials; it must return only when fresh credentials are in place.
    """

    def __init__(
        self,
        store: ObjectStore,
        key: str,
        state: AppendState,
        *,
        retry: AppendRetrySettings,
        sleep: Callable[[float], None],
        refresh_credentials: Callable[[], None] | None = None,
    ) -> None:
        self._store = store
        self.key = key
        self._state = state
        self._retry = retry
        self._sleep = sleep
        self._refresh = refresh_credentials
        self.reconciliations: dict[Outcome, int] = dict.fromkeys(Outcome, 0)

    @property
    def state(self) -> AppendState:
        """The committed length and CRC-64."""
        return self._state

    def append(self, data: bytes, data_crc: int | None = None) -> AppendState:
        """Append ``data`` exactly once and return the new committed state.

        Args:
            data: the bytes to add at the committed position.
            data_crc: CRC-64 of ``data`` alone, if already known (the spool stores one per
                chunk); the object's new CRC is then combined from it instead of hashing
                the bytes again. When omitted, the bytes are hashed while the request is on
                the wire.

        Returns:
            The committed state after the append.

        Raises:
            TransientStorageError: attempts ran out; the state is unchanged, and a later
                call with the same data is still exactly-once.
            AppendDiverged: the object no longer matches the committed state.
            ObjectNotAppendable, ObjectTooLarge, AccessDenied, AuthError: not retried.
        """
        if not data:
            return self._state
        before = self._state
        after = _Expected(before, data, data_crc)
        uncertain = False
        refreshed = False
        for attempt in store_retrying(self._retry, self._sleep):
            with attempt:
                try:
                    if uncertain and self._landed(before, after.state()):
                        return self._commit(after.state())
                    uncertain = False
                    return self._send(data, before, after)
                except (TransientStorageError, PositionMismatch):
                    # From here on the previous request may or may not be in the object;
                    # the next attempt HEADs before it sends anything.
                    uncertain = True
                    raise
                except AuthError:
                    if refreshed or self._refresh is None:
                        raise
                    refreshed = True
                    log.info("store rejected credentials for %s; refreshing once", self.key)
                    self._refresh()
                    raise _RefreshedCredentials() from None
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    def _send(self, data: bytes, before: AppendState, after: _Expected) -> AppendState:
        try:
            result = self._store.append(self.key, before.position, data)
        except PositionMismatch:
            if self._landed(before, after.state()):
                return self._commit(after.state())
            # Length equals our position after all (a store-side race): plain retry.
            raise TransientStorageError(
                "position mismatch, but the object is at the committed position",
                code="PositionNotEqualToLength",
                object_key=self.key,
                position=before.position,
            ) from None
        expected = after.state()
        if result.next_position != expected.position or result.crc64 not in (
            None,
            expected.crc64,
        ):
            raise AppendDiverged(
                f"store reports length {result.next_position} crc {result.crc64}, "
                f"expected {expected.position} crc {expected.crc64}",
                object_key=self.key,
                position=before.position,
                request_id=result.request_id,
            )
        return self._commit(expected)

    def _landed(self, before: AppendState, after: AppendState) -> bool:
        info = self._store.head(self.key)
        outcome = decide_outcome(info, before, after)
        self.reconciliations[outcome] += 1
        log.info(
            "append to %s at %d after unknown outcome: %s", self.key, before.position, outcome.value
        )
        if outcome is Outcome.DIVERGED:
            if info is not None and not info.appendable:
                raise ObjectNotAppendable(
                    f"object became {info.object_type}",
                    object_key=self.key,
                    position=before.position,
                )
            found = "absent" if info is None else f"length {info.size} crc {info.crc64}"
            raise AppendDiverged(
                f"object is {found}; committed length {before.position} crc {before.crc64}",
                object_key=self.key,
                position=before.position,
            )
        return outcome is Outcome.LANDED

    def _commit(self, after: AppendState) -> AppendState:
        self._state = after
        return after
