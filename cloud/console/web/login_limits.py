"""Bounds on sign-in attempts, so a flood of logins cannot exhaust the console.

Each password check is one scrypt derivation of 32 MiB (N=2^15, r=8). Without a bound, a
crowd of requests with random user names runs that many derivations at once (48 parallel
attempts took a console from 80 MB to 1.1 GB), and the per-(user, address) lockout does not
help because every name is new. Three bounds apply before any hash is computed:

* **per address**: a token bucket per client address (default 10 attempts a minute, 5 at
  once) — one host cannot keep the checks busy;
* **global**: one token bucket for all addresses (default 120 a minute, 20 at once) — many
  hosts cannot either. Addresses an operator signed in from recently are exempt, so a flood
  from elsewhere does not lock the known operators out;
* **concurrency**: at most ``max_concurrent_password_checks`` derivations run at a time
  (default 2, i.e. 64 MiB); an attempt that cannot start one within a few seconds is turned
  away like a rate-limited one.

The per-address and global buckets and the operators' addresses live behind
:class:`AttemptBuckets`: in this process by default, in the ledger's database when replicas
share it (:class:`~cloud.console.web.replicas.SharedAttempts`), so N replicas still allow
the configured rate, not N times it. The concurrency bound stays per process: it bounds the
memory of the process that runs the derivations.

Refused attempts get HTTP 429 with ``Retry-After``. Unknown user names still cost one
derivation with the operators' own parameters (:class:`~cloud.console.web.auth.Authenticator`),
so timing does not tell them apart.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

from cloud.console.settings import SessionSettings
from cloud.state.gcra import GcraCell, gcra_step

GLOBAL = "*"
_MAX_ADDRESSES = 100_000
_MAX_TRUSTED = 1_000


class LoginBusy(Exception):
    """No password check could start in time.

    Args:
        retry_after_s: when to try again.
    """

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"sign-in is busy; retry in {retry_after_s} s")
        self.retry_after_s = retry_after_s


class AttemptBuckets(Protocol):
    """Where attempt buckets and the operators' recent addresses are kept."""

    def take(self, key: str, now_ms: float, *, interval_ms: float, burst: int) -> float | None:
        """Take one slot of ``key``'s bucket: ``None`` when admitted, else ms to wait."""
        ...

    def trust(self, client: str, now_ms: float, *, keep_ms: float) -> None:
        """Remember that an operator signed in from ``client`` at ``now_ms``."""
        ...

    def trusted(self, client: str, now_ms: float, *, keep_ms: float) -> bool:
        """True when an operator signed in from ``client`` less than ``keep_ms`` ago."""
        ...


class MemoryAttempts:
    """Attempt buckets in this process, bounded (the least recently seen go first)."""

    def __init__(self) -> None:
        self._cells: OrderedDict[str, GcraCell] = OrderedDict()
        self._trusted: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str, now_ms: float, *, interval_ms: float, burst: int) -> float | None:
        with self._lock:
            reservation, cell = gcra_step(
                self._cells.get(key),
                now_ms=now_ms,
                interval_ms=interval_ms,
                burst=burst,
                max_wait_ms=0,
                promise=False,
            )
            self._cells[key] = cell
            self._cells.move_to_end(key)
            while len(self._cells) > _MAX_ADDRESSES:
                self._cells.popitem(last=False)
        return None if reservation.admitted else float(reservation.retry_after_ms or 1000)

    def trust(self, client: str, now_ms: float, *, keep_ms: float) -> None:
        with self._lock:
            self._trusted[client] = now_ms
            self._trusted.move_to_end(client)
            while len(self._trusted) > _MAX_TRUSTED:
                self._trusted.popitem(last=False)

    def trusted(self, client: str, now_ms: float, *, keep_ms: float) -> bool:
        with self._lock:
            since = self._trusted.get(client)
        return since is not None and now_ms - since < keep_ms


class LoginGate:
    """The per-address, global and concurrency bounds of sign-in attempts.

    Args:
        settings: the limits (``SessionSettings.login_*`` and
            ``max_concurrent_password_checks``).
        clock: wall clock in seconds.
        check_wait_s: how long an admitted attempt may wait for a free password check.
        buckets: where attempts are counted; by default in this process.
    """

    def __init__(
        self,
        settings: SessionSettings,
        *,
        clock: Callable[[], float],
        check_wait_s: float = 5.0,
        buckets: AttemptBuckets | None = None,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._check_wait_s = check_wait_s
        self._buckets: AttemptBuckets = buckets if buckets is not None else MemoryAttempts()
        self._checks = threading.BoundedSemaphore(settings.max_concurrent_password_checks)

    def admit(self, client: str) -> int | None:
        """Count one attempt from ``client``.

        Returns:
            ``None`` when it may go ahead, else the seconds to wait (for ``Retry-After``).
        """
        s = self._settings
        now_ms = self._clock() * 1000
        retry = self._buckets.take(
            f"addr:{client}",
            now_ms,
            interval_ms=60_000 / s.login_attempts_per_address_per_minute,
            burst=s.login_burst,
        )
        if retry is None and not self._buckets.trusted(client, now_ms, keep_ms=self._keep_ms):
            retry = self._buckets.take(
                GLOBAL,
                now_ms,
                interval_ms=60_000 / s.login_attempts_per_minute,
                burst=s.login_global_burst,
            )
        return None if retry is None else max(1, math.ceil(retry / 1000))

    @property
    def _keep_ms(self) -> float:
        return self._settings.max_age_s * 1000.0

    def succeeded(self, client: str) -> None:
        """Remember that an operator signed in from ``client`` (exempt from the global bound)."""
        self._buckets.trust(client, self._clock() * 1000, keep_ms=self._keep_ms)

    @contextmanager
    def checking(self) -> Iterator[None]:
        """Hold one of the password-check slots while the body runs.

        Raises:
            LoginBusy: no slot became free within ``check_wait_s``.
        """
        if not self._checks.acquire(timeout=self._check_wait_s):
            raise LoginBusy(max(1, math.ceil(self._check_wait_s)))
        try:
            yield
        finally:
            self._checks.release()
