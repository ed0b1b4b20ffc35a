"""``CredentialClient``: short-lived OSS credentials over MQTT, refreshed ahead of expiry.

The camera publishes a signed request on ``P/v1/{id}/creds/req`` and waits for the reply
with the same ``request_id`` on ``P/v1/{id}/creds/res``. A success reply is opened with the
device's seal key (AES-256-GCM; the header is authenticated), an error reply is trusted
only if its signature verifies. Each error code's reaction is declared next to the code
(:attr:`schemas.responses.ErrorCode.reaction`); this client carries out the reactions:

==================================  ==========================================================
``ADOPT_CLOCK``                     adopt the signed ``server_time_ms`` as clock offset, retry
                                    at once (once per refresh; later ones back off)
``WAIT``                            wait ``retry_after_ms`` plus jitter, retry
``RETRY``                           back off (jittered exponential), retry
``STOP``                            stop for good: :class:`~device.errors.DeviceRejected`
``DENY``                            :class:`~device.errors.CredentialDenied` (retrying the
                                    same request cannot help; the agent retries slowly)
anything unsigned or badly signed   never acted on beyond a backoff: anyone on the broker
                                    could have sent it. But a responder that cannot check
                                    the camera's signature (wrong or rotated secret,
                                    unknown device id) cannot sign a reply the camera can
                                    check either: after ``refusals_before_alert`` of them
                                    in a row the client logs an error naming those causes,
                                    :attr:`CredentialClient.refused` turns true (the
                                    ``credentials_refused`` status alert) and it asks only
                                    every ``retry_max_s``
no reply in ``request_timeout_s``   back off, ask again with a new request id and nonce
==================================  ==========================================================

Refresh-ahead: a lease is refreshed in the background once about 80 % of its lifetime
(jittered per lease, so a fleet spreads out) has passed on the *monotonic* clock, while
the current credentials keep being served; only one refresh is in flight at a time, and
callers that need credentials while it runs wait for that same refresh. After the store
rejects the credentials (an OSS auth error), :meth:`CredentialClient.force_refresh` gets a
new set once, unless a newer one already arrived.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, assert_never

from device.backoff import Backoff
from device.clock import AdjustedClock
from device.errors import (
    CredentialDenied,
    CredentialsUnavailable,
    DeviceError,
    DeviceRejected,
)
from device.settings import CredentialSettings
from schemas.errors import SchemaError
from schemas.keys import DeviceKeys
from schemas.messages import encode, parse_response
from schemas.protocol import build_request, open_ok_response, verify_error_response
from schemas.responses import (
    Credentials,
    CredsResponseError,
    CredsResponseOk,
    ErrorCode,
    Grant,
    Reaction,
)
from schemas.topics import Topics

if TYPE_CHECKING:  # oss2 is loaded only by a camera that uses the oss2 client
    from oss2.credentials import CredentialsProvider

    from device.oss_auth import ClockedAuth
    from device.osshttp import RequestSigner

__all__ = ["CredentialClient", "Lease", "MessageBus"]

log = logging.getLogger(__name__)

# Never valid for less than this long: a lease about to expire is not worth handing out.
_MIN_USEFUL_S = 5.0


class MessageBus(Protocol):
    """What the credential client needs from the MQTT link."""

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> object:
        """Queue a message for the broker."""
        ...

    def wait_connected(self, timeout: float | None = None) -> bool:
        """Wait until the link is connected; return whether it is."""
        ...


@dataclass(frozen=True)
class Lease:
    """One set of credentials with its grant and the monotonic times that govern it.

    Attributes:
        credentials: the STS credentials (their repr hides the secret and token).
        grant: endpoint, bucket, region, prefix and access.
        generation: 1 for the first lease, one more for each refresh.
        issued_mono: monotonic time the request was sent.
        refresh_mono: monotonic time to start refreshing.
        expires_mono: monotonic time the lease stops being valid.
    """

    credentials: Credentials
    grant: Grant
    generation: int
    issued_mono: float
    refresh_mono: float
    expires_mono: float

    @property
    def expires_at_ms(self) -> int:
        """Wall-clock expiry as the responder stated it."""
        return min(self.credentials.expiration_ms, self.grant.expires_at_ms)


@dataclass
class CredentialStats:
    """Counters for status and tests."""

    requests: int = 0
    leases: int = 0
    forced_refreshes: int = 0
    skew_adoptions: int = 0
    untrusted_replies: int = 0
    late_replies: int = 0
    timeouts: int = 0
    errors: dict[str, int] = field(default_factory=dict)


class CredentialClient:
    """Get and refresh credentials for one device.

    Args:
        device_id: this device.
        keys: the device's signing and sealing keys.
        topics: topic builder for the configured prefix.
        bus: the MQTT link (publish, wait_connected).
        clock: the device clock; ``clock_skew`` replies adjust its offset.
        settings: access, duration, refresh and retry settings.
        sleep: how to wait between attempts; defaults to a wait that :meth:`close` cuts short.
        rng: random source for jitter.
    """

    def __init__(
        self,
        *,
        device_id: str,
        keys: DeviceKeys,
        topics: Topics,
        bus: MessageBus,
        clock: AdjustedClock,
        settings: CredentialSettings,
        sleep: Callable[[float], None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.device_id = device_id
        self._keys = keys
        self._topics = topics
        self._bus = bus
        self._clock = clock
        self._settings = settings
        self._closed = threading.Event()
        self._sleep = sleep or self._interruptible_sleep
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._lock = threading.Lock()
        self._lease_changed = threading.Condition(self._lock)
        self._lease: Lease | None = None
        self._flight: Future[Lease] | None = None
        self._waiters: dict[str, Future[CredsResponseOk | CredsResponseError]] = {}
        self._rejected: DeviceRejected | None = None
        self._denied: tuple[float, CredentialDenied] | None = None
        self._unverified_in_a_row = 0
        self._generation = 0
        self.stats = CredentialStats()

    # -- public API -----------------------------------------------------------------

    @property
    def current(self) -> Lease | None:
        """The newest lease, valid or not."""
        return self._lease

    @property
    def refused(self) -> bool:
        """Whether the last ``refusals_before_alert`` replies were refusals that could not be
        verified: the secret is most likely wrong (or was rotated), or the responder does not
        know this device id. Cleared by the next reply that verifies."""
        return self._unverified_in_a_row >= self._settings.refusals_before_alert

    @property
    def rejected(self) -> DeviceRejected | None:
        """Set once the responder said this device is revoked or unknown (signed)."""
        return self._rejected

    def get(self, timeout: float | None = None) -> Lease:
        """Return usable credentials, refreshing first only when none are valid.

        When the current lease is past its refresh point but still valid, it is returned
        and a background refresh starts (if none is running).

        Args:
            timeout: how long to wait for a refresh when one is needed; ``None`` means the
                request timeout of the settings.

        Raises:
            DeviceRejected: the device is revoked or unknown.
            CredentialDenied: the responder refused for good.
            CredentialsUnavailable: no credentials in time.
        """
        if self._rejected is not None:
            raise self._rejected
        lease = self._lease
        now = self._clock.monotonic()
        denied = self._denied
        if denied is not None and now < denied[0] and (lease is None or now >= lease.expires_mono):
            # A refusal does not go away by asking again at once: ask at most every
            # retry_max_s, so a misprovisioned fleet does not hammer the responder.
            raise denied[1]
        if lease is not None and now < lease.refresh_mono:
            return lease
        if lease is not None and now < lease.expires_mono - _MIN_USEFUL_S:
            self._refresh_in_background()
            return lease
        return self._refresh(timeout)

    def force_refresh(self, stale: Lease | None = None, timeout: float | None = None) -> Lease:
        """Get new credentials after the store rejected ``stale`` (or the current ones).

        If a lease newer than ``stale`` already exists it is returned without a request.

        Raises:
            DeviceRejected, CredentialDenied, CredentialsUnavailable: as for :meth:`get`.
        """
        stale = stale or self._lease
        current = self._lease
        if current is not None and stale is not None and current.generation > stale.generation:
            return current
        self.stats.forced_refreshes += 1
        return self._refresh(timeout, force_after=stale.generation if stale else 0)

    def wait_generation(self, generation: int, timeout: float | None = None) -> Lease | None:
        """Wait until a lease of at least ``generation`` exists; return it (``None`` on timeout)."""
        with self._lease_changed:
            self._lease_changed.wait_for(
                lambda: self._lease is not None and self._lease.generation >= generation, timeout
            )
            lease = self._lease
        return lease if lease is not None and lease.generation >= generation else None

    def handle_message(self, topic: str, payload: bytes) -> None:
        """Deliver a message from the reply topic (called on the MQTT loop thread).

        Unreadable messages and replies nobody waits for are counted and dropped.
        """
        del topic
        try:
            reply = parse_response(payload)
        except SchemaError as exc:
            log.warning("unreadable credential reply dropped: %s", exc)
            self.stats.untrusted_replies += 1
            return
        if reply.device_id != self.device_id:
            self.stats.untrusted_replies += 1
            return
        with self._lock:
            if reply.request_id is not None:
                waiter = self._waiters.get(reply.request_id)
            elif len(self._waiters) == 1:  # an error about a request it could not read
                waiter = next(iter(self._waiters.values()))
            else:
                waiter = None
        if waiter is None or waiter.done():
            self.stats.late_replies += 1
            return
        waiter.set_result(reply)

    def oss_provider(self, timeout: float | None = None) -> CredentialsProvider:
        """Return an ``oss2`` credentials provider serving the current credentials.

        Use it with ``oss2.ProviderAuth`` so every OSS request is signed with whatever
        credentials are current when it is sent.
        """
        from device.oss_auth import LeaseProvider  # imports oss2

        return LeaseProvider(self.get, timeout)

    def oss_auth(self, timeout: float | None = None) -> ClockedAuth:
        """Return an oss2 auth (V1 signatures) over :meth:`oss_provider`.

        Requests are dated with the device clock, including any offset adopted from a
        ``clock_skew`` reply, so OSS accepts them even when the system clock is wrong.
        """
        from device.oss_auth import ClockedAuth  # imports oss2

        return ClockedAuth(self.oss_provider(timeout), self._clock)

    def http_signer(self, timeout: float | None = None) -> RequestSigner:
        """Return a signer for :class:`~device.osshttp.HttpObjectStore` (no oss2 involved).

        Like :meth:`oss_auth`: every request is signed with the credentials current when it
        is sent, and dated with the device clock.
        """
        from device.osshttp import AccessKeys, RequestSigner

        def keys() -> AccessKeys:
            credentials = self.get(timeout).credentials
            return AccessKeys(
                credentials.access_key_id,
                credentials.access_key_secret,
                credentials.security_token,
            )

        return RequestSigner(keys, self._clock)

    def close(self) -> None:
        """Cut short any wait in progress; later calls fail fast."""
        self._closed.set()

    def _interruptible_sleep(self, seconds: float) -> None:
        self._closed.wait(max(0.0, seconds))

    # -- refresh (single flight) ------------------------------------------------------

    def _refresh_in_background(self) -> None:
        with self._lock:
            if self._flight is not None:
                return
        thread = threading.Thread(
            target=self._background, name=f"creds-{self.device_id}", daemon=True
        )
        thread.start()

    def _background(self) -> None:
        try:
            self._refresh(None)
        except DeviceError as exc:
            log.warning("background credential refresh failed: %s", exc)

    def _refresh(self, timeout: float | None, force_after: int | None = None) -> Lease:
        with self._lock:
            flight = self._flight
            leader = flight is None
            if flight is None:
                flight = self._flight = Future()
        wait = self._settings.request_timeout_s * 3 if timeout is None else timeout
        if leader:
            try:
                flight.set_result(self._obtain(self._clock.monotonic() + wait))
            except DeviceError as exc:
                flight.set_exception(exc)
            finally:
                with self._lock:
                    self._flight = None
        try:
            lease = flight.result(timeout=wait)
        except FutureTimeout:
            raise CredentialsUnavailable("credential refresh still running") from None
        if force_after is not None and lease.generation <= force_after:
            # Joined a refresh that started before the auth error: it may be stale, ask again.
            return self._refresh(timeout)
        return lease

    def _obtain(self, deadline: float) -> Lease:
        backoff = Backoff(
            initial=self._settings.retry_initial_s,
            maximum=max(self._settings.retry_max_s, self._settings.retry_initial_s),
        )
        skew_adopted = False
        last = "no attempt"
        while True:
            if self._rejected is not None:
                raise self._rejected
            if self._closed.is_set():
                raise CredentialsUnavailable("credential client closed")
            remaining = deadline - self._clock.monotonic()
            if remaining <= 0:
                raise CredentialsUnavailable(f"no credentials in time (last: {last})")
            if not self._bus.wait_connected(min(remaining, self._settings.request_timeout_s)):
                last = "MQTT link down"
                continue
            sent_mono = self._clock.monotonic()
            reply, request_id = self._ask(min(remaining, self._settings.request_timeout_s))
            if reply is None:
                self.stats.timeouts += 1
                last = "no reply"
                self._sleep(min(backoff.next_delay(), max(0.0, deadline - self._clock.monotonic())))
                continue
            if isinstance(reply, CredsResponseOk):
                lease = self._open(reply, sent_mono)
                if lease is not None:
                    return lease
                last = "unusable success reply"
                self._sleep(backoff.next_delay())
                continue
            delay, last, skew_adopted = self._on_error(reply, request_id, backoff, skew_adopted)
            if delay > 0:
                self._sleep(min(delay, max(0.0, deadline - self._clock.monotonic())))

    def _ask(self, timeout: float) -> tuple[CredsResponseOk | CredsResponseError | None, str]:
        request = build_request(
            self._keys,
            self.device_id,
            access=self._settings.access,
            duration_s=self._settings.duration_s,
            now_ms=self._clock.wall_ms(),
        )
        waiter: Future[CredsResponseOk | CredsResponseError] = Future()
        with self._lock:
            self._waiters[request.request_id] = waiter
        try:
            self.stats.requests += 1
            self._bus.publish(self._topics.creds_req(self.device_id), encode(request), qos=1)
            try:
                return waiter.result(timeout=timeout), request.request_id
            except FutureTimeout:
                return None, request.request_id
        finally:
            with self._lock:
                self._waiters.pop(request.request_id, None)

    def _open(self, reply: CredsResponseOk, sent_mono: float) -> Lease | None:
        try:
            payload = open_ok_response(self._keys, reply)
        except SchemaError as exc:
            self.stats.untrusted_replies += 1
            log.warning("credential reply failed to open: %s", exc)
            return None
        expires_ms = min(payload.credentials.expiration_ms, payload.grant.expires_at_ms)
        lifetime_s = (expires_ms - reply.server_time_ms) / 1000.0
        if lifetime_s <= _MIN_USEFUL_S:
            log.warning("credential reply with %.1f s of lifetime ignored", lifetime_s)
            return None
        spread = self._rng.uniform(-self._settings.refresh_jitter, self._settings.refresh_jitter)
        with self._lock:
            self._generation += 1
            # Lifetimes are measured from when the request left, on the monotonic clock: a
            # wall-clock error or jump cannot stretch them.
            lease = Lease(
                credentials=payload.credentials,
                grant=payload.grant,
                generation=self._generation,
                issued_mono=sent_mono,
                refresh_mono=sent_mono + lifetime_s * (self._settings.refresh_at + spread),
                expires_mono=sent_mono + lifetime_s,
            )
            self._lease = lease
            self._denied = None
            self._unverified_in_a_row = 0
            self._lease_changed.notify_all()
        self.stats.leases += 1
        log.info(
            "credentials #%d for %s: %s, prefix %s, valid %.0f s",
            lease.generation,
            self.device_id,
            payload.grant.access,
            payload.grant.prefix,
            lifetime_s,
        )
        return lease

    def _unverified(self, code: ErrorCode, backoff: Backoff) -> float:
        self._unverified_in_a_row += 1
        if self._unverified_in_a_row < self._settings.refusals_before_alert:
            return backoff.next_delay()
        if self._unverified_in_a_row == self._settings.refusals_before_alert:
            log.error(
                "the responder refused %d credential requests in a row (%s) with replies"
                " this camera cannot verify: the device secret is most likely wrong or was"
                " rotated, or the responder does not know device id %r; check camera.toml"
                " against the registry (retrying every %.0f s)",
                self._unverified_in_a_row,
                code.value,
                self.device_id,
                self._settings.retry_max_s,
            )
        return self._settings.retry_max_s * self._rng.uniform(0.75, 1.0)

    def _on_error(
        self, reply: CredsResponseError, request_id: str, backoff: Backoff, skew_adopted: bool
    ) -> tuple[float, str, bool]:
        code = reply.error.code
        self.stats.errors[code.value] = self.stats.errors.get(code.value, 0) + 1
        if not verify_error_response(self._keys, reply):
            # Unsigned or forged: it may not come from the responder at all. Never adopt
            # its time or stop because of it; only slow down, and say what is likely wrong.
            self.stats.untrusted_replies += 1
            return self._unverified(code, backoff), f"unverified {code.value}", skew_adopted
        self._unverified_in_a_row = 0
        reaction = code.reaction
        if reaction is Reaction.ADOPT_CLOCK and not skew_adopted:
            offset = self._clock.adopt(reply.server_time_ms)
            self.stats.skew_adoptions += 1
            log.warning("clock off by %d ms; adopted the responder's time", offset)
            return 0.0, code.value, True
        match reaction:
            case Reaction.WAIT:
                base = (reply.error.retry_after_ms or 0) / 1000.0
                window = max(base * 0.25, self._settings.retry_initial_s)
                return base + self._rng.uniform(0, window), code.value, skew_adopted
            case Reaction.STOP:
                self._rejected = DeviceRejected(
                    f"responder says device {self.device_id} is {code.value}: stopping",
                    code=code.value,
                    request_id=request_id,
                )
                raise self._rejected
            case Reaction.RETRY | Reaction.ADOPT_CLOCK:
                return backoff.next_delay(), code.value, skew_adopted
            case Reaction.DENY:
                denial = CredentialDenied(
                    f"responder refused the request: {code.value}",
                    code=code.value,
                    request_id=request_id,
                )
                self._denied = (self._clock.monotonic() + self._settings.retry_max_s, denial)
                raise denial
            case _:
                assert_never(reaction)
