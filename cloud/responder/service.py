"""The MQTT side of the responder: receive requests, run the pipeline, publish replies.

Threads and their jobs:

- the network thread owns the paho client: it connects (jittered exponential backoff between
  attempts), resubscribes on every connect, and runs its network I/O
  (:class:`~cloud.responder.netloop.NetworkLoop`);
- the network thread also runs :class:`~cloud.responder.pipeline.Pipeline` for everything
  that cannot block (cache hits and refusals: no thread hop, no lock convoy);
- a pool of worker threads runs the rest (STS calls, waits for a duplicate's first copy), so
  a slow STS call never stalls the network loop;
- the caller's thread calls :meth:`ResponderService.stop`.

Requests are acknowledged (manual PUBACK) only after their reply has been accepted by the
broker: a responder killed mid-request leaves the request unacknowledged, and a broker that
keeps the session redelivers it; the shared reply cache then gives the redelivery the same
answer. Replies go out at QoS 1, never retained, with a message expiry on MQTT 5.
"""

from __future__ import annotations

import contextlib
import logging
import random
import secrets
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from cloud.responder.metrics import Metrics
from cloud.responder.netloop import NetworkLoop
from cloud.responder.pipeline import Deferred, Dropped, Pipeline, Reply
from cloud.settings import BrokerSettings
from schemas.topics import Topics
from schemas.wirejson import MAX_PAYLOAD_BYTES

# The largest packet the responder accepts (MQTT 5 Maximum Packet Size): a request payload
# at its limit plus room for the topic, properties and header. The broker drops anything
# larger for this client instead of making it buffer, say, a 100 MB publish. MQTT 3.1.1 has
# no such property: there the broker's own max_packet_size is what protects the responder.
MAX_PACKET_BYTES = MAX_PAYLOAD_BYTES + 1024

_log = logging.getLogger("ossmedia.responder.service")
# Outcomes worth an INFO line; the rest are DEBUG so a busy responder stays quiet.
_NOTABLE = frozenset(
    {
        "unknown_device",
        "revoked",
        "bad_signature",
        "replay",
        "clock_skew",
        "access_denied",
        "invalid_request",
        "internal",
        "sts_unavailable",
    }
)


def _properties(packet: int, **values: int) -> Properties:
    props = Properties(packet)  # type: ignore[no-untyped-call]
    for name, value in values.items():
        setattr(props, name, value)
    return props


class _PackedOnce(Properties):
    """Publish properties that never change, packed once.

    paho packs a message's properties again on every publish, which costs more than the rest
    of building the packet; every reply carries the same message expiry.
    """

    _packed: bytes

    def __init__(self, packet: int, **values: int) -> None:
        super().__init__(packet)  # type: ignore[no-untyped-call]
        for name, value in values.items():
            setattr(self, name, value)
        # Properties.__setattr__ only takes MQTT property names.
        object.__setattr__(self, "_packed", bytes(super().pack()))  # type: ignore[no-untyped-call]

    def pack(self) -> bytes:
        """The packed properties, as ``Properties.pack`` returns them."""
        return self._packed


class ResponderService:
    """Serve credential requests from an MQTT broker.

    Args:
        broker: connection and topic settings.
        pipeline: decides each reply.
        metrics: where to count.
        workers: size of the worker pool.
        rng: uniform random numbers in [0, 1), for reconnect jitter.
        monotonic: monotonic clock in seconds, for latency.
    """

    def __init__(
        self,
        broker: BrokerSettings,
        pipeline: Pipeline,
        metrics: Metrics,
        *,
        workers: int,
        rng: Callable[[], float] = random.random,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = broker
        self._pipeline = pipeline
        self._metrics = metrics
        self._rng = rng
        self._monotonic = monotonic
        self._v5 = broker.protocol == "5"
        self._subscription = Topics(broker.topic_prefix).creds_req_subscription(
            broker.shared_group or None
        )
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="responder")
        self._client = self._make_client()
        self._loop = NetworkLoop(self._client)
        self._reply_props = (
            _PackedOnce(PacketTypes.PUBLISH, MessageExpiryInterval=broker.reply_expiry_s)
            if self._v5
            else None
        )
        self._lock = threading.Condition(threading.Lock())
        self._processing = 0
        self._awaiting: dict[int, int] = {}  # reply mid -> request mid
        self._early: set[int] = set()  # PUBACKs seen before their publish was recorded
        self._connected = threading.Event()
        self._stopping = threading.Event()
        self._draining = False
        self._thread = threading.Thread(target=self._run, name="responder-mqtt", daemon=True)
        # Read when scraped, instead of two gauge updates per request.
        metrics.in_flight.set_function(lambda: self._processing + len(self._awaiting))

    # -- set-up --------------------------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        s = self._settings
        client_id = s.client_id or f"ossmedia-responder-{secrets.token_hex(4)}"
        protocol = MQTTProtocolVersion.MQTTv5 if self._v5 else MQTTProtocolVersion.MQTTv311
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=None if self._v5 else not s.persistent_session,
            protocol=protocol,
            reconnect_on_failure=False,
            manual_ack=True,
        )
        client.connect_timeout = s.connect_timeout_s
        if s.tls:
            client.tls_set(
                ca_certs=str(s.ca_file) if s.ca_file else None,
                certfile=str(s.cert_file) if s.cert_file else None,
                keyfile=str(s.key_file) if s.key_file else None,
            )
            if s.tls_insecure:
                client.tls_insecure_set(True)
        if s.username is not None:
            password = s.password.get_secret_value() if s.password else None
            client.username_pw_set(s.username, password)
        # Replies are small and many; paho's default of 20 unacknowledged publishes would
        # throttle a busy responder on the broker's round trip. No paho-side cap at all (0):
        # past a cap paho only holds replies back in its own queue (it never drops them), and
        # on every PUBACK walks all unacknowledged messages to release queued ones. The flow
        # stays bounded by the broker: a QoS 1 request is acknowledged only once its reply
        # is, and the broker keeps at most our Receive Maximum (its own in-flight limit on
        # MQTT 3.1.1) of them unacknowledged.
        client.max_inflight_messages_set(0)
        client.on_socket_open = self._on_socket_open
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        client.on_subscribe = self._on_subscribe
        return client

    # -- paho callbacks (network thread) ------------------------------------------------

    def _on_socket_open(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        # Without TCP_NODELAY, Nagle plus delayed ACK adds ~40 ms to every round trip.
        with contextlib.suppress(OSError, AttributeError):  # not TCP (unix transport)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if reason.is_failure:
            _log.warning("broker refused the connection", extra={"fields": {"reason": str(reason)}})
            return
        with self._lock:
            # Acks owed on the previous connection are moot now.
            self._awaiting.clear()
            self._early.clear()
            self._lock.notify_all()
        if not self._draining:
            client.subscribe(self._subscription, qos=1)
        _log.info("connected", extra={"fields": {"subscription": self._subscription}})

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, props: Any
    ) -> None:
        if any(getattr(r, "is_failure", False) for r in reasons):
            _log.error(
                "the broker refused the subscription",
                extra={"fields": {"filter": self._subscription}},
            )
            return
        # Ready only once the broker confirms the subscription: requests sent earlier would
        # find nobody subscribed.
        self._connected.set()
        self._metrics.connected.set(1)

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        self._connected.clear()
        self._metrics.connected.set(0)
        if not self._stopping.is_set():
            _log.warning("disconnected", extra={"fields": {"reason": str(reason)}})

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        # Everything that cannot block (most requests: cache hits and refusals) is answered
        # right here on the network thread; an STS call or a wait for a duplicate's first copy
        # goes to the worker pool so the loop keeps serving.
        received = self._monotonic()
        with self._lock:
            self._processing += 1
        request_mid = msg.mid if msg.qos > 0 else 0
        deferred = False
        try:
            try:
                topic = msg.topic
            except UnicodeDecodeError:
                topic = ""
            outcome = self._pipeline.handle(topic, bytes(msg.payload), may_block=False)
            if isinstance(outcome, Deferred):
                self._pool.submit(self._run_deferred, outcome, request_mid, received)
                deferred = True
            else:
                self._deliver(outcome, request_mid, received)
        except Exception as exc:  # the network thread must survive anything
            _log.error("reply failed", extra={"fields": {"error_type": type(exc).__name__}})
        finally:
            if not deferred:
                self._done()

    def _on_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, reason: Any, props: Any
    ) -> None:
        with self._lock:
            request_mid = self._awaiting.pop(mid, None)
            if request_mid is None:
                self._early.add(mid)
                return
            if self._draining:
                self._lock.notify_all()
        self._ack(request_mid)

    # -- workers ---------------------------------------------------------------------------

    def _ack(self, request_mid: int) -> None:
        if request_mid:
            self._client.ack(request_mid, 1)

    def _done(self) -> None:
        with self._lock:
            self._processing -= 1
            # Only stop() waits on the condition, and it sets _draining before it checks the
            # counters under this lock: no wake-up is lost.
            if self._draining:
                self._lock.notify_all()

    def _run_deferred(self, deferred: Deferred, request_mid: int, received: float) -> None:
        try:
            self._deliver(deferred.run(), request_mid, received)
        except Exception as exc:  # a worker must never die silently
            _log.error("reply failed", extra={"fields": {"error_type": type(exc).__name__}})
        finally:
            self._done()

    def _deliver(self, outcome: Reply | Dropped, request_mid: int, received: float) -> None:
        if isinstance(outcome, Dropped):
            self._metrics.dropped.inc()
            # A muted flood would otherwise write one log line per request.
            level = logging.DEBUG if outcome.reason == "muted" else logging.INFO
            if _log.isEnabledFor(level):
                _log.log(level, "dropped", extra={"fields": {"reason": outcome.reason}})
            self._ack(request_mid)
            return
        self._publish(outcome, request_mid)
        elapsed = self._monotonic() - received
        self._metrics.request(outcome.outcome, elapsed)
        level = logging.INFO if outcome.outcome in _NOTABLE else logging.DEBUG
        if _log.isEnabledFor(level):
            _log.log(
                level,
                "answered",
                extra={
                    "fields": {
                        "device_id": outcome.device_id,
                        "request_id": outcome.request_id,
                        "outcome": outcome.outcome,
                        "credential_source": outcome.credential_source,
                        "latency_ms": round(elapsed * 1000, 3),
                    }
                },
            )

    def _publish(self, reply: Reply, request_mid: int) -> None:
        info = self._client.publish(
            reply.topic, reply.payload, qos=1, retain=False, properties=self._reply_props
        )
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS and info.rc != MQTTErrorCode.MQTT_ERR_NO_CONN:
            _log.warning("publish failed", extra={"fields": {"rc": int(info.rc)}})
        with self._lock:
            if info.mid in self._early:
                self._early.discard(info.mid)
                acknowledged = True
            else:
                self._awaiting[info.mid] = request_mid
                acknowledged = False
        if acknowledged:
            self._ack(request_mid)

    # -- network thread ----------------------------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        # Full jitter: a fleet of responders restarting together must not reconnect in step.
        ceiling = min(
            self._settings.reconnect_max_s, self._settings.reconnect_initial_s * 2**attempt
        )
        return float(self._rng() * ceiling)

    def _connect(self) -> None:
        s = self._settings
        props = None
        clean_start: Any = mqtt.MQTT_CLEAN_START_FIRST_ONLY
        if self._v5:
            expiry = s.session_expiry_s if s.persistent_session else 0
            props = _properties(
                PacketTypes.CONNECT,
                ReceiveMaximum=s.receive_maximum,
                SessionExpiryInterval=expiry,
                MaximumPacketSize=MAX_PACKET_BYTES,
            )
            clean_start = not s.persistent_session
        self._client.connect(
            s.host, s.port, s.keepalive_s, clean_start=clean_start, properties=props
        )

    def _run(self) -> None:
        attempt = 0
        while not self._stopping.is_set():
            try:
                self._connect()
            except (OSError, ValueError) as exc:
                delay = self._backoff(attempt)
                attempt += 1
                _log.warning(
                    "cannot reach the broker",
                    extra={
                        "fields": {"error_type": type(exc).__name__, "retry_in_s": round(delay, 2)}
                    },
                )
                self._stopping.wait(delay)
                continue
            attempt = 0
            while not self._stopping.is_set():
                rc = self._loop.step(timeout=0.1)
                if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    break
            if self._stopping.is_set():
                break
            self._connected.clear()
            self._metrics.connected.set(0)
            delay = self._backoff(attempt)
            attempt += 1
            self._stopping.wait(delay)
        # Socket work stays on this thread: send DISCONNECT here and flush it.
        self._client.disconnect()
        for _ in range(10):
            if self._loop.step(timeout=0.05) != MQTTErrorCode.MQTT_ERR_SUCCESS:
                break

    # -- public API ------------------------------------------------------------------------

    def start(self) -> None:
        """Start connecting and serving in the background."""
        self._thread.start()

    def wait_connected(self, timeout: float) -> bool:
        """Wait until connected and subscribed; ``False`` on timeout."""
        return self._connected.wait(timeout)

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Whether the service is connected, with details for ``/healthz``."""
        with self._lock:
            in_flight = self._processing + len(self._awaiting)
        connected = self._connected.is_set()
        return connected and not self._draining, {
            "broker_connected": connected,
            "draining": self._draining,
            "in_flight": in_flight,
        }

    def stop(self, timeout: float = 10.0) -> None:
        """Stop taking requests, answer those already received, then disconnect.

        Args:
            timeout: the longest to wait for in-flight requests to be answered.
        """
        self._draining = True
        if self._connected.is_set():
            self._client.unsubscribe(self._subscription)
        deadline = self._monotonic() + timeout
        with self._lock:
            while self._processing or self._awaiting:
                left = deadline - self._monotonic()
                if left <= 0:
                    _log.warning(
                        "shutdown timed out with requests in flight",
                        extra={"fields": {"in_flight": self._processing + len(self._awaiting)}},
                    )
                    break
                self._lock.wait(min(left, 0.1))
        self._stopping.set()
        self._loop.wake()
        self._thread.join(timeout=5.0)
        if not self._thread.is_alive():
            self._loop.close()
        self._pool.shutdown(wait=True, cancel_futures=False)
        self._metrics.connected.set(0)
        _log.info("stopped")
