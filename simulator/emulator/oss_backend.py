"""The seam to the OSS half of the emulator: its ASGI app and bucket creation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simulator.base.asgi import ASGIApp, ASGIReceive, ASGISend, Scope


@dataclass(frozen=True)
class OssBackend:
    """What the server needs from the OSS emulator.

    Attributes:
        app: the OSS ASGI app.
        create_bucket: ``(name, owner_account_id)``; must not fail if the bucket exists.
        model: the OSS state object, for white-box assertions in tests.
        close: flushes and releases the store at shutdown.
        sweep: applies lifecycle rules at the emulator clock; returns how many objects expired.
    """

    app: ASGIApp
    create_bucket: Callable[[str, str], None]
    model: Any = None
    close: Callable[[], None] = lambda: None
    sweep: Callable[[], int] = lambda: 0


async def not_implemented(scope: Scope, receive: ASGIReceive, send: ASGISend) -> None:
    """Answer 501 ``NotImplemented`` when no OSS emulator is installed."""
    del receive
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NotImplemented</Code>'
        b"<Message>OSS is not available in this emulator.</Message></Error>\n"
    )
    if scope["method"] == "HEAD":
        body = b""
    await send(
        {
            "type": "http.response.start",
            "status": 501,
            "headers": [
                (b"content-type", b"application/xml"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _no_buckets(name: str, account_id: str) -> None:
    del name, account_id


UNAVAILABLE = OssBackend(app=not_implemented, create_bucket=_no_buckets)
