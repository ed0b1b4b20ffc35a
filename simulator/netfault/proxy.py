"""The proxy itself: one asyncio server, two pumps per connection.

Each pump reads a chunk, decides (with the seeded RNG) whether the link resets, and queues the
chunk for delivery at ``max(previous delivery, now + delay)`` so jitter never reorders bytes.
Bandwidth is modelled as serialisation time: a direction is busy until its last chunk is out.
A reset sets ``SO_LINGER`` to zero before closing so the peer sees a real RST, not a FIN.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

from simulator.netfault.profile import PASS_THROUGH, LinkProfile

_CHUNK = 16 * 1024


@dataclass
class ProxyStats:
    """Counters of what crossed the proxy (read them after ``stop`` or between runs)."""

    connections: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    resets: int = 0
    limit_cuts: int = 0
    upstream_failures: int = 0


@dataclass
class _Direction:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    up: bool
    sent: int = 0
    link_free_at: float = 0.0
    last_due: float = 0.0
    queue: asyncio.Queue[tuple[float, bytes] | None] = field(default_factory=asyncio.Queue)


def _reset(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class FaultProxy:
    """A TCP proxy from ``listen`` to ``upstream`` that applies a :class:`LinkProfile`.

    Args:
        upstream: ``(host, port)`` of the real server.
        profile: faults to apply; replace at run time with :meth:`set_profile`.
        seed: seeds every random decision, so a run can be replayed.
        host: address to listen on.
        port: port to listen on; 0 picks a free one (see :attr:`port` after :meth:`start`).
        sleep: how to wait; injected so tests can observe scheduling.
    """

    def __init__(
        self,
        upstream: tuple[str, int],
        profile: LinkProfile = PASS_THROUGH,
        *,
        seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._upstream = upstream
        self._profile = profile
        self._rng = random.Random(seed)  # noqa: S311 - fault decisions, not secrets
        self._host = host
        self._port = port
        self._sleep = sleep
        self._server: asyncio.Server | None = None
        self._links: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._serving: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.stats = ProxyStats()

    @property
    def port(self) -> int:
        """The port actually listened on."""
        if self._server is None:
            raise RuntimeError("the proxy is not started")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def profile(self) -> LinkProfile:
        return self._profile

    def set_profile(self, profile: LinkProfile) -> None:
        """Change the faults; applies to chunks read from now on, on every connection."""
        self._profile = profile

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._server = await asyncio.start_server(self._serve, self._host, self._port)

    async def stop(self) -> None:
        """Stop listening, reset every open connection and wait for its tasks to end.

        A reset connection's pumps see the end of their streams on the loop's next turns and
        its deliveries may be asleep on the link's latency: they are cancelled, so when this
        returns no task of the proxy is left pending.
        """
        if self._server is not None:
            self._server.close()
        self._reset_all(count=False)
        serving = list(self._serving)
        for task in serving:
            task.cancel()
        await asyncio.gather(*serving, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    def reset_all(self) -> None:
        """Reset every open connection now (a link flap). Safe to call from any thread."""
        if self._loop is None:
            raise RuntimeError("the proxy is not started")
        self._loop.call_soon_threadsafe(self._reset_all)

    def _reset_all(self, *, count: bool = True) -> None:
        for link in list(self._links):
            self._reset_link(link, count=count)

    def _reset_link(
        self, link: tuple[asyncio.StreamWriter, asyncio.StreamWriter], *, count: bool
    ) -> None:
        if link in self._links:
            self._links.discard(link)
            if count:
                self.stats.resets += 1
        for writer in link:
            _reset(writer)

    async def _serve(self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._serving.add(task)
            task.add_done_callback(self._serving.discard)
        try:
            await self._link(c_reader, c_writer)
        except asyncio.CancelledError:
            # Only stop() cancels a connection. End normally: Python 3.11's stream server
            # asks a finished handler task for its exception, which raises (and is logged as
            # an error) when the task was cancelled.
            return

    async def _link(self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        self.stats.connections += 1
        try:
            u_reader, u_writer = await asyncio.open_connection(*self._upstream)
        except OSError:
            self.stats.upstream_failures += 1
            _reset(c_writer)
            return
        link = (c_writer, u_writer)
        for w in link:
            sock = w.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._links.add(link)
        up = _Direction(c_reader, u_writer, up=True)
        down = _Direction(u_reader, c_writer, up=False)
        tasks = [
            asyncio.create_task(self._pump(up, link)),
            asyncio.create_task(self._pump(down, link)),
            asyncio.create_task(self._deliver(up)),
            asyncio.create_task(self._deliver(down)),
        ]
        try:
            await asyncio.gather(*tasks, return_exceptions=True)
        except asyncio.CancelledError:
            # stop(): a cancelled gather cancels its children; wait until they are over.
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        finally:
            self._links.discard(link)
            for w in link:
                if not w.transport.is_closing():
                    w.close()

    async def _pump(
        self, d: _Direction, both: tuple[asyncio.StreamWriter, asyncio.StreamWriter]
    ) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    chunk = await d.reader.read(_CHUNK)
                except OSError:
                    chunk = b""
                if not chunk:
                    break
                profile = self._profile
                if profile.reset_probability and self._rng.random() < profile.reset_probability:
                    self._reset_link(both, count=True)
                    break
                limit = profile.data_limit_bytes
                if limit is not None and d.sent + len(chunk) > limit:
                    # Deliver up to the limit, then close this direction (the finally
                    # below queues the FIN); the other direction ends on its own.
                    self._queue(d, chunk[: limit - d.sent], profile, loop.time())
                    self.stats.limit_cuts += 1
                    break
                self._queue(d, chunk, profile, loop.time())
        finally:
            await d.queue.put(None)

    def _queue(self, d: _Direction, chunk: bytes, profile: LinkProfile, now: float) -> None:
        if not chunk:
            return
        # The link serialises one chunk after another, then each travels with its own delay;
        # delivery never overtakes the chunk ahead of it.
        start = max(now, d.link_free_at)
        d.link_free_at = start + profile.serialisation_s(len(chunk))
        due = max(d.last_due, d.link_free_at + profile.travel_s(self._rng))
        d.last_due = due
        d.sent += len(chunk)
        if d.up:
            self.stats.bytes_up += len(chunk)
        else:
            self.stats.bytes_down += len(chunk)
        d.queue.put_nowait((due, chunk))

    async def _deliver(self, d: _Direction) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                item = await d.queue.get()
                try:
                    if item is None:
                        if d.writer.can_write_eof() and not d.writer.transport.is_closing():
                            with contextlib.suppress(OSError):
                                d.writer.write_eof()
                        return
                    due, chunk = item
                    wait = due - loop.time()
                    if wait > 0:
                        await self._sleep(wait)
                    if d.writer.transport.is_closing():
                        continue
                    d.writer.write(chunk)
                    with contextlib.suppress(OSError):
                        await d.writer.drain()
                finally:
                    d.queue.task_done()
        except asyncio.CancelledError:
            raise


@contextlib.contextmanager
def running_proxy(
    upstream: tuple[str, int], profile: LinkProfile = PASS_THROUGH, *, seed: int = 0
) -> Iterator[FaultProxy]:
    """Run a :class:`FaultProxy` on a free port in a background thread.

    Yields the proxy; ``set_profile`` and ``stats`` are safe to use from the caller's thread
    (profile replacement is a single reference swap; counters are read-only outside).
    """
    loop = asyncio.new_event_loop()
    proxy = FaultProxy(upstream, profile, seed=seed)
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(proxy.start())
        ready.set()
        loop.run_forever()
        # proxy.stop() has ended every connection's tasks; close the loop's own async
        # generators before the loop itself is closed.
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()

    thread = threading.Thread(target=run, name="netfault-proxy", daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("the fault proxy did not start within 10 s")
    try:
        yield proxy
    finally:
        asyncio.run_coroutine_threadsafe(proxy.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
