"""One paho client's network I/O, driven from the thread that owns the client.

paho's own ``loop()`` writes a byte to an internal socket pair for every packet queued, so
that a ``select()`` waiting in another thread wakes up. The responder publishes most replies
(and their acknowledgements) from the network thread itself, where those are two system calls
per request for nothing: the packets go out at the end of the same pass anyway. This loop
uses paho's external-loop API (``loop_read`` / ``loop_write`` / ``loop_misc`` and the
``on_socket_register_write`` callback) and wakes itself only when another thread (a worker
with a reply, ``stop()`` with an unsubscribe) queues a packet.
"""

from __future__ import annotations

import contextlib
import math
import select
import socket
import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

_OK = MQTTErrorCode.MQTT_ERR_SUCCESS
_READ_BATCH = 256


def _has_more(sock: Any) -> bool:
    """True when bytes wait in ``sock`` (or its TLS buffer), without blocking."""
    pending = getattr(sock, "pending", None)
    if pending is not None:  # TLS: only decrypted bytes can be seen without a read
        return bool(pending() > 0)
    try:
        return bool(sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True  # let the next read report the error


class NetworkLoop:
    """Read, write and keep alive one client, a pass at a time.

    Args:
        client: the paho client; its ``on_socket_register_write`` callback is taken.
    """

    def __init__(self, client: mqtt.Client) -> None:
        self._client = client
        self._owner: int | None = None
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        client.on_socket_register_write = self._on_register_write

    def _on_register_write(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        # paho calls this when a packet is queued while none was waiting. On the loop's own
        # thread the packet goes out at the end of the pass; from elsewhere, the loop may be
        # waiting in poll() and must be woken.
        if threading.get_ident() != self._owner:
            self.wake()

    def wake(self) -> None:
        """End the current wait early (from any thread)."""
        with contextlib.suppress(OSError):  # buffer full (a wake-up is pending) or closed
            self._wake_w.send(b"\0")

    def step(self, timeout: float) -> MQTTErrorCode:
        """Wait up to ``timeout`` seconds for traffic, then read, write and keep alive.

        Call it from one thread only: that thread owns the client's socket.

        Returns:
            paho's code: success, or why the connection is gone (paho has then closed the
            socket and called ``on_disconnect``, as its own loop does).
        """
        self._owner = threading.get_ident()
        client = self._client
        sock = client.socket()
        if sock is None:
            return MQTTErrorCode.MQTT_ERR_NO_CONN
        # TLS can hold decrypted bytes that poll() does not see.
        pending = getattr(sock, "pending", None)
        buffered = pending is not None and pending() > 0
        # poll(), not select(): select() cannot watch descriptors past FD_SETSIZE (1024), which
        # a responder sharing its process with many connections (the fleet simulator) reaches.
        poller = select.poll()
        try:
            poller.register(sock, select.POLLIN | (select.POLLOUT if client.want_write() else 0))
            poller.register(self._wake_r, select.POLLIN)
            events = poller.poll(0 if buffered else math.ceil(timeout * 1000))
        except (OSError, ValueError, TypeError):  # the socket was closed under us
            return MQTTErrorCode.MQTT_ERR_CONN_LOST
        ready = {fd for fd, _ in events}
        if self._wake_r.fileno() in ready:
            with contextlib.suppress(OSError):
                self._wake_r.recv(4096)
        readable = sock.fileno() in ready
        if buffered or readable:
            rc = self._read_batch(client, sock)
            if rc != _OK:
                return rc
        # Replies and acknowledgements queued while reading go out now, not after a wait.
        if client.want_write():
            rc = client.loop_write()
            if rc != _OK:
                return rc
        return client.loop_misc()

    @staticmethod
    def _read_batch(client: mqtt.Client, sock: Any) -> MQTTErrorCode:
        # paho's loop_read() reads one packet when nothing of ours awaits an acknowledgement
        # (it ignores its max_packets argument), so a stream of requests would cost a whole
        # pass (poll set, poll(), write and keep-alive checks) per packet. Packets already in
        # the socket buffer are read here in one pass, up to _READ_BATCH of them, so the
        # replies and acknowledgements they produce still go out regularly.
        for _ in range(_READ_BATCH):
            rc = client.loop_read()
            if rc != _OK or not _has_more(sock):
                return rc
        return _OK

    def close(self) -> None:
        """Release the wake-up sockets."""
        self._wake_r.close()
        self._wake_w.close()
