"""The per-request pipeline: from a request topic and payload to the reply to publish.

The checks run in exactly this order, and the first one that fails decides the reply:

1. size limit          -> ``invalid_request``
2. schema              -> ``invalid_request``
3. topic/body device   -> ``invalid_request``
4. registry            -> ``unknown_device`` (unsigned) or ``revoked``
5. signature           -> ``bad_signature``
6. skew window         -> ``clock_skew`` (the signed ``server_time_ms`` lets the camera adjust)
   (from here on, a reused nonce is ``replay`` and a duplicate of an answered request gets
   the stored reply, both found by a read that records nothing and costs no rate)
7. per-device rate     -> ``rate_limited`` with ``retry_after_ms``
8. nonce               -> ``replay``; a duplicate of the same request gets the stored reply
9. access allowed      -> ``access_denied``
10. credentials        -> success, or ``sts_throttled`` / ``sts_unavailable`` / ``internal``

Whenever the shared state backend or the registry's store cannot be reached, the request is
answered ``unavailable`` with ``retry_after_ms`` (whatever step it had reached), and the
dependency is reported down to :class:`~cloud.responder.health.Dependencies`.

Every outcome is answered on the device's own ``creds/res`` topic, signed when the device is
known. Only input too broken to name a device (a topic that is not a request topic of a
valid device id) is dropped, and so is every request of a device that got three
``rate_limited`` answers within one retry-after, until that retry-after has passed: it was
told when to come back, and answering each request of a flood would cost the responder
(verify, sign, publish) and delay every other camera's requests queued behind it. The
moment a device is muted, the optional ``on_muted`` hook is told (the responder's
broker-side quarantine, :mod:`cloud.responder.quarantine`). This module is pure logic: no
MQTT, an injected clock.

The rate check comes before the nonce on purpose: a request refused for its rate leaves
nothing behind in the shared state (no nonce record, no stored reply), so what one device
can hold there is bounded by what its rate admits (``burst`` plus the rate over the nonce
lifetime), however many validly signed requests it sends. A QoS 1 duplicate of a request
already answered is still answered from the stored reply, before the rate check (a read that
records nothing).
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cloud.errors import RegistryUnavailable, StateError, StsRejected, StsThrottled, StsUnavailable
from cloud.registry.models import DeviceStatus
from cloud.responder.cache import CredentialCache, Issued
from cloud.responder.devices import DeviceDirectory, ResolvedDevice
from cloud.responder.health import Dependencies, Dependency
from cloud.responder.policy import session_policy
from cloud.responder.ratelimit import DeviceRateLimiter
from cloud.responder.replay import ReplayGuard, RequestIdentity
from cloud.responder.sts import StsCredentials
from cloud.settings import GrantSettings, Limits
from cloud.state.protocols import Claim, ClaimState
from schemas.canonical import response_aad
from schemas.compact import parse_compact_request
from schemas.durations import MIN_SESSION_DURATION_S
from schemas.errors import SchemaError
from schemas.ids import DeviceId
from schemas.keys import DeviceKeys
from schemas.messages import (
    MAX_PAYLOAD_BYTES,
    Access,
    Credentials,
    CredsRequest,
    ErrorCode,
    Grant,
    SealedPayload,
    encode,
)
from schemas.protocol import build_error_response, verify_request
from schemas.topics import Channel, Topics
from schemas.wirejson import load_object

_log = logging.getLogger("ossmedia.responder.pipeline")
_HEX_ID = re.compile(r"[0-9a-f]{32}", re.ASCII)
STS_THROTTLED_FALLBACK_MS = 1000
STS_UNAVAILABLE_RETRY_MS = 5000
DEPENDENCY_RETRY_MS = 3000
_DUPLICATE = "duplicate"
_MAX_PLAINTEXTS = 100_000
_MAX_ROUTES = 100_000
_MAX_MUTED = 100_000
_MUTE_AFTER = 3  # rate_limited answers inside one retry-after before a device is muted


@dataclass(frozen=True, slots=True)
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
class Deferred:
    """The rest of a request's work, which may block (an STS call, or waiting for the first
    copy of a duplicate). Run it where blocking is fine; it always returns a reply.

    Attributes:
        run: does the work and returns the reply.
        device_id: the device it is for.
    """

    run: Callable[[], Reply]
    device_id: str


@dataclass(frozen=True)
class Dropped:
    """Input that names no device: logged and not answered.

    Attributes:
        reason: ``topic`` (not a request topic of a valid device id) or ``muted`` (the
            device is inside the retry-after of a ``rate_limited`` answer).
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

    __slots__ = ("device", "device_id", "looked_up", "reply_topic", "request_id")

    def __init__(self, device_id: DeviceId, reply_topic: str) -> None:
        self.device_id = device_id
        self.reply_topic = reply_topic
        self.request_id: str | None = None
        self.device: ResolvedDevice | None = None
        self.looked_up = False


class Pipeline:
    """Decide the reply to each credential request.

    Args:
        topics: topic names (the prefix).
        devices: device lookups (registry plus a short cache).
        replay: the nonce and duplicate rules.
        device_limiter: the per-device request rate.
        credentials: the credential cache in front of STS.
        grant: bucket, endpoint, region and prefix template.
        limits: skew window and friends.
        max_duration_s: the longest credential lifetime granted.
        clock_ms: wall clock in milliseconds.
        dependencies: told when the state backend, the registry or STS fails (and when STS
            works again); optional.
        on_muted: called with a device's id at the moment it is muted (on the calling
            thread, which may be the network thread: it must not block); the responder's
            quarantine hangs here.
    """

    def __init__(
        self,
        *,
        topics: Topics,
        devices: DeviceDirectory,
        replay: ReplayGuard,
        device_limiter: DeviceRateLimiter,
        credentials: CredentialCache,
        grant: GrantSettings,
        limits: Limits,
        max_duration_s: int,
        clock_ms: Callable[[], int],
        dependencies: Dependencies | None = None,
        on_muted: Callable[[DeviceId], None] | None = None,
    ) -> None:
        self._dependencies = dependencies or Dependencies()
        self._on_muted = on_muted
        self._topics = topics
        self._devices = devices
        self._replay = replay
        self._device_limiter = device_limiter
        self._credentials = credentials
        self._grant = grant
        self._skew_ms = limits.skew_window_s * 1000
        self._max_duration_s = max(MIN_SESSION_DURATION_S, max_duration_s)
        self._clock_ms = clock_ms
        self._plaintexts: dict[tuple[str, str, str], bytes] = {}
        self._routes: dict[str, tuple[DeviceId, str]] = {}
        # device id -> (end of its last retry-after, refusals inside it); see _refused.
        self._muted: dict[str, tuple[int, int]] = {}
        self._plaintext_lock = threading.Lock()

    def handle(
        self, topic: str, payload: bytes, *, may_block: bool = True
    ) -> Reply | Dropped | Deferred:
        """Run every check on one request and build its reply.

        Args:
            topic: the topic the request arrived on.
            payload: its raw payload.
            may_block: whether this call may wait (for an STS call, or for the first copy
                of a duplicate). When False, such work comes back as :class:`Deferred` for
                the caller to run where blocking is fine; everything else is answered here.

        Returns:
            The reply to publish, :class:`Dropped` when the topic names no device, or (only
            with ``may_block=False``) the :class:`Deferred` rest of the work.
        """
        route = self._route(topic)
        if route is None:
            return Dropped("topic")
        muted = self._muted.get(route[0])
        if muted is not None:
            if self._clock_ms() >= muted[0]:
                self._muted.pop(route[0], None)
            elif muted[1] >= _MUTE_AFTER:
                return Dropped("muted")
        ctx = _Request(*route)
        outcome = self._guarded(ctx, lambda: self._checks(ctx, payload, may_block=may_block))
        if isinstance(outcome, Deferred) and may_block:
            return outcome.run()
        return outcome

    def _route(self, topic: str) -> tuple[DeviceId, str] | None:
        # A device asks again and again on the same topic: its parsed device id and reply
        # topic are remembered (valid request topics only, so junk cannot fill the table).
        route = self._routes.get(topic)
        if route is not None:
            return route
        try:
            device_id, channel = self._topics.parse(topic)
        except SchemaError:
            return None
        if channel is not Channel.CREDS_REQ:
            return None
        route = (device_id, self._topics.creds_res(device_id))
        if len(self._routes) >= _MAX_ROUTES:
            self._routes.clear()
        self._routes[topic] = route
        return route

    def _guarded(self, ctx: _Request, step: Callable[[], Reply | Deferred]) -> Reply | Deferred:
        try:
            outcome = step()
        except (StateError, RegistryUnavailable) as exc:
            dependency = Dependency.STATE if isinstance(exc, StateError) else Dependency.REGISTRY
            self._dependencies.failed(dependency, exc.message)
            return self._error(
                ctx,
                ErrorCode.UNAVAILABLE,
                f"{dependency.value} temporarily unavailable",
                retry_after=DEPENDENCY_RETRY_MS,
            )
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
        if isinstance(outcome, Deferred):
            inner = outcome.run
            return Deferred(lambda: _reply_of(self._guarded(ctx, inner)), ctx.device_id)
        return outcome

    # -- the checks, in order ------------------------------------------------------------

    def _checks(self, ctx: _Request, payload: bytes, *, may_block: bool) -> Reply | Deferred:
        if len(payload) > MAX_PAYLOAD_BYTES:
            return self._error(ctx, ErrorCode.INVALID_REQUEST, "payload too large")
        # Cameras send the compact encoding, read at a fraction of the cost of the full path;
        # it yields exactly what the full path would, and anything else takes the full path.
        req = parse_compact_request(payload)
        if req is None:
            try:
                obj = load_object(payload)
            except SchemaError:
                return self._error(ctx, ErrorCode.INVALID_REQUEST, "payload is not a JSON object")
            ctx.request_id = _request_id_of(obj)
            try:
                req = CredsRequest.from_wire(obj)
            except SchemaError as exc:
                return self._error(ctx, ErrorCode.INVALID_REQUEST, _reason(exc))
        ctx.request_id = req.request_id
        if req.device_id != ctx.device_id:
            return self._error(ctx, ErrorCode.INVALID_REQUEST, "device_id differs from the topic")
        device = self._device(ctx)
        if device is None:
            return self._error(ctx, ErrorCode.UNKNOWN_DEVICE, "device is not provisioned")
        if device.record.status is DeviceStatus.REVOKED:
            return self._error(ctx, ErrorCode.REVOKED, "device is revoked")
        if not verify_request(device.keys, req):
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
        known = self._replay.peek(ident)
        if known is not None:  # a replayed nonce, or a QoS 1 duplicate of an answered request
            return self._after_claim(ctx, ident, req, device, known)
        rate = self._device_limiter.check(ctx.device_id)
        if not rate.admitted:
            if self._refused(ctx.device_id, rate.retry_after_ms) and self._on_muted is not None:
                self._on_muted(ctx.device_id)
            return self._error(
                ctx, ErrorCode.RATE_LIMITED, "too many requests", retry_after=rate.retry_after_ms
            )
        claim = self._replay.claim(ident, wait=False)
        if claim.state is ClaimState.PENDING:
            # The first copy is being answered elsewhere: wait for its reply, off this thread.
            return Deferred(
                lambda: _reply_of(
                    self._after_claim(ctx, ident, req, device, self._replay.claim(ident))
                ),
                ctx.device_id,
            )
        return self._after_claim(ctx, ident, req, device, claim, may_block=may_block)

    def _refused(self, device_id: str, retry_after_ms: int) -> bool:
        # A device that keeps asking after being told to wait is muted until the retry-after
        # it was last given; one or two refusals (a duplicate, a retry) never mute it.
        # Returns whether this refusal muted it.
        until, count = self._muted.get(device_id, (0, 0))
        count = count + 1 if self._clock_ms() < until else 1
        if len(self._muted) >= _MAX_MUTED:
            self._muted.clear()
        self._muted[device_id] = (self._clock_ms() + retry_after_ms, count)
        return count == _MUTE_AFTER

    def _after_claim(
        self,
        ctx: _Request,
        ident: RequestIdentity,
        req: CredsRequest,
        device: ResolvedDevice,
        claim: Claim,
        *,
        may_block: bool = True,
    ) -> Reply | Deferred:
        if claim.state is ClaimState.REPLAY:
            return self._error(ctx, ErrorCode.REPLAY, "nonce already used")
        if claim.state is ClaimState.DONE and claim.reply is not None:
            return Reply(
                device_id=ctx.device_id,
                topic=ctx.reply_topic,
                payload=claim.reply,
                outcome=_DUPLICATE,
                request_id=ctx.request_id,
            )
        # Claimed: whatever happens now, the reply is stored for duplicates.
        outcome = self._guarded(ctx, lambda: self._admitted(ctx, req, device, may_block=may_block))
        if isinstance(outcome, Deferred):
            rest = outcome.run
            return Deferred(lambda: self._complete(ident, rest()), ctx.device_id)
        return self._complete(ident, outcome)

    def _complete(self, ident: RequestIdentity, reply: Reply) -> Reply:
        self._replay.complete(ident, reply.payload)
        return reply

    def _admitted(
        self, ctx: _Request, req: CredsRequest, device: ResolvedDevice, *, may_block: bool
    ) -> Reply | Deferred:
        access = req.access.value
        if access not in device.record.access:
            return self._error(ctx, ErrorCode.ACCESS_DENIED, f"{access} is not allowed")
        prefix = self._grant.prefix_for(ctx.device_id)
        policy = session_policy(bucket=self._grant.bucket, prefix=prefix, access=access)
        if not may_block:
            cached = self._credentials.peek(device_id=ctx.device_id, access=access, policy=policy)
            if cached is None:
                return Deferred(
                    lambda: self._minted(ctx, req, device, prefix, policy), ctx.device_id
                )
            return self._success(ctx, req, device, cached, prefix)
        return self._minted(ctx, req, device, prefix, policy)

    def _minted(
        self,
        ctx: _Request,
        req: CredsRequest,
        device: ResolvedDevice,
        prefix: str,
        policy: str,
    ) -> Reply:
        access = req.access.value
        duration = min(max(req.duration_s, MIN_SESSION_DURATION_S), self._max_duration_s)
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
            self._dependencies.failed(Dependency.STS, f"STS refused AssumeRole ({exc.code})")
            return self._error(ctx, ErrorCode.INTERNAL, "credential service misconfigured")
        if issued.source == "miss":
            self._dependencies.recovered(Dependency.STS)
        return self._success(ctx, req, device, issued, prefix)

    def _success(
        self,
        ctx: _Request,
        req: CredsRequest,
        device: ResolvedDevice,
        issued: Issued,
        prefix: str,
    ) -> Reply:
        plaintext = self._plaintext(issued.credentials, prefix, req.access)
        now = self._clock_ms()
        aad = response_aad(device_id=ctx.device_id, request_id=req.request_id, server_time_ms=now)
        sealed = device.seal(plaintext, aad)
        return Reply(
            device_id=ctx.device_id,
            topic=ctx.reply_topic,
            payload=ok_reply_bytes(ctx.device_id, req.request_id, now, sealed),
            outcome="ok",
            request_id=req.request_id,
            credential_source=issued.source,
        )

    # -- helpers -------------------------------------------------------------------------

    def _plaintext(self, creds: StsCredentials, prefix: str, access: Access) -> bytes:
        # A cached credential is sent to its device many times: its sealed plaintext is the
        # same every time (only the nonce and the header differ), so it is built once.
        key = (creds.access_key_id, prefix, access.value)
        with self._plaintext_lock:
            cached = self._plaintexts.get(key)
        if cached is not None:
            return cached
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
                access=access,
                expires_at_ms=creds.expiration_ms,
            ),
        )
        plaintext = encode(payload)
        with self._plaintext_lock:
            if len(self._plaintexts) >= _MAX_PLAINTEXTS:
                self._plaintexts.clear()
            self._plaintexts[key] = plaintext
        return plaintext

    def _device(self, ctx: _Request) -> ResolvedDevice | None:
        if not ctx.looked_up:
            ctx.looked_up = True
            ctx.device = self._devices.resolve(ctx.device_id)
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
                keys = device.keys
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
            topic=ctx.reply_topic,
            payload=encode(response),
            outcome=code.value,
            request_id=ctx.request_id,
        )


def ok_reply_bytes(device_id: str, request_id: str, server_time_ms: int, sealed: str) -> bytes:
    """Encode a success reply exactly as ``schemas.encode(CredsResponseOk(...))`` does.

    This is the hot path of every cache hit, and each value is already known to be valid (a
    validated device id, a validated 32-hex request id, an integer, unpadded base64url from
    the sealing helper), so none needs escaping or validating again. A test pins the output
    to the schemas encoder.
    """
    return (
        f'{{"v":1,"kind":"creds.response","device_id":"{device_id}",'
        f'"request_id":"{request_id}","ok":true,"server_time_ms":{server_time_ms},'
        f'"sealed":"{sealed}"}}'
    ).encode()


def _reply_of(outcome: Reply | Deferred) -> Reply:
    # A deferred step's own continuation never defers again.
    return outcome.run() if isinstance(outcome, Deferred) else outcome


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
