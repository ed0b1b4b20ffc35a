"""ASGI type aliases shared by the emulator's apps (plain ASGI 3, no framework)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIReceive = Callable[[], Awaitable[Message]]
ASGISend = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, ASGIReceive, ASGISend], Awaitable[None]]


def query_has(query_string: bytes, name: bytes) -> bool:
    """Tell cheaply whether a raw query string carries parameter ``name`` (with or without value)."""
    if not query_string:
        return False
    return any(part == name or part.startswith(name + b"=") for part in query_string.split(b"&"))
