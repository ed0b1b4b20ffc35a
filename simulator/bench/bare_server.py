"""The baseline of ``ossmedia bench emulator``: an ASGI app that only reads the body and says 200.

It runs on exactly the server stack the emulator runs on (uvicorn with the emulator's own
httptools protocol class, the same event loop choice, one worker, no access log, no server
header), so the difference between the two measurements is the emulator's own work: routing,
signature check, policy evaluation, the append itself and its CRC-64.

Its reply to ``POST /<bucket>/<key>?append&position=N`` carries what ``oss2``'s
``append_object`` reads: a request id, an ETag and ``x-oss-next-append-position`` (``N`` plus
the body length). It sends no ``x-oss-hash-crc64ecma``, so oss2 skips the CRC comparison (it
still computes the client-side CRC when given ``init_crc``, as in the emulator run). For the
multipart workload it answers InitiateMultipartUpload with a fixed upload id and every other
request (UploadPart, CompleteMultipartUpload, DeleteObject) with the same bare 200 and ETag.

Run as a separate process (what :func:`spawned_bare_server` does)::

    python -m simulator.bench.bare_server --port 0   # prints {"endpoint": "http://127.0.0.1:PORT"}
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import selectors
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs

import uvicorn

from simulator.base.asgi import ASGIReceive, ASGISend, Scope
from simulator.emulator.connection import AbortableHttpToolsProtocol
from simulator.emulator.runner import bind_socket
from simulator.lifetime import child_process_group

_SPAWN_TIMEOUT_S = 30.0
_request_ids = itertools.count(1)
_INITIATED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<InitiateMultipartUploadResult>'
    b"<UploadId>0000000000000000000000000000BA5E</UploadId></InitiateMultipartUploadResult>"
)


async def bare_app(scope: Scope, receive: ASGIReceive, send: ASGISend) -> None:
    """Read the whole request body, then answer 200 with oss2's append headers."""
    if scope["type"] != "http":
        return
    received = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        received += len(message.get("body", b""))
        more = bool(message.get("more_body", False))
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    if "uploads" in query:
        # InitiateMultipartUpload: oss2 reads the upload id from the body.
        body = _INITIATED
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-length", str(len(body)).encode()),
                    (b"content-type", b"application/xml"),
                    (b"x-oss-request-id", f"{next(_request_ids):024X}".encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
        return
    position = int(query.get("position", ["0"])[0] or 0)
    headers = [
        (b"content-length", b"0"),
        (b"x-oss-request-id", f"{next(_request_ids):024X}".encode()),
        (b"etag", b'"00000000000000000000000000000000"'),
        (b"x-oss-next-append-position", str(position + received).encode()),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


def bare_config() -> uvicorn.Config:
    """uvicorn settings matching the emulator's (see ``simulator.emulator.runner``)."""
    return uvicorn.Config(
        bare_app,
        http=AbortableHttpToolsProtocol,
        lifespan="off",
        access_log=False,
        server_header=False,
        log_level="warning",
        log_config=None,
    )


@dataclass(frozen=True)
class BareServer:
    """A running :mod:`simulator.bench.bare_server` process."""

    endpoint: str
    pid: int


@contextlib.contextmanager
def spawned_bare_server() -> Iterator[BareServer]:
    """Run :mod:`simulator.bench.bare_server` as a separate process.

    Raises:
        RuntimeError: the process printed no endpoint in time.
    """
    command = [sys.executable, "-m", "simulator.bench.bare_server", "--port", "0"]
    with tempfile.TemporaryFile("w+") as stderr:
        process = subprocess.Popen(  # noqa: S603 - fixed command line built above
            command,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            process_group=child_process_group(),
        )
        try:
            stdout = process.stdout
            assert stdout is not None  # noqa: S101 - Popen was asked for a pipe
            with selectors.DefaultSelector() as selector:
                selector.register(stdout, selectors.EVENT_READ)
                line = stdout.readline() if selector.select(_SPAWN_TIMEOUT_S) else ""
            if not line:
                stderr.seek(0)
                raise RuntimeError(f"the bare server did not start: {stderr.read()[-2000:]}")
            yield BareServer(str(json.loads(line)["endpoint"]), process.pid)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()


def main(argv: list[str] | None = None) -> int:
    """Serve the bare app until SIGTERM or Ctrl-C; print its endpoint as one JSON line first.

    Args:
        argv: ``--host`` and ``--port`` (0 picks a free one).

    Returns:
        0 after shutdown.
    """
    parser = argparse.ArgumentParser(prog="python -m simulator.bench.bare_server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    sock = bind_socket(args.host, args.port)
    port = int(sock.getsockname()[1])
    # The socket already listens: clients that connect before uvicorn starts wait in the backlog.
    print(json.dumps({"endpoint": f"http://{args.host}:{port}"}), flush=True)
    server = uvicorn.Server(bare_config())
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
