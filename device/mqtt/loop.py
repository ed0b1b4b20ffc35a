"""``SelectorLoop``: one thread that drives any number of MQTT links.

paho's own network thread (``loop_start``) waits with ``select()``, which cannot watch file
descriptors above 1024, so about 340 clients per process is its ceiling and past it paho
fails silently. This loop uses :mod:`selectors` (epoll on Linux) and paho's socket
callbacks instead: a link registers its socket when paho opens it, asks for write
readiness only while paho has bytes queued, and the loop calls ``loop_read`` /
``loop_write`` / ``loop_misc`` for it. A camera runs one loop with one link in its own
thread; a fleet simulator runs one loop with thousands of links.

Threading rule: paho objects are touched only on the loop thread. Other threads hand work
over with :meth:`SelectorLoop.call_soon_threadsafe`, which queues a callable and wakes the
selector through a socket pair.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import selectors
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

__all__ = ["LoopClient", "SelectorLoop", "Timer"]

log = logging.getLogger(__name__)


class LoopClient(Protocol):
    """What the loop calls on a registered link (always on the loop thread)."""

    def handle_readable(self) -> None:
        """The link's socket has data to read."""
        ...

    def handle_writable(self) -> None:
        """The link's socket can take more bytes."""
        ...

    def handle_misc(self) -> None:
        """Periodic housekeeping (keepalive pings, timeouts)."""
        ...


class Timer:
    """A scheduled call; :meth:`cancel` stops it from running."""

    __slots__ = ("cancelled", "fn", "when")

    def __init__(self, when: float, fn: Callable[[], None]) -> None:
        self.when = when
        self.fn = fn
        self.cancelled = False

    def cancel(self) -> None:
        """Do not run this call."""
        self.cancelled = True


class SelectorLoop:
    """An event loop for MQTT links built on :mod:`selectors`.

    Args:
        name: name of the loop thread.
        misc_interval_s: how often every link gets ``handle_misc``.
    """

    def __init__(self, *, name: str = "ossmedia-mqtt", misc_interval_s: float = 1.0) -> None:
        self.name = name
        self._misc_interval = misc_interval_s
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._lock = threading.Lock()
        self._calls: deque[Callable[[], None]] = deque()
        self._timers: list[tuple[float, int, Timer]] = []
        self._counter = itertools.count()
        self._clients: dict[int, LoopClient] = {}
        self._thread: threading.Thread | None = None
        self._loop_thread_id: int | None = None
        self._stopping = False
        self.closed = False

    # -- thread management ----------------------------------------------------------

    def start(self) -> None:
        """Run the loop in a new daemon thread."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self.run_forever, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the loop (from any thread) and wait for its thread to end."""
        self._stopping = True
        self._wake()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def in_loop_thread(self) -> bool:
        """Whether the caller runs on the loop thread."""
        return threading.get_ident() == self._loop_thread_id

    def run_forever(self) -> None:
        """Run the loop in the calling thread until :meth:`stop`."""
        self._loop_thread_id = threading.get_ident()
        next_misc = time.monotonic() + self._misc_interval
        try:
            while not self._stopping:
                now = time.monotonic()
                timeout = max(0.0, min(next_misc, self._next_timer(now + 1.0)) - now)
                with self._lock:
                    if self._calls:
                        timeout = 0.0
                for key, mask in self._selector.select(timeout):
                    self._dispatch(key, mask)
                self._run_calls()
                self._run_timers()
                now = time.monotonic()
                if now >= next_misc:
                    next_misc = now + self._misc_interval
                    for client in list(self._clients.values()):
                        self._guard(client.handle_misc)
        finally:
            self._run_calls()
            # Thread ids are reused once a thread ends: forget ours so no later thread
            # mistakes itself for the loop.
            self._loop_thread_id = None
            self.closed = True
            self._selector.close()
            self._wake_r.close()
            self._wake_w.close()

    # -- scheduling -----------------------------------------------------------------

    def call_soon_threadsafe(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the loop thread as soon as possible (callable from any thread)."""
        with self._lock:
            self._calls.append(fn)
        self._wake()

    def run_in_loop(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` now when on the loop thread, else hand it over."""
        if self.in_loop_thread():
            fn()
        else:
            self.call_soon_threadsafe(fn)

    def call_later(self, delay_s: float, fn: Callable[[], None]) -> Timer:
        """Run ``fn`` on the loop thread after ``delay_s`` seconds (loop thread only)."""
        timer = Timer(time.monotonic() + max(0.0, delay_s), fn)
        heapq.heappush(self._timers, (timer.when, next(self._counter), timer))
        return timer

    def _wake(self) -> None:
        # OSError: a wake-up byte is already pending, or the loop is closed.
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    def _next_timer(self, default: float) -> float:
        while self._timers and self._timers[0][2].cancelled:
            heapq.heappop(self._timers)
        return self._timers[0][0] if self._timers else default

    def _run_calls(self) -> None:
        while True:
            with self._lock:
                if not self._calls:
                    return
                fn = self._calls.popleft()
            self._guard(fn)

    def _run_timers(self) -> None:
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            _, _, timer = heapq.heappop(self._timers)
            if not timer.cancelled:
                self._guard(timer.fn)

    @staticmethod
    def _guard(fn: Callable[[], None]) -> None:
        # One misbehaving link must not take down every other link on the loop.
        try:
            fn()
        except Exception:
            log.exception("error in MQTT loop callback")

    # -- sockets (loop thread only) -------------------------------------------------

    def watch(self, sock: socket.socket, client: LoopClient) -> None:
        """Start watching ``sock`` for reads on behalf of ``client``."""
        if self.closed:
            return
        self._selector.register(sock, selectors.EVENT_READ, client)
        self._clients[id(client)] = client

    def set_writable(self, sock: socket.socket, want: bool) -> None:
        """Watch ``sock`` for write readiness too (``want``) or reads only."""
        try:
            key = self._selector.get_key(sock)
        except (KeyError, ValueError, RuntimeError):  # unknown socket, or loop closed
            return
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if want else 0)
        if key.events != events:
            self._selector.modify(sock, events, key.data)

    def unwatch(self, sock: socket.socket) -> None:
        """Stop watching ``sock`` (it is about to be closed)."""
        with contextlib.suppress(KeyError, ValueError, RuntimeError):
            self._selector.unregister(sock)

    def add(self, client: LoopClient) -> None:
        """Give ``client`` periodic ``handle_misc`` calls even while it has no socket."""
        self._clients[id(client)] = client

    def remove(self, client: LoopClient) -> None:
        """Stop the periodic calls for ``client``."""
        self._clients.pop(id(client), None)

    def _dispatch(self, key: selectors.SelectorKey, mask: int) -> None:
        if key.data is None:
            try:
                while self._wake_r.recv(4096):
                    pass
            except (BlockingIOError, OSError):
                pass
            return
        client: LoopClient = key.data
        if mask & selectors.EVENT_READ:
            self._guard(client.handle_readable)
        if mask & selectors.EVENT_WRITE:
            # The read above may have closed and unregistered the socket.
            try:
                self._selector.get_key(key.fileobj)
            except (KeyError, ValueError):
                return
            self._guard(client.handle_writable)
