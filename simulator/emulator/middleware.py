"""ASGI middleware in front of OSS and STS: fault injection, statistics, access log.

Faults are carried out here so the services stay unaware of them:

- ``error`` / ``outage_error``: the request is not applied; OSS gets an XML error document (for
  HEAD, the document base64-encoded in ``x-oss-err``), STS a JSON one.
- ``reset`` / ``outage_reset``: the connection is reset before anything is applied.
- ``lost_response``: the request is applied in full, then the connection is reset before the
  status line is written, so the client cannot tell whether it landed.
- ``throttle``: STS answers ``Throttling.User``.

The access log never shows credentials: query values of signatures and security tokens are
replaced by ``***`` and no header is logged.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from xml.sax.saxutils import escape

from simulator.base.asgi import ASGIApp, ASGIReceive, ASGISend, Message, Scope
from simulator.emulator.connection import abort_function, wait_disconnect
from simulator.emulator.faults import FaultDecision, FaultInjector, Service
from simulator.emulator.operations import classify_oss, classify_sts
from simulator.emulator.stats import RequestStats
from simulator.sts import errors as sts_errors
from simulator.sts.responses import error_body, send_json

access_logger = logging.getLogger("simulator.emulator.access")

_SECRET_PARAMS = frozenset(
    {b"signature", b"security-token", b"securitytoken", b"x-oss-security-token", b"x-oss-signature"}
)
_DRAIN_LIMIT = 16 * 1024 * 1024
_OSS_ERRORS = {
    500: ("InternalError", "We encountered an internal error. Please try again."),
    503: ("ServiceUnavailable", "Please reduce your request rate."),
}


def redact_query(query_string: bytes) -> str:
    """The query string with signature and token values replaced by ``***``."""
    if not query_string:
        return ""
    parts = []
    for part in query_string.split(b"&"):
        name, sep, _ = part.partition(b"=")
        parts.append(name + b"=***" if sep and name.lower() in _SECRET_PARAMS else part)
    return "?" + b"&".join(parts).decode("latin-1")


def _oss_error(status: int) -> tuple[bytes, str]:
    code, message = _OSS_ERRORS.get(status, _OSS_ERRORS[503])
    request_id = uuid.uuid4().hex[:24].upper()
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error>\n'
        f"  <Code>{escape(code)}</Code>\n  <Message>{escape(message)}</Message>\n"
        f"  <RequestId>{request_id}</RequestId>\n  <HostId>emulator</HostId>\n</Error>\n"
    )
    return xml.encode(), request_id


async def _drain(receive: ASGIReceive) -> None:
    """Read the request body so an error reply reaches a client still sending it."""
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return
        size += len(message.get("body", b""))
        if not message.get("more_body", False) or size > _DRAIN_LIMIT:
            return


async def send_oss_error(scope: Scope, send: ASGISend, status: int) -> None:
    """Send an OSS ``InternalError`` (500) or ``ServiceUnavailable`` (503) reply."""
    body, request_id = _oss_error(status)
    headers = [
        (b"content-type", b"application/xml"),
        (b"x-oss-request-id", request_id.encode()),
        (b"server", b"AliyunOSS"),
    ]
    if scope["method"] == "HEAD":
        headers.append((b"x-oss-err", base64.b64encode(body)))
        body = b""
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class EmulatorMiddleware:
    """Wraps the OSS and STS apps; the admin API is routed around it.

    Args:
        oss: the OSS ASGI app.
        sts: the STS ASGI app.
        is_sts: tells STS requests from OSS ones.
        injector: fault decisions.
        stats: request counters.
        sleep: how to wait for injected latency.
        base_host: the OSS endpoint host, for virtual-host style classification.
        access_log: write one access-log line per request.
    """

    def __init__(
        self,
        *,
        oss: ASGIApp,
        sts: ASGIApp,
        is_sts: Callable[[Scope], bool],
        injector: FaultInjector,
        stats: RequestStats,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        base_host: str = "oss-cn-hangzhou.aliyuncs.com",
        access_log: bool = True,
    ) -> None:
        self._oss = oss
        self._sts = sts
        self._is_sts = is_sts
        self._injector = injector
        self._stats = stats
        self._sleep = sleep
        self._base_host = base_host
        self._access_log = access_log

    async def __call__(self, scope: Scope, receive: ASGIReceive, send: ASGISend) -> None:
        started = time.perf_counter()
        service: Service
        if self._is_sts(scope):
            service, app, operation = "sts", self._sts, classify_sts(scope["query_string"])
        else:
            service, app = "oss", self._oss
            operation = classify_oss(scope, self._base_host)
        decision = self._injector.decide(operation, service)
        status = [0]

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        if decision.kind == "none" and not decision.delay_s:
            await app(scope, receive, recording_send)
            outcome = str(status[0])
        else:
            outcome = await self._faulty(scope, receive, recording_send, app, service, decision)
            if outcome == "":
                outcome = str(status[0])
        self._stats.record(operation, outcome)
        if self._access_log and access_logger.isEnabledFor(logging.INFO):
            client = scope.get("client")
            access_logger.info(
                '%s "%s %s%s" %s %s %.1fms',
                client[0] if client else "-",
                scope["method"],
                scope["path"],
                redact_query(scope["query_string"]),
                operation,
                outcome,
                (time.perf_counter() - started) * 1000.0,
            )

    async def _faulty(
        self,
        scope: Scope,
        receive: ASGIReceive,
        send: ASGISend,
        app: ASGIApp,
        service: Service,
        decision: FaultDecision,
    ) -> str:
        """Carry out a fault; returns the outcome label ("" when the app answered)."""
        if decision.delay_s:
            await self._sleep(decision.delay_s)
        kind = decision.kind
        if kind in ("reset", "outage_reset"):
            if self._abort(scope):
                await wait_disconnect(receive)
                return kind
            await _drain(receive)
            await self._send_error(scope, send, service, 503)
            return kind
        if kind in ("error", "outage_error"):
            await _drain(receive)
            await self._send_error(scope, send, service, decision.status or 503)
            return kind
        if kind == "throttle":
            await _drain(receive)
            request_id = str(uuid.uuid4()).upper()
            error = sts_errors.throttled()
            await send_json(send, error.http_status, error_body(error, request_id), request_id)
            return kind
        if kind == "lost_response":
            await app(scope, receive, _swallow)
            if self._abort(scope):
                await wait_disconnect(receive)
            else:
                await _truncated_response(send)
            return kind
        await app(scope, receive, send)
        return ""

    @staticmethod
    def _abort(scope: Scope) -> bool:
        abort = abort_function(scope)
        if abort is None:
            return False
        abort()
        return True

    @staticmethod
    async def _send_error(scope: Scope, send: ASGISend, service: Service, status: int) -> None:
        if service == "sts":
            request_id = str(uuid.uuid4()).upper()
            error = (
                sts_errors.internal_error() if status == 500 else sts_errors.service_unavailable()
            )
            await send_json(send, error.http_status, error_body(error, request_id), request_id)
        else:
            await send_oss_error(scope, send, status)


async def _swallow(message: Message) -> None:
    """A send that discards the app's reply (its response is about to be lost)."""
    del message


async def _truncated_response(send: ASGISend) -> None:
    """Without a way to reset the connection, promise a body and never finish it.

    Weaker than a reset: a client that reads only headers sees a success.
    """
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", b"1048576"), (b"content-type", b"application/xml")],
        }
    )
    await send({"type": "http.response.body", "body": b"<", "more_body": True})
    raise ConnectionAbortedError("response deliberately lost")
