"""Byte-level HTTP for the framing tests, and a client that sends the OSS C SDK's request shapes.

:class:`WireConnection` writes exactly the bytes it is given and reads responses framed by
Content-Length, so a test sees what the server did to the connection (kept it, closed it).
:class:`CSdkClient` reproduces what the OSS C SDK 3.x on libcurl sends to an IP endpoint: the
bucket and key joined and percent-encoded as one path segment, sub-resources without ``=``,
``Transfer-Encoding: chunked`` together with ``Content-Length`` on every body, V1 signatures
over ``/<bucket>/<key>``, and one kept-alive connection that is reopened when the server
closes it.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import formatdate
from urllib.parse import quote, urlsplit

from tests.simulator.oss._raw import sign_v1


@dataclass(frozen=True)
class WireResponse:
    """One response read off the socket."""

    status: int
    headers: dict[str, str]
    body: bytes


class WireConnection:
    """One TCP connection to the emulator.

    Args:
        endpoint: ``http://host:port``.
        timeout_s: per-read timeout (generous: the machine may be loaded).
    """

    def __init__(self, endpoint: str, timeout_s: float = 20.0) -> None:
        parts = urlsplit(endpoint)
        self.host = parts.netloc
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout_s)
        self._buffer = b""

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()

    def send(self, data: bytes) -> None:
        """Write raw bytes."""
        self.sock.sendall(data)

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        if not chunk:
            return False
        self._buffer += chunk
        return True

    def read_response(self, *, head: bool = False) -> WireResponse:
        """Read one response (body framed by Content-Length; none for HEAD).

        Raises:
            ConnectionError: the server closed the connection before a whole response.
        """
        while b"\r\n\r\n" not in self._buffer:
            if not self._fill():
                raise ConnectionError("closed before a response")
        head_bytes, _, self._buffer = self._buffer.partition(b"\r\n\r\n")
        lines = head_bytes.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = 0 if head else int(headers.get("content-length", "0"))
        while len(self._buffer) < length:
            if not self._fill():
                raise ConnectionError("closed inside a response body")
        body, self._buffer = self._buffer[:length], self._buffer[length:]
        return WireResponse(status, headers, body)

    def is_closed_by_peer(self) -> bool:
        """Whether the server has closed the connection (after any buffered bytes).

        Waits up to the socket timeout for the close; a connection still open then is not.
        """
        if self._buffer:
            return False
        try:
            return self.sock.recv(1) == b""
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True


def signed_head(
    host: str,
    method: str,
    target: str,
    resource: str,
    key_id: str,
    secret: str,
    extra: Mapping[str, str] | None = None,
) -> bytes:
    """A V1-signed request head (status line and headers, ending in the blank line)."""
    headers = {"Date": formatdate(usegmt=True), **(extra or {})}
    headers["Authorization"] = f"OSS {key_id}:{sign_v1(secret, method, resource, headers)}"
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def chunked(body: bytes, size: int = 8192) -> bytes:
    """``body`` in chunked transfer coding (as libcurl sends a read callback's data)."""
    out = [
        f"{len(body[i : i + size]):x}\r\n".encode() + body[i : i + size] + b"\r\n"
        for i in range(0, len(body), size)
    ]
    return b"".join(out) + b"0\r\n\r\n"


class CSdkClient:
    """The OSS C SDK's request shapes against an IP endpoint (see the module docstring).

    Attributes:
        connections: how many TCP connections the client has opened.
    """

    def __init__(self, endpoint: str, key_id: str, secret: str) -> None:
        self._endpoint = endpoint
        self._key_id = key_id
        self._secret = secret
        self._conn: WireConnection | None = None
        self.connections = 0

    def close(self) -> None:
        """Close the kept-alive connection."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self) -> WireConnection:
        if self._conn is None:
            self._conn = WireConnection(self._endpoint)
            self.connections += 1
        return self._conn

    def _request(
        self, method: str, bucket: str, key: str, query: str, body: bytes | None
    ) -> WireResponse:
        target = "/" + quote(f"{bucket}/{key}", safe="") + (f"?{query}" if query else "")
        resource = f"/{bucket}/{key}" + (f"?{query}" if query else "")
        extra: dict[str, str] = {}
        if body is not None:
            extra = {
                "Content-Type": "video/MP2T",
                "Transfer-Encoding": "chunked",
                "Content-Length": str(len(body)),
            }
        conn = self._connection()
        head = signed_head(conn.host, method, target, resource, self._key_id, self._secret, extra)
        conn.send(head + (chunked(body) if body is not None else b""))
        response = conn.read_response(head=method == "HEAD")
        if response.headers.get("connection", "").lower() == "close":
            # libcurl reuses a connection only if the server keeps it.
            self.close()
        return response

    def head_object(self, bucket: str, key: str) -> WireResponse:
        """``HEAD /<bucket%2Fkey>``."""
        return self._request("HEAD", bucket, key, "", None)

    def append_object(self, bucket: str, key: str, position: int, data: bytes) -> WireResponse:
        """``POST /<bucket%2Fkey>?append&position=N`` with chunked + Content-Length."""
        return self._request("POST", bucket, key, f"append&position={position}", data)

    def put_object(self, bucket: str, key: str, data: bytes) -> WireResponse:
        """``PUT /<bucket%2Fkey>`` with chunked + Content-Length."""
        return self._request("PUT", bucket, key, "", data)

    def get_object(self, bucket: str, key: str) -> WireResponse:
        """``GET /<bucket%2Fkey>``."""
        return self._request("GET", bucket, key, "", None)
