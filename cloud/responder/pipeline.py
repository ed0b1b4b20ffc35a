"""The per-request pipeline: from a request topic and payload to the reply to publish.

The checks run in exactly this order, and the first one that fails decides the reply:

1. size limit          -> ``invalid_request``
2. schema              -> ``invalid_request``
3. topic/body device   -> ``invalid_request``
4. registry            -> ``unknown_device`` (unsigned) or ``revoked``
5. signature           -> ``bad_signature``
6. skew window         -> ``clock_skew`` (the signed ``server_time_ms`` lets the camera adjust)
7. nonce               -> ``replay``; a duplicate of the same request gets the stored reply
8. per-device rate     -> ``rate_limited`` with ``retry_after_ms``
9. access allowed      -> ``access_denied``
10. credentials        -> success, or ``sts_throttled`` / ``sts_unavailable`` / ``internal``

Every outcome is answered on the device's own ``creds/res`` topic, signed when the device is
known. Only input too broken to name a device (a topic that is not a request topic of a
valid device id) is dropped. This module is pure logic: no MQTT, an injected clock.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from cloud.errors import StsRejected, StsThrottled, StsUnavailable
from cloud.registry.models import DeviceStatus, KnownDevice
from cloud.responder.cache import CredentialCache
from cloud.responder.policy import session_policy
from cloud.responder.ratelimit import DeviceRateLimiter
from cloud.responder.replay import ReplayGuard, RequestIdentity
from cloud.settings import GrantSettings, Limits
from cloud.state.protocols import ClaimState
from schemas.errors import SchemaError
from schemas.keys import DeviceKeys
from schemas.messages import (
    MAX_PAYLOAD_BYTES,
    Credentials,
    CredsRequest,
    ErrorCode,
    Grant,
    SealedPayload,
    encode,
)
from schemas.protocol import build_error_response, build_ok_response, verify_request
from schemas.topics import Channel, Topics
from schemas.wirejson import load_object

_log = logging.getLogger("ossmedia.responder.pipeline")
_HEX_ID = re.compile(r"[0-9a-f]{32}", re.ASCII)
MIN_DURATION_S = 900
STS_THROTTLED_FALLBACK_MS = 1000
STS_UNAVAILABLE_RETRY_MS = 5000
_DUPLICATE = "duplicate"


class DeviceLookup(Protocol):
    """Finds a device and its secret (the registry)."""

    def lookup(self, device_id: str) -> KnownDevice | None:
        """The device, or ``None`` when it is not provisioned."""


@dataclass(frozen=True)
class Reply:
    """A reply to publish.

    Attributes:
        device_id: the device it goes to.
        topic: its ``creds/res`` topic.
        payload: the encoded reply.
        outcome: ``ok``, an error code, or ``duplicate`` (a stored reply sent again).
        request_id: the request answered, when it could be read.
        credential_source: for ``ok``: ``hit``, ``miss`` or ``coalesced``.
    """

    device_id: str
    topic: str
    payload: bytes
    outcome: str
    request_id: str | None = None
    credential_source: str | None = None


@dataclass(frozen=True)
class Dropped:
    """Input that names no device: logged and not answered.

    Attributes:
        reason: ``topic`` (not a request topic of a valid device id).
    """

    reason: str


def _where(exc: BaseException) -> str:
    # The place, not the message: messages of third-party errors may quote their input.
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "?"
    last = frames[-1]
    return f"{last.filename.rsplit('/', 1)[-1]}:{last.lineno}"


class _Request:
    """What is known about the request being handled, as the checks progress."""

    __slots__ = ("device", "device_id", "looked_up", "request_id")

    def __init__(self, device_id: str) -> None:
        self.device_id = device_id
        self.request_id: str | None = None
        self.device: KnownDevice | None = None
        self.looked_up = False


class Pipeline:
    """Decide the reply to each credential request.

    Args:
        topics: topic names (the prefix).
        registry: device lookup.
        replay: the nonce and duplicate rules.
        device_limiter: the per-device request rate.
        credentials: the credential cache in front of STS.
        grant: bucket, endpoint, region and prefix template.
        limits: skew window and friends.
        max_duration_s: the longest credential lifetime granted.
        clock_ms: wall clock in milliseconds.
    """

    def __init__(
        self,
        *,
        topics: Topics,
        registry: DeviceLookup,
        replay: ReplayGuard,
        device_limiter: DeviceRateLimiter,
        credentials: CredentialCache,
        grant: GrantSettings,
        limits: Limits,
        max_duration_s: int,
        clock_ms: Callable[[], int],
    ) -> None:
        self._topics = topics
        self._registry = registry
        self._replay = replay
        self._device_limiter = device_limiter
        self._credentials = credentials
        self._grant = grant
        self._skew_ms = limits.skew_window_s * 1000
        self._max_duration_s = max(MIN_DURATION_S, max_duration_s)
        self._clock_ms = clock_ms

    def handle(self, topic: str, payload: bytes) -> Reply | Dropped:
        """Run every check on one request and build its reply.

        Args:
            topic: the topic the request arrived on.
            payload: its raw payload.

        Returns:
            The reply to publish, or :class:`Dropped` when the topic names no device.
        """
        try:
            device_id, channel = self._topics.parse(topic)
        except SchemaError:
            return Dropped("topic")
        if channel is not Channel.CREDS_REQ:
            return Dropped("topic")
        ctx = _Request(str(device_id))
        try:
            return self._checks(ctx, payload)
        except Exception as exc:  # every request gets an answer, even after a bug
            _log.error(
                "request failed",
                extra={
                    "fields": {
                        "device_id": ctx.device_id,
                        "request_id": ctx.request_id,
                        "error_type": type(exc).__name__,
                        "where": _where(exc),
                    }
                },
            )
            return self._error(ctx, ErrorCode.INTERNAL, "internal error")

    # -- the checks, in order ------------------------------------------------------------

    def _checks(self, ctx: _Request, payload: bytes) -> Reply:
        if len(payload) > MAX_PAYLOAD_BYTES:
            return self._error(ctx, ErrorCode.INVALID_REQUEST, "payload too large")
        try:
            obj = load_object(payload)
        except SchemaError:
            return self._error(ctx, ErrorCode.INVALID_REQUEST, "payload is not a JSON object")
        ctx.request_id = _request_id_of(obj)
        try:
            req = CredsRequest.from_wire(obj)
        except SchemaError as exc:
            return self._error(ctx, ErrorCode.INVALID_REQUEST, _reason(exc))
        if req.device_id != ctx.device_id:
            return self._error(ctx, ErrorCode.INVALID_REQUEST, "device_id differs from the topic")
        device = self._device(ctx)
        if device is None:
            return self._error(ctx, ErrorCode.UNKNOWN_DEVICE, "device is not provisioned")
        if device.record.status is DeviceStatus.REVOKED:
            return self._error(ctx, ErrorCode.REVOKED, "device is revoked")
        keys = DeviceKeys.from_secret(device.secret)
        if not verify_request(keys, req):
            return self._error(ctx, ErrorCode.BAD_SIGNATURE, "signature does not verify")
        if abs(req.issued_at_ms - self._clock_ms()) > self._skew_ms:
            return self._error(ctx, ErrorCode.CLOCK_SKEW, "issued_at_ms is outside the window")
        ident = RequestIdentity(
            device_id=ctx.device_id,
            request_id=req.request_id,
            nonce=req.nonce,
            sig=req.sig,
            issued_at_ms=req.issued_at_ms,
        )
        claim = self._replay.claim(ident)
        if claim.state is ClaimState.REPLAY:
            return self._error(ctx, ErrorCode.REPLAY, "nonce already used")
        if claim.state is ClaimState.DONE and claim.reply is not None:
            return Reply(
                device_id=ctx.device_id,
                topic=self._topics.creds_res(ctx.device_id),
                payload=claim.reply,
                outcome=_DUPLICATE,
                request_id=ctx.request_id,
            )
        try:
            reply = self._admitted(ctx, req, device, keys)
        except Exception as exc:
            _log.error(
                "request failed",
                extra={
                    "fields": {
                        "device_id": ctx.device_id,
                        "request_id": ctx.request_id,
                        "error_type": type(exc).__name__,
                        "where": _where(exc),
                    }
                },
            )
            reply = self._error(ctx, ErrorCode.INTERNAL, "internal error")
        self._replay.complete(ident, reply.payload)
        return reply

    def _admitted(
        self, ctx: _Request, req: CredsRequest, device: KnownDevice, keys: DeviceKeys
    ) -> Reply:
        rate = self._device_limiter.check(ctx.device_id)
        if not rate.admitted:
            return self._error(
                ctx, ErrorCode.RATE_LIMITED, "too many requests", retry_after=rate.retry_after_ms
            )
        access = req.access.value
        if access not in device.record.access:
            return self._error(ctx, ErrorCode.ACCESS_DENIED, f"{access} is not allowed")
        prefix = self._grant.prefix_for(ctx.device_id)
        policy = session_policy(bucket=self._grant.bucket, prefix=prefix, access=access)
        duration = min(max(req.duration_s, MIN_DURATION_S), self._max_duration_s)
        try:
            issued = self._credentials.get(
                device_id=ctx.device_id, access=access, policy=policy, duration_s=duration
            )
        except StsThrottled as exc:
            retry = exc.retry_after_ms or STS_THROTTLED_FALLBACK_MS
            return self._error(ctx, ErrorCode.STS_THROTTLED, "STS is busy", retry_after=retry)
        except StsUnavailable:
            return self._error(
                ctx,
                ErrorCode.STS_UNAVAILABLE,
                "STS is unavailable",
                retry_after=STS_UNAVAILABLE_RETRY_MS,
            )
        except StsRejected as exc:
            _log.error(
                "STS refused AssumeRole",
                extra={"fields": {"device_id": ctx.device_id, "sts_code": exc.code}},
            )
            return self._error(ctx, ErrorCode.INTERNAL, "credential service misconfigured")
        creds = issued.credentials
        payload = SealedPayload(
            credentials=Credentials(
                access_key_id=creds.access_key_id,
                access_key_secret=creds.access_key_secret,
                security_token=creds.security_token,
                expiration_ms=creds.expiration_ms,
            ),
            grant=Grant(
                endpoint=self._grant.oss_endpoint,
                bucket=self._grant.bucket,
                region=self._grant.region,
                prefix=prefix,
                access=req.access,
                expires_at_ms=creds.expiration_ms,
            ),
        )
        response = build_ok_response(
            keys,
            device_id=ctx.device_id,
            request_id=req.request_id,
            server_time_ms=self._clock_ms(),
            payload=payload,
        )
        return Reply(
            device_id=ctx.device_id,
            topic=self._topics.creds_res(ctx.device_id),
            payload=encode(response),
            outcome="ok",
            request_id=req.request_id,
            credential_source=issued.source,
        )

    # -- helpers -------------------------------------------------------------------------

    def _device(self, ctx: _Request) -> KnownDevice | None:
        if not ctx.looked_up:
            ctx.looked_up = True
            ctx.device = self._registry.lookup(ctx.device_id)
        return ctx.device

    def _error(
        self,
        ctx: _Request,
        code: ErrorCode,
        message: str,
        *,
        retry_after: int | None = None,
    ) -> Reply:
        keys: DeviceKeys | None = None
        try:
            device = self._device(ctx)
            if device is not None:
                keys = DeviceKeys.from_secret(device.secret)
        except Exception as exc:
            # The registry itself failing must still produce a (then unsigned) answer.
            _log.error(
                "device lookup failed",
                extra={"fields": {"device_id": ctx.device_id, "error_type": type(exc).__name__}},
            )
        response = build_error_response(
            keys,
            device_id=ctx.device_id,
            request_id=ctx.request_id,
            server_time_ms=self._clock_ms(),
            code=code,
            message=message,
            retry_after_ms=retry_after,
        )
        return Reply(
            device_id=ctx.device_id,
            topic=self._topics.creds_res(ctx.device_id),
            payload=encode(response),
            outcome=code.value,
            request_id=ctx.request_id,
        )


def _request_id_of(obj: dict[str, Any]) -> str | None:
    value = obj.get("request_id")
    if isinstance(value, str) and _HEX_ID.fullmatch(value):
        return value
    return None


def _reason(exc: SchemaError) -> str:
    reason = getattr(exc, "reason", "") or "request does not follow the schema"
    # Error messages are plain text of bounded length on the wire.
    cleaned = "".join(c if c.isprintable() else " " for c in str(reason))
    return cleaned[:200]
