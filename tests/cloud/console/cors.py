"""A CORS front for the OSS emulator: what a bucket CORS rule does on real OSS.

hls.js reads segments with XHR, so a browser lets it see a segment from another origin only
when the answer carries ``Access-Control-Allow-Origin``. Real OSS adds it from the bucket's
CORS rules (``PutBucketCors``); the emulator does not implement them, so the HLS browser
test puts this pass-through proxy in front of it. Requests go to the emulator unchanged
(same path, query, Host and signature); answers come back unchanged plus the CORS headers
for the one allowed origin.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}


def _handler(upstream: tuple[str, int], allowed: list[str]) -> type[BaseHTTPRequestHandler]:
    class Forward(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return  # keep test output quiet

        def _cors(self) -> None:
            if allowed and self.headers.get("Origin") == allowed[0]:
                self.send_header("Access-Control-Allow-Origin", allowed[0])
                self.send_header("Vary", "Origin")

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            conn = http.client.HTTPConnection(*upstream, timeout=10)
            try:
                conn.request(self.command, self.path, body=body, headers=headers)
                reply = conn.getresponse()
                data = reply.read()
            finally:
                conn.close()
            self.send_response(reply.status, reply.reason)
            for name, value in reply.getheaders():
                if name.lower() not in _HOP_BY_HOP | {"content-length"}:
                    self.send_header(name, value)
            self._cors()
            # A HEAD answer has no body but tells the object's length.
            length = reply.getheader("Content-Length") if self.command == "HEAD" else None
            self.send_header("Content-Length", length or str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def do_OPTIONS(self) -> None:
            # A preflight, as a bucket CORS rule answers it (ranged reads of live objects).
            self.send_response(204)
            self._cors()
            self.send_header("Access-Control-Allow-Methods", "GET, HEAD")
            self.send_header("Access-Control-Allow-Headers", "range")
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _forward

    return Forward


@contextmanager
def cors_front(upstream_url: str, allowed: list[str]) -> Iterator[str]:
    """Serve a CORS-adding proxy of ``upstream_url`` on a free loopback port.

    Args:
        upstream_url: ``http://HOST:PORT`` of the emulator.
        allowed: filled in later with the one origin allowed (the console's), as a list
            so the caller can set it once the console's port is known.

    Yields:
        The proxy's ``http://127.0.0.1:PORT``.
    """
    parts = urlsplit(upstream_url)
    assert parts.hostname is not None
    assert parts.port is not None
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler((parts.hostname, parts.port), allowed))
    thread = threading.Thread(target=server.serve_forever, name="cors-front", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
