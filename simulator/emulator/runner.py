"""Serve an :class:`~simulator.emulator.server.Emulator` with uvicorn.

The listening socket is bound before uvicorn starts, so the port (also a free one picked with
port 0) is known up front and clients connecting early wait in the backlog instead of being
refused. :class:`ServerThread` runs uvicorn with its own event loop in a background thread
(tests, in-process use); :func:`serve` runs it in the foreground (the CLI), where uvicorn turns
Ctrl-C and SIGTERM into a graceful shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable

import uvicorn

from simulator.base.errors import EmulatorError
from simulator.emulator.connection import AbortableHttpToolsProtocol
from simulator.emulator.server import Emulator

_STARTUP_TIMEOUT_S = 15.0


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind and listen on ``host:port`` (0 picks a free port).

    Raises:
        EmulatorError: the address cannot be bound (for example the port is taken).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise EmulatorError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.setblocking(False)
    return sock


def uvicorn_config(emulator: Emulator) -> uvicorn.Config:
    """uvicorn settings for the emulator: our own access log, no server header, lifespan on.

    uvicorn's ``Date`` header is off: the emulator dates every response from its own clock.
    """
    return uvicorn.Config(
        emulator.app,
        http=AbortableHttpToolsProtocol,
        lifespan="on",
        access_log=False,
        server_header=False,
        date_header=False,
        log_level=emulator.settings.log_level,
        timeout_graceful_shutdown=5,
        log_config=None,
    )


class ServerThread:
    """uvicorn serving an emulator from a daemon thread.

    Args:
        emulator: what to serve.
    """

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self._sock = bind_socket(emulator.settings.host, emulator.settings.port)
        emulator.port = int(self._sock.getsockname()[1])
        self._server = uvicorn.Server(uvicorn_config(emulator))
        self._thread = threading.Thread(
            target=self._run, name=f"emulator-{emulator.port}", daemon=True
        )
        self._error: BaseException | None = None

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._sock])
        except BaseException as exc:  # reported to the starting thread
            self._error = exc

    def start(self) -> None:
        """Start serving and return once the app has started.

        Raises:
            EmulatorError: the server did not start.
        """
        self._thread.start()
        started = self.emulator.app.started
        while not started.wait(0.05):
            if not self._thread.is_alive():
                raise EmulatorError(f"the emulator server stopped during start-up: {self._error!r}")
        # The lifespan start-up completes just before uvicorn begins accepting; connections
        # made in between wait in the listen backlog.

    def stop(self) -> None:
        """Shut down gracefully and wait for the thread."""
        self._server.should_exit = True
        self._thread.join(timeout=_STARTUP_TIMEOUT_S)
        with contextlib.suppress(OSError):
            self._sock.close()
        self.emulator.close()


def serve(emulator: Emulator, on_ready: Callable[[], None]) -> None:
    """Serve in the foreground until Ctrl-C or SIGTERM.

    Args:
        emulator: what to serve.
        on_ready: called once the server accepts connections (prints the endpoint info).

    Raises:
        EmulatorError: the address cannot be bound.
    """
    sock = bind_socket(emulator.settings.host, emulator.settings.port)
    emulator.port = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn_config(emulator))

    async def main() -> None:
        async def announce() -> None:
            while not server.started and not server.should_exit:
                await asyncio.sleep(0.01)
            if server.started:
                on_ready()

        task = asyncio.create_task(announce())
        try:
            await server.serve(sockets=[sock])
        finally:
            task.cancel()

    try:
        with asyncio.Runner(loop_factory=server.config.get_loop_factory()) as runner:
            runner.run(main())
    finally:
        sock.close()
        emulator.close()
