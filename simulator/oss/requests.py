"""Request parsing: method, raw target, query, headers and a size-limited body reader.

The server (uvicorn) de-chunks ``Transfer-Encoding: chunked`` bodies; this module only counts
bytes. A request with both ``Transfer-Encoding`` and ``Content-Length`` (libcurl under the OSS
C SDK sends both) is read by its transfer coding alone: its Content-Length is ignored, as
RFC 9112 §6.3 says (the server closes such a connection after the response). Query strings are split by hand so blank values survive (``?append=&position=0`` and
bare ``?append`` mean the same). In the query ``+`` means a space (clients form-encode
parameters; a literal plus travels as ``%2B``); in the path it stays a plus (see ``urls``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from simulator.oss.errors import EntityTooLarge, InvalidArgument, MissingContentLength

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class ClientDisconnected(Exception):
    """The client went away before its request body was complete (nothing is committed)."""


@dataclass(slots=True)
class OssRequest:
    """One parsed HTTP request.

    Attributes:
        method: upper-case HTTP method.
        raw_path: the path as received, still percent-encoded (decoded latin-1 from bytes).
        query: decoded query parameters; for a repeated name the first value wins.
        query_items: every decoded (name, value) pair in order (V4 signs them all).
        headers: lower-case names to values (latin-1 decoded; repeats joined with ``,``).
        client_ip: the peer address (used for ``acs:SourceIp``).
        secure: whether the request came over TLS (``acs:SecureTransport``).
    """

    method: str
    raw_path: str
    query: dict[str, str]
    query_items: list[tuple[str, str]]
    headers: dict[str, str]
    client_ip: str
    secure: bool
    receive: Receive = field(repr=False)
    body_consumed: bool = False

    @property
    def host(self) -> str:
        """The Host header ("" when absent)."""
        return self.headers.get("host", "")

    def declared_length(self) -> int | None:
        """The Content-Length, ``None`` when the body is chunked or absent.

        Raises:
            InvalidArgument: the header is not a non-negative integer.
        """
        value = self.headers.get("content-length")
        if value is None or "transfer-encoding" in self.headers:
            return None
        if not value.isdigit():
            raise InvalidArgument(
                "Content-Length is not a valid integer.", name="Content-Length", value=value
            )
        return int(value)

    def has_body(self) -> bool:
        """Whether the client announced a body (a length or chunked transfer)."""
        return (
            "content-length" in self.headers
            or "chunked" in self.headers.get("transfer-encoding", "").lower()
        )

    async def read_body(self, limit: int, *, require_length: bool = False) -> bytes:
        """Read the whole body, refusing more than ``limit`` bytes.

        Args:
            limit: the largest body accepted.
            require_length: fail with MissingContentLength when the request has neither a
                Content-Length nor chunked transfer encoding (uploads).

        Returns:
            The body bytes.

        Raises:
            EntityTooLarge: the declared or actual body exceeds ``limit``.
            MissingContentLength: ``require_length`` and nothing announces a body.
            ClientDisconnected: the client went away mid-body.
        """
        # Joining a single piece returns that piece itself: a one-message body is not copied.
        return b"".join(await self.read_body_chunks(limit, require_length=require_length))

    async def read_body_chunks(self, limit: int, *, require_length: bool = False) -> list[bytes]:
        """Like :meth:`read_body`, but the body as the pieces it arrived in (no joining copy:
        an UploadPart of 5 MB hashes and stores its pieces as they are).

        Raises:
            EntityTooLarge, MissingContentLength, ClientDisconnected: as :meth:`read_body`.
        """
        declared = self.declared_length()
        if declared is None and require_length and not self.has_body():
            raise MissingContentLength()
        if declared is not None and declared > limit:
            raise EntityTooLarge(max_size=limit, proposed_size=declared)
        self.body_consumed = True
        chunks: list[bytes] = []
        total = 0
        while True:
            message = await self.receive()
            if message["type"] != "http.request":
                raise ClientDisconnected()
            chunk: bytes = message.get("body", b"")
            total += len(chunk)
            if total > limit:
                raise EntityTooLarge(max_size=limit)
            if chunk:
                chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks

    async def drain(self, limit: int) -> bool:
        """Read and discard an unread body of at most ``limit`` bytes.

        Returns:
            True when the body was fully read (the connection can be kept), False when it is
            too large or the client is gone (the connection should be closed).
        """
        if self.body_consumed or not self.has_body():
            return True
        try:
            declared = self.declared_length()
        except InvalidArgument:
            return False
        if declared is not None and declared > limit:
            return False
        self.body_consumed = True
        total = 0
        while True:
            message = await self.receive()
            if message["type"] != "http.request":
                return False
            total += len(message.get("body", b""))
            if total > limit:
                return False
            if not message.get("more_body", False):
                return True


def parse_scope(scope: Scope, receive: Receive) -> OssRequest:
    """Build an :class:`OssRequest` from an ASGI HTTP scope.

    Raises:
        InvalidArgument: the query string is not valid UTF-8 after percent-decoding.
    """
    raw_headers = scope["headers"]
    # ASGI servers hand over lower-case names; repeated headers are rare, so build the dict in
    # one pass and only fold repeats when the sizes disagree.
    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in raw_headers}
    if len(headers) != len(raw_headers):
        headers = {}
        for raw_name, raw_value in raw_headers:
            name = raw_name.decode("latin-1").lower()
            value = raw_value.decode("latin-1")
            headers[name] = headers[name] + "," + value if name in headers else value
    raw_path_bytes: bytes | None = scope.get("raw_path")
    if raw_path_bytes is None:
        raw_path = scope["path"]
    else:
        raw_path = raw_path_bytes.decode("latin-1")
        # Some servers hand over the whole target; the query arrives separately anyway.
        raw_path = raw_path.partition("?")[0]
    query_items = parse_query(scope.get("query_string", b""))
    query: dict[str, str] = {}
    for name, value in query_items:
        query.setdefault(name, value)
    client = scope.get("client")
    return OssRequest(
        method=scope["method"].upper(),
        raw_path=raw_path,
        query=query,
        query_items=query_items,
        headers=headers,
        client_ip=client[0] if client else "",
        secure=scope.get("scheme") == "https",
        receive=receive,
    )


def parse_query(raw: bytes) -> list[tuple[str, str]]:
    """Split a raw query string into decoded (name, value) pairs, keeping blank values.

    Raises:
        InvalidArgument: a name or value is not valid UTF-8 after percent-decoding.
    """
    if not raw:
        return []
    items: list[tuple[str, str]] = []
    for part in raw.decode("latin-1").split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        try:
            items.append((_unquote(name), _unquote(value)))
        except UnicodeError:
            raise InvalidArgument(
                "The query string is not valid UTF-8.", name="query", value=part
            ) from None
    return items


def _unquote(text: str) -> str:
    text = text.encode("latin-1").decode("utf-8").replace("+", " ")
    if "%" not in text:
        return text
    return unquote(text, errors="strict")
