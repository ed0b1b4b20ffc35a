"""ASGI middleware: request size limits and security headers on every response.

Both are plain ASGI (no per-request task switching) and sit outside the application, so
they apply to every route, error page and static file alike.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["DEFAULT_CSP", "RequestLimits", "SecurityHeaders"]

DEFAULT_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'none'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)

MAX_PATH_BYTES = 1024
MAX_QUERY_BYTES = 2048


async def _plain(send: Send, status: int, text: str) -> None:
    body = text.encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode("ascii")),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestLimits:
    """Refuses oversized requests before any handler sees them.

    A path over 1 KiB or a query over 2 KiB gets 414; a body over ``max_body_bytes`` gets
    413. Bodies are read here in full (they are small by construction) and replayed to the
    application, so the limit holds for chunked uploads too.

    Args:
        app: the wrapped application.
        max_body_bytes: largest accepted request body.
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self._app = app
        self._max = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        raw_path = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
        if len(raw_path) > MAX_PATH_BYTES or len(scope.get("query_string", b"")) > MAX_QUERY_BYTES:
            await _plain(send, 414, "request URI too long")
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and (not value.isdigit() or int(value) > self._max):
                await _plain(send, 413, "request body too large")
                return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max:
                await _plain(send, 413, "request body too large")
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self._app(scope, replay, send)


class SecurityHeaders:
    """Adds security headers to every response.

    A response may set its own ``Content-Security-Policy`` (the player page allows the OSS
    origin as a media source) or ``Cache-Control``; otherwise the strict defaults apply.

    Args:
        app: the wrapped application.
        secure: also send ``Strict-Transport-Security`` (the console is behind HTTPS).
    """

    def __init__(self, app: ASGIApp, *, secure: bool) -> None:
        self._app = app
        self._secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                extra = [
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"cross-origin-opener-policy", b"same-origin"),
                ]
                if b"content-security-policy" not in present:
                    extra.append((b"content-security-policy", DEFAULT_CSP.encode("ascii")))
                if b"cache-control" not in present:
                    extra.append((b"cache-control", b"no-store"))
                if self._secure:
                    extra.append((b"strict-transport-security", b"max-age=31536000"))
                message = {**message, "headers": headers + extra}
            await send(message)

        await self._app(scope, receive, send_with_headers)
