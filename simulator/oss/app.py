"""The OSS emulator as a plain ASGI application.

Request path: parse → route (bucket/key) → select the operation → verify the signature →
handler (authorise, body, model) → render, plus the bucket's CORS headers when the request
carries an ``Origin``. The CORS preflight (``Options``, declared with no RAM action) skips the
signature check, as browsers never sign it. Every failure becomes an OSS ``<Error>`` response;
an unexpected exception is logged and answered ``500 InternalError``, so the app never crashes
the server. Logs name the operation, bucket, key and outcome, never headers, query strings,
signatures or tokens.

The hot path (a 64 KiB AppendObject) allocates little: headers are parsed once into a dict, the
body is joined once, CRC-64 runs in C over the new bytes only, and the memory store grows a
bytearray in place.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from simulator.oss import cors
from simulator.oss.auth import Authenticator, IdentityService
from simulator.oss.errors import AccessDenied, InternalError, OssError
from simulator.oss.handler_base import ANONYMOUS, ANONYMOUS_READS
from simulator.oss.handlers import DENIED, Call, Handlers
from simulator.oss.models import OssModel
from simulator.oss.operations import select
from simulator.oss.requests import ClientDisconnected, OssRequest, Receive, Scope, Send, parse_scope
from simulator.oss.responses import Clock, Response, error_response, request_id
from simulator.oss.settings import OssSettings
from simulator.oss.stats import Stats
from simulator.oss.storage import ObjectStore
from simulator.oss.urls import Router, Target, level_of

logger = logging.getLogger(__name__)

_NO_BODY_STATUSES = frozenset({204, 304})


class OssApp:
    """An ASGI app that speaks the OSS REST protocol.

    Args:
        iam: the identity service (resolves keys and STS tokens, evaluates RAM policies).
        store: where objects live (:class:`~simulator.oss.storage.MemoryStore` or
            :class:`~simulator.oss.storage.DurableStore`); loaded now.
        settings: limits, region, host names.
        clock: current Unix time; the server may pass an accelerated clock.
        stats: counters to update (a fresh :class:`Stats` by default).

    Attributes:
        model: the emulator state (create buckets for fixtures, call ``sweep(now)`` for lifecycle).
        stats: request counters.
        settings: the settings in force.
    """

    def __init__(
        self,
        iam: IdentityService,
        store: ObjectStore,
        settings: OssSettings | None = None,
        *,
        clock: Callable[[], float] = time.time,
        stats: Stats | None = None,
    ) -> None:
        self.settings = settings or OssSettings()
        self.model = OssModel(store, max_append_object_size=self.settings.max_append_object_size)
        self.stats = stats or Stats()
        self._clock = clock
        self._router = Router(self.settings)
        self._auth = Authenticator(iam, self.settings, clock)
        self._handlers = Handlers(self.model, iam, self.settings)
        self._dates = Clock()

    def sweep(self) -> int:
        """Apply lifecycle rules at the app's clock; return how many objects expired."""
        return self.model.sweep(self._clock())

    def close(self) -> None:
        """Release the store."""
        self.model.store.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point (``http`` and ``lifespan`` scopes)."""
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await _lifespan(receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        rid = request_id()
        op = "Unknown"
        req: OssRequest | None = None
        target: Target | None = None
        outcome = "OK"
        try:
            req = parse_scope(scope, receive)
            target = self._router.route(req.host, req.raw_path)
            operation = select(level_of(target), req.method, req.query, req.headers)
            op = operation.name
            caller = self._auth.authenticate(req, target) if operation.action else ANONYMOUS
            if caller is None:
                # Unsigned: only reads of public objects, which the handler decides.
                if op not in ANONYMOUS_READS:
                    raise AccessDenied(DENIED)
                caller = ANONYMOUS
            call = Call(op, operation.action, req, target, caller, self._clock())
            response = await self._handlers.handle(call)
            if operation.action:
                self._cors(req, target, response)
        except OssError as exc:
            outcome = exc.code
            response = self._error(exc, rid, scope, req)
            if req is not None and op != "Options":
                self._cors(req, target, response)
        except ClientDisconnected:
            self.stats.record(op, "ClientDisconnected")
            logger.info("%s %s: client went away before the body was complete", rid, op)
            return
        except Exception:
            logger.exception("%s %s failed", rid, op)
            outcome = "InternalError"
            response = self._error(InternalError(), rid, scope, req)
        keep_alive = True
        if outcome != "OK" and req is not None:
            keep_alive = await self._drain(req)
        if outcome != "OK":
            logger.debug("%s %s -> %s", rid, op, outcome)
        try:
            sent = await self._send(send, response, rid, keep_alive=keep_alive)
        except Exception:
            # The status line is gone already; all that is left is to log and let the server
            # close the connection (the client sees a truncated body, never a wrong one).
            logger.exception("%s %s failed while sending the response", rid, op)
            self.stats.record(op, "SendFailed")
            return
        bytes_in = 0
        if req is not None and outcome == "OK":
            length = req.headers.get("content-length", "0")
            bytes_in = int(length) if length.isdigit() else 0
        self.stats.record(op, outcome, bytes_in=bytes_in, bytes_out=sent)

    def _cors(self, req: OssRequest, target: Target | None, response: Response) -> None:
        # The bucket's CORS rules decide the Access-Control-* headers of every answer about
        # it, errors included, so a browser script can read why a request failed.
        if target is None or target.bucket is None:
            return
        try:
            bucket = self.model.get_bucket(target.bucket)
        except OssError:
            return
        if bucket.cors is not None:
            response.headers.extend(
                cors.response_headers(bucket.cors, req.headers.get("origin"), req.method)
            )

    def _error(self, exc: OssError, rid: str, scope: Scope, req: OssRequest | None) -> Response:
        host = req.host if req is not None else ""
        return error_response(
            exc, rid, host.rpartition(":")[0] or host, head=scope.get("method") == "HEAD"
        )

    async def _drain(self, req: OssRequest) -> bool:
        # Read what is left of a failed request's body so the client, still sending, gets the
        # error instead of a broken pipe; give up (and close) on bodies too big to be worth it.
        try:
            return await req.drain(self.settings.max_drain_bytes)
        except Exception:
            return False

    async def _send(self, send: Send, response: Response, rid: str, *, keep_alive: bool) -> int:
        headers = [
            (b"server", b"AliyunOSS"),
            (b"date", self._dates.http_date(self._clock())),
            (b"x-oss-request-id", rid.encode("ascii")),
            *response.headers,
        ]
        if response.status not in _NO_BODY_STATUSES:
            length = response.length if response.length is not None else len(response.body)
            headers.append((b"content-length", str(length).encode("ascii")))
        if not keep_alive:
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        if response.stream is None:
            await send({"type": "http.response.body", "body": response.body})
            return len(response.body)
        sent = 0
        try:
            for chunk in response.stream:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                sent += len(chunk)
        finally:
            close = getattr(response.stream, "close", None)
            if close is not None:
                close()
        await send({"type": "http.response.body", "body": b""})
        return sent


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
