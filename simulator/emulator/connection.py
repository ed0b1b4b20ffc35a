"""Let the emulator drop a client connection on purpose (connection reset, lost response).

ASGI has no way to end a connection without a response: an app that raises before its
response start gets a 500 from the server. Dropping a connection is exactly what the fault
injector must do, so the HTTP protocol class below (uvicorn's httptools protocol, unchanged
otherwise) adds a server extension to every request scope::

    scope["extensions"]["ossmedia.connection"] = {"abort": <callable>}

Calling it resets the TCP connection (``SO_LINGER`` 0, so the peer sees RST rather than an
orderly close) before any byte of a response has been written.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Callable

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from simulator.base.asgi import ASGIReceive, Scope

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


class AbortableHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol plus the ``ossmedia.connection`` scope extension."""

    def on_message_begin(self) -> None:
        super().on_message_begin()
        transport = self.transport
        extensions = self.scope.setdefault("extensions", {})
        extensions[EXTENSION] = {"abort": lambda: reset_transport(transport)}


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
