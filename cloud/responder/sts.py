"""AssumeRole through the official ``aliyunsdksts`` / ``aliyunsdkcore`` SDK.

The SDK never retries AssumeRole itself, so retries live here as a visible tenacity strategy:
jittered exponential backoff on network errors, 5xx and throttling, each attempt taking a
slot from the global STS call cap. All attempts together stay within ``[sts] deadline_s``
(each attempt's timeout is cut to what is left), so a camera waiting ``request_timeout_s``
(10 s by default) hears ``sts_unavailable`` before it gives up on the request, and a worker
is never held longer than the deadline by an STS that accepts and never answers. Proxies
from the environment are ignored (the SDK would otherwise send loopback traffic to them), and
the SDK's own loggers are silenced because at debug level they print response bodies, which
hold the minted secrets.
"""

from __future__ import annotations

import calendar
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from aliyunsdkcore.acs_exception.exceptions import ClientException, ServerException
from aliyunsdkcore.client import AcsClient
from aliyunsdksts.request.v20150401.AssumeRoleRequest import AssumeRoleRequest
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)
from tenacity.stop import stop_base

from cloud.errors import StsError, StsRejected, StsThrottled, StsUnavailable
from cloud.responder.limiter import StsCallLimiter
from cloud.settings import StsSettings

_log = logging.getLogger("ossmedia.responder.sts")
# The SDK logs full response bodies (temporary secrets included) at debug level.
logging.getLogger("aliyunsdkcore").setLevel(logging.CRITICAL)


@dataclass(frozen=True)
class StsCredentials:
    """Temporary credentials; the secret and token never appear in a repr."""

    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str = field(repr=False)
    expiration_ms: int


class CredentialMinter(Protocol):
    """Something that mints scoped temporary credentials (the STS seam)."""

    def assume_role(self, *, session_name: str, policy: str, duration_s: int) -> StsCredentials:
        """Mint credentials for one session.

        Raises:
            StsError: no credentials (throttled, unavailable or rejected).
        """


class StsCallObserver(Protocol):
    """Told about every AssumeRole attempt (metrics)."""

    def sts_call(self, outcome: str, seconds: float | None = None) -> None:
        """``outcome`` is ``ok`` or an error code; ``seconds`` the call's duration, when it
        was made (``None`` when no request was sent)."""


def _parse_expiration(text: str) -> int:
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ")) * 1000


def _classify(exc: ServerException | ClientException) -> StsError:
    if isinstance(exc, ClientException):
        code = str(exc.get_error_code())
        return StsUnavailable(f"STS not reachable ({code})", code=code)
    code = str(exc.get_error_code())
    status = exc.get_http_status()
    message = f"AssumeRole failed: {code} (HTTP {status})"
    if code.startswith("Throttling"):
        return StsThrottled(message, code=code, http_status=status)
    if status is not None and int(status) >= 500:
        return StsUnavailable(message, code=code, http_status=status)
    return StsRejected(message, code=code, http_status=status)


MIN_ATTEMPT_S = 0.25
"""An attempt with less time left than this is not started: it could only time out."""

PROBE_SESSION = "ossmedia-responder-check"


def _retryable(exc: BaseException) -> bool:
    # Our own cap refusing a retry is final: the caller is told when to come back.
    return isinstance(exc, StsUnavailable) or (
        isinstance(exc, StsThrottled) and exc.code != "LocalThrottling"
    )


class _StopAtDeadline(stop_base):
    """Stop when the next attempt could not start with ``MIN_ATTEMPT_S`` left.

    tenacity computes the wait before it asks the stop strategy, so ``upcoming_sleep`` is the
    pause that would come before that attempt.
    """

    def __init__(self, deadline: float, monotonic: Callable[[], float]) -> None:
        self._deadline = deadline
        self._monotonic = monotonic

    def __call__(self, retry_state: RetryCallState) -> bool:
        upcoming = retry_state.upcoming_sleep or 0.0
        return self._monotonic() + upcoming + MIN_ATTEMPT_S > self._deadline


class StsClient:
    """Calls AssumeRole with retries under the global STS call cap.

    Args:
        settings: endpoint, region, the responder's AccessKey and the camera role.
        limiter: the global STS call cap; every attempt takes a slot.
        observer: told about each attempt (metrics); optional.
        sleep: used between retries (injected for tests).
        monotonic: monotonic clock in seconds, for the deadline and the call latency.
    """

    def __init__(
        self,
        settings: StsSettings,
        *,
        limiter: StsCallLimiter,
        observer: StsCallObserver | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._limiter = limiter
        self._observer = observer
        self._sleep = sleep
        self._monotonic = monotonic
        self._local = threading.local()

    def _client(self) -> AcsClient:
        # One SDK client per worker thread: its HTTP session is not documented as thread-safe.
        client: AcsClient | None = getattr(self._local, "client", None)
        if client is None:
            s = self._settings
            client = AcsClient(
                s.access_key_id,
                s.access_key_secret.get_secret_value(),
                s.region,
                auto_retry=False,
                connect_timeout=s.timeout_s,
                timeout=s.timeout_s,
                proxy={"http": None, "https": None},
            )
            self._local.client = client
        return client

    def _attempt(
        self,
        *,
        session_name: str,
        policy: str,
        duration_s: int,
        deadline: float,
        counted: bool = True,
    ) -> StsCredentials:
        # counted=False (the start-up check): outside the call cap and the metrics.
        if counted:
            self._limiter.acquire()
        left = deadline - self._monotonic()
        if left < MIN_ATTEMPT_S:
            self._observe("Deadline", counted=counted)
            raise StsUnavailable("no time left for another AssumeRole attempt", code="Deadline")
        timeout = min(self._settings.timeout_s, left)
        request = AssumeRoleRequest()
        request.set_endpoint(self._settings.endpoint)
        request.set_RoleArn(self._settings.role_arn)
        request.set_RoleSessionName(session_name)
        request.set_DurationSeconds(duration_s)
        request.set_Policy(policy)
        request.set_connect_timeout(timeout)
        request.set_read_timeout(timeout)
        started = self._monotonic()
        try:
            body: Any = self._client().do_action_with_exception(request)
        except (ServerException, ClientException) as exc:
            error = _classify(exc)
            self._observe(error.code or "error", self._monotonic() - started, counted=counted)
            raise error from None
        try:
            creds = json.loads(body)["Credentials"]
            minted = StsCredentials(
                access_key_id=str(creds["AccessKeyId"]),
                access_key_secret=str(creds["AccessKeySecret"]),
                security_token=str(creds["SecurityToken"]),
                expiration_ms=_parse_expiration(str(creds["Expiration"])),
            )
        except (ValueError, KeyError, TypeError):
            self._observe("BadResponse", self._monotonic() - started, counted=counted)
            raise StsUnavailable(
                "STS answered with an unreadable body", code="BadResponse"
            ) from None
        self._observe("ok", self._monotonic() - started, counted=counted)
        return minted

    def _observe(self, outcome: str, seconds: float | None = None, *, counted: bool) -> None:
        if counted and self._observer is not None:
            self._observer.sts_call(outcome, seconds)

    def probe(self, policy: str) -> None:
        """Ask STS for credentials once, outside the call cap (the start-up check).

        Args:
            policy: a session policy (the narrowest one the responder grants).

        Raises:
            StsError: no credentials.
        """
        self._attempt(
            session_name=PROBE_SESSION,
            policy=policy,
            duration_s=900,
            deadline=self._monotonic() + self._settings.deadline_s,
            counted=False,
        )

    def assume_role(self, *, session_name: str, policy: str, duration_s: int) -> StsCredentials:
        """Mint credentials for ``session_name`` limited by ``policy``.

        Args:
            session_name: the RoleSessionName (the device id).
            policy: the session policy document.
            duration_s: requested lifetime, already clamped by the caller.

        Returns:
            The credentials.

        Raises:
            StsThrottled: throttled by STS after all attempts, or refused by our own cap.
            StsUnavailable: STS unreachable or failing after all attempts.
            StsRejected: STS refused the request (role, policy, key): retrying will not help.
        """
        deadline = self._monotonic() + self._settings.deadline_s
        retrying = Retrying(
            retry=retry_if_exception(_retryable),
            stop=stop_after_attempt(self._settings.attempts)
            | _StopAtDeadline(deadline, self._monotonic),
            wait=wait_random_exponential(multiplier=0.1, max=self._settings.retry_max_wait_s),
            sleep=self._sleep,
            reraise=True,
        )
        result: StsCredentials = retrying(
            self._attempt,
            session_name=session_name,
            policy=policy,
            duration_s=duration_s,
            deadline=deadline,
        )
        attempts = retrying.statistics.get("attempt_number", 1)
        if attempts > 1:
            _log.info(
                "AssumeRole succeeded after retries", extra={"fields": {"attempts": attempts}}
            )
        return result
