"""Keep-alive HTTP connections to one host, from the standard library's ``http.client``.

A connection is reused for the next request once its response has been read in full. OSS
(or a proxy in between) closes idle keep-alive connections; a request written into such a
socket would fail although the store never saw it. So before a connection is reused it is
checked: if the peer has closed it (the socket reads as ready with nothing pending for us),
it is dropped and a fresh one is opened. A connection that fails in any way is closed, never
reused. There is no retry here: whether and how to retry is the caller's decision (an append
must be reconciled, not resent).

Connections live in a small idle list guarded by a lock, so threads can share one
:class:`ConnectionPool` without waiting for each other.
"""

from __future__ import annotations

import http.client
import select
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = ["TRANSPORT_ERRORS", "ConnectionPool", "Response"]

# What a failed exchange raises: socket errors and timeouts are OSErrors (so is
# ``RemoteDisconnected``, a ConnectionResetError); a garbled or cut-short answer is an
# ``HTTPException`` (``IncompleteRead``, ``BadStatusLine``, ``LineTooLong``).
TRANSPORT_ERRORS: tuple[type[Exception], ...] = (OSError, http.client.HTTPException)

_MAX_IDLE = 4


@dataclass(frozen=True)
class Response:
    """A complete answer.

    Attributes:
        status: the HTTP status.
        headers: the response headers, names lower-cased.
        body: the whole body (empty for HEAD).
    """

    status: int
    headers: Mapping[str, str]
    body: bytes


ConnectionFactory = Callable[[str, int, float], http.client.HTTPConnection]


def _plain(host: str, port: int, timeout_s: float) -> http.client.HTTPConnection:
    return http.client.HTTPConnection(host, port, timeout=timeout_s)


def _tls(host: str, port: int, timeout_s: float) -> http.client.HTTPConnection:
    return http.client.HTTPSConnection(host, port, timeout=timeout_s)


def _dropped(connection: http.client.HTTPConnection) -> bool:
    """Whether the peer closed an idle connection (or it was never opened)."""
    sock = connection.sock
    if sock is None:
        return False  # closed on our side after a "Connection: close": reopens by itself
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    # An idle HTTP/1.1 connection has nothing to read: readable means EOF or a stray byte.
    return bool(readable)


class ConnectionPool:
    """Reusable connections to one host.

    Args:
        scheme: ``http`` or ``https``.
        host: the host to connect to.
        port: its port.
        timeout_s: connect timeout, and the longest wait for any read or write.
        factory: builds a connection; the default follows ``scheme``.
    """

    def __init__(
        self,
        scheme: str,
        host: str,
        port: int,
        *,
        timeout_s: float,
        factory: ConnectionFactory | None = None,
    ) -> None:
        self._host = host
        self._port = port
        self._timeout_s = timeout_s
        self._factory = factory or (_tls if scheme == "https" else _plain)
        self._lock = threading.Lock()
        self._idle: list[http.client.HTTPConnection] = []
        self.opened = 0
        """Connections opened so far (reuse shows as requests outnumbering it)."""

    def request(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes | None = None
    ) -> Response:
        """Send one request and read its whole answer.

        Raises:
            OSError, http.client.HTTPException: the exchange failed (see ``TRANSPORT_ERRORS``);
                the request may or may not have reached the server.
        """
        connection = self._take()
        try:
            connection.request(method, target, body=body, headers=dict(headers))
            answer = connection.getresponse()
            payload = answer.read()
            received = Response(
                answer.status, {k.lower(): v for k, v in answer.getheaders()}, payload
            )
        except BaseException:
            connection.close()
            raise
        self._give_back(connection)
        return received

    def close(self) -> None:
        """Close the idle connections."""
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def _take(self) -> http.client.HTTPConnection:
        while True:
            with self._lock:
                connection = self._idle.pop() if self._idle else None
                if connection is None:
                    self.opened += 1
            if connection is None:
                return self._factory(self._host, self._port, self._timeout_s)
            if not _dropped(connection):
                return connection
            connection.close()

    def _give_back(self, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            if len(self._idle) < _MAX_IDLE:
                self._idle.append(connection)
                return
        connection.close()
