"""``MqttLink``: one camera's MQTT connection, driven by a :class:`SelectorLoop`.

The link connects with TLS / mutual TLS and username / password as configured, sets
``TCP_NODELAY`` on its socket (Nagle plus delayed ACK would add ~40 ms to every credential
round trip), sets a last will, subscribes again after every reconnect (the session is
clean, so the broker keeps nothing for a camera that is away) and reconnects with
full-jitter exponential backoff so a fleet does not return in lockstep after an outage.

All paho calls happen on the loop thread; :meth:`MqttLink.publish` and friends may be
called from any thread and hop over. paho return codes and socket errors stay inside this
module: callers see :class:`Publication` results and :class:`~device.errors.LinkError`.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
from collections.abc import Callable, Sequence
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

from device.backoff import Backoff
from device.errors import LinkError
from device.mqtt.loop import SelectorLoop, Timer
from device.settings import BrokerSettings

__all__ = ["MqttLink", "Publication"]

log = logging.getLogger(__name__)

WillFactory = Callable[[], tuple[str, bytes]]


class Publication:
    """The fate of one published message; resolved when the broker acknowledges it (QoS 1)."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self._done = threading.Event()
        self.error: str | None = None

    def _resolve(self, error: str | None = None) -> None:
        self.error = error
        self._done.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the broker acknowledged the message; return whether it did."""
        return self._done.wait(timeout) and self.error is None

    @property
    def acknowledged(self) -> bool:
        """Whether the broker has acknowledged the message."""
        return self._done.is_set() and self.error is None


class MqttLink:
    """An MQTT connection that keeps itself up.

    Args:
        settings: broker address, TLS and credentials, backoff.
        client_id: MQTT client id (the device id for a camera).
        subscriptions: topic filters subscribed (QoS 1) after every connect.
        on_message: called on the loop thread with ``(topic, payload)``; must not block.
        on_connect: called on the loop thread after each successful connect.
        will: builds ``(topic, payload)`` of the retained last will before each connect
            (so a signed will carries a fresh timestamp).
        loop: the loop that drives this link; when omitted the link starts its own loop
            thread (one camera, one thread).
    """

    def __init__(
        self,
        settings: BrokerSettings,
        *,
        client_id: str,
        subscriptions: Sequence[str] = (),
        on_message: Callable[[str, bytes], None] | None = None,
        on_connect: Callable[[], None] | None = None,
        will: WillFactory | None = None,
        loop: SelectorLoop | None = None,
    ) -> None:
        self.settings = settings
        self.client_id = client_id
        self._subscriptions = tuple(subscriptions)
        self._on_message_cb = on_message
        self._on_connect_cb = on_connect
        self._will = will
        self._own_loop = loop is None
        self.loop = loop or SelectorLoop(name=f"mqtt-{client_id}")
        self._backoff = Backoff(
            initial=settings.reconnect_initial_s,
            maximum=max(settings.reconnect_max_s, settings.reconnect_initial_s),
        )
        self._connected = threading.Event()
        self._disconnected = threading.Event()
        self._disconnected.set()
        self._stopped = threading.Event()
        self._stopping = False
        self._started = False
        self._reconnect_timer: Timer | None = None
        self._pending: dict[int, Publication] = {}
        self.connects = 0
        self.connect_attempts = 0
        self.disconnects = 0
        self.last_error: str | None = None
        self._client = self._build_client()

    # -- construction ---------------------------------------------------------------

    def _build_client(self) -> mqtt.Client:
        s = self.settings
        protocol = MQTTProtocolVersion.MQTTv5 if s.protocol == "5" else MQTTProtocolVersion.MQTTv311
        kwargs: dict[str, Any] = {"client_id": self.client_id, "protocol": protocol}
        if protocol == MQTTProtocolVersion.MQTTv311:
            kwargs["clean_session"] = True
        client = mqtt.Client(CallbackAPIVersion.VERSION2, **kwargs)
        client.connect_timeout = s.connect_timeout_s
        client.max_queued_messages_set(1000)
        if s.username is not None:
            client.username_pw_set(
                s.username, s.password.get_secret_value() if s.password is not None else None
            )
        if s.tls:
            try:
                client.tls_set(
                    ca_certs=str(s.ca_file) if s.ca_file else None,
                    certfile=str(s.cert_file) if s.cert_file else None,
                    keyfile=str(s.key_file) if s.key_file else None,
                    cert_reqs=ssl.CERT_REQUIRED,
                )
            except (OSError, ssl.SSLError, ValueError) as exc:
                raise LinkError(f"cannot load TLS material: {exc}", code="tls") from None
            if s.tls_insecure:
                client.tls_insecure_set(True)
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_register_write
        client.on_socket_unregister_write = self._on_unregister_write
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        return client

    # -- public API (any thread) -----------------------------------------------------

    def start(self) -> None:
        """Start connecting (in the background); returns at once."""
        if self._started:
            return
        self._started = True
        if self._own_loop:
            self.loop.start()
        self.loop.call_soon_threadsafe(self._first_connect)

    def stop(self, timeout: float = 5.0) -> None:
        """Disconnect cleanly (the broker then discards the last will) and stop."""
        if not self._started:
            return
        self.loop.run_in_loop(self._shutdown)
        if not self.loop.in_loop_thread():
            self._stopped.wait(timeout)
        if self._own_loop:
            self.loop.stop(timeout)

    def is_connected(self) -> bool:
        """Whether the link is connected (CONNACK received and not lost since)."""
        return self._connected.is_set()

    def wait_connected(self, timeout: float | None = None) -> bool:
        """Wait until connected; return whether it is."""
        return self._connected.wait(timeout)

    def wait_disconnected(self, timeout: float | None = None) -> bool:
        """Wait until the link is down; return whether it is."""
        return self._disconnected.wait(timeout)

    def fileno(self) -> int | None:
        """The socket's file descriptor, if connected (diagnostics)."""
        sock = self._client.socket()
        return None if sock is None else int(sock.fileno())

    def tcp_nodelay(self) -> bool | None:
        """Whether ``TCP_NODELAY`` is on for the current socket (``None`` without one)."""
        sock: Any = self._client.socket()
        if sock is None:
            return None
        try:
            return bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        except OSError:
            return None

    def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> Publication:
        """Queue a message; QoS 1 messages are kept and re-sent across reconnects.

        Args:
            topic: the topic.
            payload: the message body.
            qos: 0 or 1.
            retain: whether the broker keeps it as the topic's retained message.

        Returns:
            A :class:`Publication` to wait on.
        """
        publication = Publication(topic)
        self.loop.run_in_loop(lambda: self._publish(publication, payload, qos, retain))
        return publication

    # -- loop thread ----------------------------------------------------------------

    def _first_connect(self) -> None:
        self.loop.add(self)
        self._connect(first=True)

    def _connect(self, *, first: bool = False) -> None:
        self._reconnect_timer = None
        if self._stopping:
            return
        self.connect_attempts += 1
        try:
            if first:
                self._client.connect_async(
                    self.settings.host, self.settings.port, keepalive=self.settings.keepalive_s
                )
            if self._will is not None:
                topic, payload = self._will()
                self._client.will_set(topic, payload, qos=1, retain=True)
            self._client.reconnect()
        except Exception as exc:  # whatever it is, the link keeps trying
            self.last_error = f"{type(exc).__name__}: {exc}"
            level = logging.INFO if isinstance(exc, OSError | ssl.SSLError) else logging.WARNING
            if self.connect_attempts in (1, 10) or self.connect_attempts % 100 == 0:
                level = logging.WARNING
            log.log(level, "MQTT connect to %s failed: %s", self.settings.url, self.last_error)
            self._schedule_reconnect(retry_first=first)

    def _schedule_reconnect(self, *, retry_first: bool = False) -> None:
        if self._stopping or self._reconnect_timer is not None:
            return
        delay = self._backoff.next_delay()
        self._reconnect_timer = self.loop.call_later(
            delay, lambda: self._connect(first=retry_first)
        )

    def _shutdown(self) -> None:
        self._stopping = True
        if self._reconnect_timer is not None:
            self._reconnect_timer.cancel()
            self._reconnect_timer = None
        if self._client.socket() is not None and self._connected.is_set():
            self._client.disconnect()
        else:
            self._finish_stop()

    def _finish_stop(self) -> None:
        sock = self._client.socket()
        if sock is not None:
            self.loop.unwatch(sock)  # type: ignore[arg-type]
            with contextlib.suppress(OSError):
                sock.close()
        self.loop.remove(self)
        self._connected.clear()
        self._disconnected.set()
        for publication in self._pending.values():
            publication._resolve("link stopped")
        self._pending.clear()
        self._stopped.set()

    def _publish(self, publication: Publication, payload: bytes, qos: int, retain: bool) -> None:
        if self._stopping:
            publication._resolve("link stopped")
            return
        info = self._client.publish(publication.topic, payload, qos=qos, retain=retain)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            publication._resolve(mqtt.error_string(info.rc))
        elif qos == 0:
            publication._resolve(None if info.rc == mqtt.MQTT_ERR_SUCCESS else "not connected")
        else:
            self._pending[info.mid] = publication

    # LoopClient
    def handle_readable(self) -> None:
        """Read from the socket (loop thread)."""
        self._client.loop_read()
        sock = self._client.socket()
        # TLS may hold decrypted bytes the selector cannot see; drain them now.
        while isinstance(sock, ssl.SSLSocket) and sock.pending() > 0:
            self._client.loop_read()
            sock = self._client.socket()

    def handle_writable(self) -> None:
        """Write queued bytes (loop thread)."""
        self._client.loop_write()

    def handle_misc(self) -> None:
        """Keepalive pings and timeouts (loop thread)."""
        if self._client.socket() is not None:
            self._client.loop_misc()

    # paho callbacks (loop thread)
    def _on_socket_open(self, _client: mqtt.Client, _userdata: Any, sock: Any) -> None:
        # OSError: not a TCP socket (a unix socket), nothing to tune.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.loop.watch(sock, self)

    def _on_socket_close(self, _client: mqtt.Client, _userdata: Any, sock: Any) -> None:
        self.loop.unwatch(sock)

    def _on_register_write(self, _client: mqtt.Client, _userdata: Any, sock: Any) -> None:
        self.loop.run_in_loop(lambda: self.loop.set_writable(sock, True))

    def _on_unregister_write(self, _client: mqtt.Client, _userdata: Any, sock: Any) -> None:
        self.loop.run_in_loop(lambda: self.loop.set_writable(sock, False))

    def _on_connect(
        self, client: mqtt.Client, _u: Any, _flags: Any, rc: ReasonCode, _props: Any
    ) -> None:
        if rc.is_failure:
            self.last_error = f"CONNACK {rc}"
            log.warning("MQTT broker %s refused the connection: %s", self.settings.url, rc)
            return  # paho closes the socket; _on_disconnect schedules the retry
        self.connects += 1
        self._backoff.reset()
        self.last_error = None
        for topic in self._subscriptions:
            client.subscribe(topic, qos=1)
        self._disconnected.clear()
        self._connected.set()
        log.info("MQTT connected to %s as %s", self.settings.url, self.client_id)
        if self._on_connect_cb is not None:
            self._on_connect_cb()

    def _on_disconnect(
        self, _client: mqtt.Client, _u: Any, _flags: Any, rc: ReasonCode, _props: Any
    ) -> None:
        was_connected = self._connected.is_set()
        self._connected.clear()
        self._disconnected.set()
        if was_connected:
            self.disconnects += 1
            log.info("MQTT disconnected from %s: %s", self.settings.url, rc)
        if self._stopping:
            self._finish_stop()
        else:
            self._schedule_reconnect()

    def _on_message(self, _client: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        if self._on_message_cb is not None:
            self._on_message_cb(message.topic, bytes(message.payload))

    def _on_publish(
        self, _client: mqtt.Client, _u: Any, mid: int, rc: ReasonCode, _props: Any
    ) -> None:
        publication = self._pending.pop(mid, None)
        if publication is not None:
            publication._resolve(None if not rc.is_failure else f"PUBACK {rc}")
