"""The AssumeRole RPC without HTTP: authenticate, check freshness and replay, throttle, mint.

:class:`StsService` takes the decoded request parameters and returns the JSON-ready reply or
raises :class:`~simulator.sts.errors.StsError`. The order of checks is that of a POP gateway:
API and version, required parameters, timestamp, the caller's key, the signature, the nonce
(only recorded once the signature is good, so nobody can burn another caller's nonces), the
per-account rate, then the action's own parameters.
"""

from __future__ import annotations

import collections
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from schemas.durations import DEFAULT_SESSION_DURATION_S
from simulator.iam import errors as iam_errors
from simulator.iam.models import Iam
from simulator.sts import errors
from simulator.sts.assume_role import DEFAULT_MAX_POLICY_BYTES, assume_role
from simulator.sts.signature import string_to_sign, verify
from simulator.sts.throttle import RateLimiter

API_VERSION = "2015-04-01"
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_REQUIRED = ("AccessKeyId", "Signature", "SignatureMethod", "SignatureNonce", "Timestamp")


@dataclass(frozen=True)
class StsSettings:
    """Behaviour of the emulated STS endpoint.

    Args:
        rate_per_account: AssumeRole calls per second per account before ``Throttling.User``
            (zero disables throttling).
        timestamp_window_s: allowed distance between ``Timestamp`` and the server clock.
        max_policy_bytes: the AssumeRole ``Policy`` size limit.
    """

    rate_per_account: float = 100.0
    timestamp_window_s: float = 900.0
    max_policy_bytes: int = DEFAULT_MAX_POLICY_BYTES


def format_time(epoch: float) -> str:
    """Epoch seconds as the ``YYYY-MM-DDThh:mm:ssZ`` STS uses."""
    return datetime.fromtimestamp(epoch, UTC).strftime(TIMESTAMP_FORMAT)


def _parse_time(text: str) -> float:
    for fmt in (TIMESTAMP_FORMAT, "%Y-%m-%dT%H:%M:%S.%fZ"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC).timestamp()
        except ValueError:
            continue
    raise errors.timestamp_format()


class NonceMemory:
    """Nonces seen within the freshness window; older ones are forgotten in insertion order."""

    def __init__(self, ttl_s: float) -> None:
        self._ttl_s = ttl_s
        self._expiry: dict[str, float] = {}
        self._order: collections.deque[tuple[float, str]] = collections.deque()

    def seen(self, nonce: str, now: float) -> bool:
        """Record ``nonce``; True if it was already recorded and not yet forgotten."""
        while self._order and self._order[0][0] < now:
            expiry, old = self._order.popleft()
            if self._expiry.get(old) == expiry:
                del self._expiry[old]
        if nonce in self._expiry:
            return True
        expiry = now + self._ttl_s
        self._expiry[nonce] = expiry
        self._order.append((expiry, nonce))
        return False


class StsService:
    """The emulated STS endpoint's logic.

    Args:
        iam: identity state to authenticate callers and mint credentials with.
        settings: rate and freshness limits.
        clock: current time in epoch seconds (shared with ``iam``).
        request_id: makes request ids; injected so tests can pin them.
    """

    def __init__(
        self,
        iam: Iam,
        settings: StsSettings,
        *,
        clock: Callable[[], float],
        request_id: Callable[[], str] | None = None,
    ) -> None:
        self.iam = iam
        self.settings = settings
        self._clock = clock
        self._request_id = request_id or (lambda: str(uuid.uuid4()).upper())
        # Twice the window: a timestamp may be up to one window ahead or behind.
        self._nonces = NonceMemory(2 * settings.timestamp_window_s)
        self.limiter = RateLimiter(settings.rate_per_account, clock)

    def new_request_id(self) -> str:
        """A fresh request id in the STS format (upper-case UUID)."""
        return self._request_id()

    def handle(
        self, method: str, params: Mapping[str, str], *, source_ip: str = "", request_id: str
    ) -> dict[str, Any]:
        """Answer one RPC request.

        Args:
            method: ``GET`` or ``POST`` (it is part of the string to sign).
            params: query and form parameters, decoded.
            source_ip: the client address, for ``acs:SourceIp`` conditions.
            request_id: the id to put into the reply.

        Returns:
            The AssumeRole reply as a JSON-ready dict.

        Raises:
            StsError: any rejection, with its wire code, message and status.
        """
        if params.get("Action") != "AssumeRole":
            raise errors.action_not_found()
        if "Version" not in params:
            raise errors.missing_parameter("Version")
        if params["Version"] != API_VERSION:
            raise errors.invalid_version()
        for name in _REQUIRED:
            if not params.get(name):
                raise errors.missing_parameter(name)
        now = self._clock()
        if abs(_parse_time(params["Timestamp"]) - now) > self.settings.timestamp_window_s:
            raise errors.timestamp_expired()
        if (
            params["SignatureMethod"] != "HMAC-SHA1"
            or params.get("SignatureVersion", "1.0") != "1.0"
        ):
            raise errors.unsupported_signature_method()
        try:
            secret, caller = self.iam.resolve(params["AccessKeyId"], params.get("SecurityToken"))
        except iam_errors.IamError as exc:
            if exc.code == iam_errors.INVALID_ACCESS_KEY_ID:
                raise errors.access_key_not_found() from None
            raise errors.security_token_error(exc.code) from None
        text = string_to_sign(method, params)
        if not verify(secret, text, params["Signature"]):
            raise errors.signature_mismatch(text)
        if self._nonces.seen(params["SignatureNonce"], now):
            raise errors.nonce_used()
        if not self.limiter.allow(caller.account_id):
            raise errors.throttled()
        for name in ("RoleArn", "RoleSessionName"):
            if not params.get(name):
                raise errors.missing_parameter(name)
        try:
            duration = int(params.get("DurationSeconds") or DEFAULT_SESSION_DURATION_S)
        except ValueError:
            raise errors.invalid_parameter("DurationSeconds") from None
        context = {
            "acs:SourceIp": source_ip,
            "acs:CurrentTime": format_time(now),
            "acs:SecureTransport": "false",
        }
        creds = assume_role(
            self.iam,
            caller,
            role_arn=params["RoleArn"],
            session_name=params["RoleSessionName"],
            duration_s=duration,
            policy=params.get("Policy"),
            context=context,
            max_policy_bytes=self.settings.max_policy_bytes,
        )
        return {
            "RequestId": request_id,
            "AssumedRoleUser": {
                "Arn": creds.assumed_role_arn,
                "AssumedRoleId": creds.assumed_role_id,
            },
            "Credentials": {
                "AccessKeyId": creds.access_key_id,
                "AccessKeySecret": creds.access_key_secret,
                "SecurityToken": creds.security_token,
                "Expiration": format_time(creds.expiration),
            },
        }
