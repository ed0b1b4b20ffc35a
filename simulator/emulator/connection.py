"""Let the emulator drop a client connection on purpose (connection reset, lost response).

ASGI has no way to end a connection without a response: an app that raises before its
response start gets a 500 from the server. Dropping a connection is exactly what the fault
injector must do, so the HTTP protocol class below (uvicorn's httptools protocol, unchanged
otherwise) adds a server extension to every request scope::

    scope["extensions"]["ossmedia.connection"] = {"abort": <callable>}

Calling it resets the TCP connection (``SO_LINGER`` 0, so the peer sees RST rather than an
orderly close) before any byte of a response has been written.

Message framing (RFC 9112 §6). libcurl, under the OSS C SDK, sends ``Transfer-Encoding:
chunked`` *and* ``Content-Length`` on every upload. llhttp refuses that by default; the
protocol below lets it through (``lenient_chunked_length``) and does what §6.1 allows a server
to do: the body is read by its chunked coding alone, and the connection is closed after the
response, so nothing the two framings might disagree on is ever read as a next request.
That leniency also lets llhttp accept a request whose transfer coding is not exactly
``chunked`` (``gzip``, ``gzip, chunked``); such a request is answered ``501 NotImplemented``
without reading its body, and the connection is closed. Everything else stays strict, as
llhttp is by default: bare LF line ends, obs-fold continuation lines, repeated or differing
``Content-Length`` and a repeated ``Transfer-Encoding`` end the connection with 400.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from simulator.base.asgi import ASGIReceive, ASGISend, Scope

EXTENSION = "ossmedia.connection"


def reset_transport(transport: asyncio.BaseTransport) -> None:
    """Abort ``transport`` with a TCP RST."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    # uvloop's transports are not asyncio.Transport subclasses, so look the method up.
    abort: Callable[[], None] | None = getattr(transport, "abort", None)
    if abort is not None:
        abort()
    else:
        transport.close()


_UNSUPPORTED_CODING = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error>\n'
    b"  <Code>NotImplemented</Code>\n"
    b"  <Message>A header you provided implies functionality that is not implemented.</Message>\n"
    b"  <Header>Transfer-Encoding</Header>\n</Error>\n"
)


async def _refuse_transfer_coding(scope: Scope, receive: ASGIReceive, send: ASGISend) -> None:
    # Answers without reading the body: the body's end cannot be known.
    await send(
        {
            "type": "http.response.start",
            "status": 501,
            "headers": [
                (b"server", b"AliyunOSS"),
                (b"content-type", b"application/xml"),
                (b"content-length", str(len(_UNSUPPORTED_CODING)).encode("ascii")),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": _UNSUPPORTED_CODING})


def request_framing(headers: list[tuple[bytes, bytes]]) -> str:
    """How a request's body is delimited: ``length`` (or none), ``chunked``,
    ``chunked+length`` (both headers: read chunked, then close) or ``unsupported``."""
    coding: bytes | None = None
    has_length = False
    for name, value in headers:
        if name == b"transfer-encoding":
            coding = value if coding is None else coding + b"," + value
        elif name == b"content-length":
            has_length = True
    if coding is None:
        return "length"
    if coding.strip().lower() != b"chunked":
        return "unsupported"
    return "chunked+length" if has_length else "chunked"


class AbortableHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol plus the ``ossmedia.connection`` scope extension and the
    framing rules of the module docstring."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.parser.set_dangerous_leniencies(
            lenient_data_after_close=True, lenient_chunked_length=True
        )

    def on_message_begin(self) -> None:
        super().on_message_begin()
        transport = self.transport
        extensions = self.scope.setdefault("extensions", {})
        extensions[EXTENSION] = {"abort": lambda: reset_transport(transport)}

    def on_headers_complete(self) -> None:
        framing = request_framing(self.headers)
        if framing == "unsupported":
            app, self.app = self.app, _refuse_transfer_coding
            try:
                super().on_headers_complete()
            finally:
                self.app = app
        else:
            super().on_headers_complete()
        if framing in ("unsupported", "chunked+length") and self.cycle is not None:
            self.cycle.keep_alive = False


def abort_function(scope: Scope) -> Callable[[], None] | None:
    """The abort callable of a request's connection, if the server provides one."""
    extension = scope.get("extensions", {}).get(EXTENSION)
    if not extension:
        return None
    abort: Callable[[], None] = extension["abort"]
    return abort


async def wait_disconnect(receive: ASGIReceive, timeout_s: float = 5.0) -> None:
    """Consume request messages until the server reports the disconnect.

    Returning from the app only then keeps the server from writing a fallback 500 into a
    connection that is already gone.
    """
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s):
            while (await receive())["type"] != "http.disconnect":
                pass
