"""A loopback HTTP server that records each request and answers like OSS would, minimally.

It lets two clients' requests be compared byte for byte (method, target, headers, body), and
can close each connection after answering while still announcing keep-alive, the way an
idle-timeout on the store's side drops a connection a client keeps for reuse.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Captured:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


class CaptureServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, *, drop_after_answer: bool = False) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.drop_after_answer = drop_after_answer
        self.requests: list[Captured] = []
        self.canned: list[tuple[int, dict[str, str], bytes]] = []
        """Answers to give instead of the default ones, first to last."""
        self.connections = 0
        self.dropped = threading.Semaphore(0)
        """Released once per connection closed by the server after its answer."""

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: CaptureServer

    def setup(self) -> None:
        super().setup()
        self.server.connections += 1

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                chunk = self.rfile.read(size)
                self.rfile.readline()
                if size == 0:
                    return b"".join(chunks)
                chunks.append(chunk)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _answer(self, status: int, headers: dict[str, str], body: bytes = b"") -> None:
        if self.server.canned:
            status, headers, body = self.server.canned.pop(0)
        self.server.requests.append(
            Captured(
                self.command,
                self.path,
                {k.lower(): v for k, v in self.headers.items()},
                self._received,
            )
        )
        self.send_response(status)
        headers = {"x-oss-request-id": "5C0000000000000000000001", **headers}
        for name, value in headers.items():
            self.send_header(name, value)
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()
        if self.server.drop_after_answer:
            self.connection.shutdown(2)
            self.close_connection = True
            self.server.dropped.release()

    def do_POST(self) -> None:
        self._received = self._body()
        position = int(self.path.rsplit("position=", 1)[1])
        self._answer(200, {"x-oss-next-append-position": str(position + len(self._received))})

    def do_PUT(self) -> None:
        self._received = self._body()
        self._answer(200, {"ETag": '"D41D8CD98F00B204E9800998ECF8427E"'})

    def do_HEAD(self) -> None:
        self._received = b""
        self._answer(
            200,
            {
                "Content-Length": "3",
                "x-oss-object-type": "Appendable",
                "ETag": '"ABC"',
                "Last-Modified": "Sat, 05 Dec 2015 11:10:29 GMT",
                "Content-Type": "video/mp4",
            },
        )

    def do_GET(self) -> None:
        self._received = b""
        self._answer(206, {"Content-Range": "bytes 1-2/3"}, b"bc")

    def do_DELETE(self) -> None:
        self._received = b""
        self._answer(204, {})


@contextmanager
def capture_server(*, drop_after_answer: bool = False) -> Iterator[CaptureServer]:
    server = CaptureServer(drop_after_answer=drop_after_answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
