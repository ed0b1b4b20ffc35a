"""Broker-side quarantine of a camera that floods the responder.

The pipeline mutes a camera that keeps asking after it was told to wait, and then drops its
requests cheaply; but the broker still queues the whole flood in front of other cameras'
requests, and Mosquitto 2.0 has no per-client publish rate limit. So, when a camera is muted,
the responder asks the broker (its dynamic-security plugin, through an admin account) to
disable the camera's account for a quarantine period: the broker closes the camera's
connection and refuses its reconnects, and the flood stops before it is queued. Afterwards
the account is enabled again.

Where the quarantine is recorded: in the disabled account itself (its description, see
:func:`cloud.registry.broker_accounts.quarantine_mark`). It survives a restart of this
process, every responder of a group sees the same record whatever its state backend, and
the operator's ``ossmedia devices revoke/delete/reinstate`` removes it in the same broker
batch that changes the account, so no stale record can enable a revoked camera.

Threads: :meth:`Quarantine.request` is called by the pipeline on the MQTT network thread and
only records the wish (bounded: one pending command per camera, at most ``max_active``
cameras held). One worker thread talks to the broker: it disables requested accounts first,
then ends quarantines that are due, and searches the broker for marked accounts at start-up
and every ``sweep_interval_s`` (a quarantine begun by a responder that is gone is ended too).
A broker that cannot be reached is logged and counted; the responder keeps answering.

Ending a quarantine, in order:

1. the account's mark is read again: no account (deleted), no mark (an operator acted, or
   another responder ended it) -> nothing to do; a later end (another responder quarantined
   it again) -> wait for that;
2. the registry is read (not the responder's cache): a revoked or deleted camera keeps its
   account disabled, and only loses the mark;
3. the account is enabled and the mark removed in one batch;
4. the registry is read once more: an operator who revoked the camera between 2 and 3 (the
   registry first, then the broker) has disabled the account before 3 or is seen here, and
   the account is disabled again.

Several responders may quarantine and end the same camera: every step is idempotent. The one
race left is harmless: a responder ending a quarantine just as another one starts a new one
can enable the account; the camera, if it still floods, is muted and quarantined again.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Protocol

from cloud.errors import BrokerAccountError, DeviceNotFound, RegistryError
from cloud.registry.broker_accounts import AccountState
from cloud.registry.models import DeviceRecord, DeviceStatus
from cloud.responder.metrics import Metrics
from schemas.ids import DeviceId

_log = logging.getLogger("ossmedia.responder.quarantine")
RETRY_S = 30.0  # a failed end of quarantine is tried again after this long


class QuarantineBroker(Protocol):
    """The broker operations a quarantine needs (:class:`~cloud.registry.broker_accounts.DynsecAccounts`)."""

    def quarantine(self, device_id: DeviceId, until_s: int) -> bool:
        """Disable the account and mark it until ``until_s``; ``False`` when left alone."""

    def state(self, device_id: DeviceId) -> AccountState | None:
        """The account's state, ``None`` when there is no account."""

    def lift(self, device_id: DeviceId) -> None:
        """Enable the account and remove its mark."""

    def clear(self, device_id: DeviceId) -> None:
        """Remove the mark and keep the account disabled."""

    def quarantined(self) -> dict[str, int]:
        """Every marked account and the end of its quarantine."""


class DeviceRecords(Protocol):
    """The registry, read fresh (:class:`~cloud.registry.Registry`)."""

    def get(self, device_id: str) -> DeviceRecord:
        """The device's record; raises ``DeviceNotFound``."""


class Quarantine:
    """Quarantines flooding cameras at the broker (see the module docstring).

    Args:
        broker: the broker's account operations.
        registry: where a camera's status is read before its account is enabled again.
        period_s: how long a quarantine lasts.
        max_active: the most cameras held at once; requests beyond it are counted and logged.
        sweep_interval_s: how often the broker is searched for quarantines that are over.
        metrics: where outcomes are counted (``ossmedia_responder_quarantine_total``).
        clock_s: wall clock in epoch seconds (marks are compared across processes).
        retry_s: how long after a failed attempt an end of quarantine is tried again.
    """

    def __init__(
        self,
        broker: QuarantineBroker,
        registry: DeviceRecords,
        *,
        period_s: float,
        max_active: int,
        sweep_interval_s: float,
        metrics: Metrics | None = None,
        clock_s: Callable[[], float] = time.time,
        retry_s: float = RETRY_S,
    ) -> None:
        self._broker = broker
        self._registry = registry
        self._period_s = period_s
        self._max_active = max_active
        self._sweep_interval_s = sweep_interval_s
        self._metrics = metrics
        self._clock_s = clock_s
        self._retry_s = retry_s
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pending: dict[DeviceId, None] = {}  # insertion-ordered set
        self._active: dict[DeviceId, float] = {}  # camera -> when to look at it next
        self._next_sweep = 0.0  # sweep at once
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="responder-quarantine", daemon=True)
        if metrics is not None:
            metrics.quarantined.set_function(lambda: len(self._active))

    # -- any thread ----------------------------------------------------------------------

    def request(self, device_id: DeviceId) -> None:
        """Ask for ``device_id`` to be quarantined; returns at once (network thread).

        Nothing happens when it is already pending or held, or when ``max_active`` cameras
        are (then it is counted as ``capped`` and logged).
        """
        with self._lock:
            if device_id in self._pending:
                return
            held = self._active.get(device_id)
            if held is not None and held > self._clock_s():
                return
            if len(self._pending) + len(self._active) >= self._max_active:
                capped = True
            else:
                capped = False
                self._pending[device_id] = None
                self._wake.notify_all()
        if capped:
            self._count("capped")
            _log.warning(
                "quarantine refused: too many cameras held",
                extra={"fields": {"device_id": device_id, "max_active": self._max_active}},
            )

    def held(self) -> dict[DeviceId, float]:
        """The cameras this responder holds and when it looks at each next (epoch seconds)."""
        with self._lock:
            return dict(self._active)

    # -- the worker ----------------------------------------------------------------------

    def step(self) -> float:
        """Do everything that is due now: pending disables, a sweep, ends of quarantine.

        Returns:
            Seconds until something is due again.
        """
        while True:
            with self._lock:
                if not self._pending or self._stopping:
                    break
                device_id = next(iter(self._pending))
                del self._pending[device_id]
            self._disable(device_id)
        now = self._clock_s()
        if now >= self._next_sweep:
            self._sweep()
            self._next_sweep = now + self._sweep_interval_s
        for device_id, due in sorted(self.held().items(), key=lambda item: item[1]):
            if due > self._clock_s() or self._stopping:
                break
            self._end(device_id)
        with self._lock:
            if self._pending:
                return 0.0
            upcoming = min([self._next_sweep, *self._active.values()])
        return max(0.0, upcoming - self._clock_s())

    def _disable(self, device_id: DeviceId) -> None:
        until = math.ceil(self._clock_s() + self._period_s)
        try:
            done = self._broker.quarantine(device_id, until)
        except BrokerAccountError as exc:
            self._count("failed")
            _log.warning(
                "quarantine failed",
                extra={"fields": {"device_id": device_id, "error": exc.message}},
            )
            return
        if not done:
            self._count("skipped")
            _log.warning(
                "quarantine skipped: the camera's account is missing or disabled already",
                extra={"fields": {"device_id": device_id}},
            )
            return
        with self._lock:
            self._active[device_id] = until
        self._count("disabled")
        _log.warning(
            "camera quarantined: its broker account is disabled",
            extra={"fields": {"device_id": device_id, "until": until}},
        )

    def _sweep(self) -> None:
        try:
            marked = self._broker.quarantined()
        except BrokerAccountError as exc:
            self._count("failed")
            _log.warning("quarantine sweep failed", extra={"fields": {"error": exc.message}})
            return
        with self._lock:
            for name, until in marked.items():
                device_id = DeviceId(name)
                if device_id not in self._active:
                    self._active[device_id] = until

    def _end(self, device_id: DeviceId) -> None:
        outcome = "failed"
        try:
            outcome = self._try_end(device_id)
        except (BrokerAccountError, RegistryError) as exc:
            _log.warning(
                "ending a quarantine failed; trying again later",
                extra={"fields": {"device_id": device_id, "error": exc.message}},
            )
            with self._lock:
                self._active[device_id] = self._clock_s() + self._retry_s
        self._count(outcome)

    def _try_end(self, device_id: DeviceId) -> str:
        state = self._broker.state(device_id)
        until = None if state is None else state.quarantined_until
        if until is not None and until > self._clock_s():
            with self._lock:  # quarantined again meanwhile (by this or another responder)
                self._active[device_id] = until
            return "extended"
        if until is None:  # gone, or an operator (or another responder) acted already
            self._forget(device_id)
            return "ended"
        if not self._allowed(device_id):
            self._broker.clear(device_id)
            self._forget(device_id)
            _log.warning(
                "quarantine over; the camera is revoked, its account stays disabled",
                extra={"fields": {"device_id": device_id}},
            )
            return "kept"
        self._broker.lift(device_id)
        if not self._allowed(device_id):  # revoked while we enabled it: the operator wins
            self._broker.clear(device_id)
            self._forget(device_id)
            return "kept"
        self._forget(device_id)
        _log.info(
            "quarantine over: the camera's broker account is enabled again",
            extra={"fields": {"device_id": device_id}},
        )
        return "lifted"

    def _allowed(self, device_id: DeviceId) -> bool:
        try:
            record = self._registry.get(device_id)
        except DeviceNotFound:
            return False
        return record.status is DeviceStatus.ACTIVE

    def _forget(self, device_id: DeviceId) -> None:
        with self._lock:
            self._active.pop(device_id, None)

    def _count(self, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.quarantine_event(outcome)

    def _run(self) -> None:
        while True:
            try:
                delay = self.step()
            except Exception as exc:  # the worker must never die silently
                _log.error(
                    "quarantine worker error", extra={"fields": {"error_type": type(exc).__name__}}
                )
                delay = self._retry_s
            with self._wake:
                self._wake.wait_for(lambda: self._pending or self._stopping, timeout=delay)
                if self._stopping:
                    return

    def start(self) -> None:
        """Start the worker (its first job is a sweep of the broker's accounts)."""
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the worker; quarantines in force stay recorded at the broker."""
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)


__all__ = ["DeviceRecords", "Quarantine", "QuarantineBroker"]
