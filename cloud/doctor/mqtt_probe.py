"""A paho client for the broker checks: connect, subscribe, publish, and record deliveries.

Every wait is a condition with a timeout; paho's callbacks run on its network thread and wake
the waiter. Reconnection is off, so a refused connection stays refused.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from cloud.doctor.errors import DoctorError
from schemas.broker import BrokerConnection


class MqttProbe:
    """One connection of one account.

    Args:
        account: who connects, where.
        client_id: the MQTT client id.
        timeout_s: for each wait.
    """

    def __init__(self, account: BrokerConnection, *, client_id: str, timeout_s: float) -> None:
        self._account = account
        self._timeout_s = timeout_s
        protocol = (
            MQTTProtocolVersion.MQTTv5 if account.protocol == "5" else MQTTProtocolVersion.MQTTv311
        )
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=protocol,
            reconnect_on_failure=False,
        )
        if account.username is not None:
            password = account.password.get_secret_value() if account.password else None
            self._client.username_pw_set(account.username, password)
        if account.tls:
            self._client.tls_set(
                ca_certs=str(account.ca_file) if account.ca_file else None,
                certfile=str(account.cert_file) if account.cert_file else None,
                keyfile=str(account.key_file) if account.key_file else None,
                cert_reqs=ssl.CERT_REQUIRED,
            )
        self._cond = threading.Condition()
        self._connack: ReasonCode | None = None
        self._closed = False
        self._subacks: dict[int, list[ReasonCode]] = {}
        self._pubacks: dict[int, ReasonCode] = {}
        self.messages: list[tuple[str, bytes]] = []
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        self._client.on_publish = self._on_publish

    def _on_connect(self, _c: Any, _u: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
        with self._cond:
            self._connack = rc
            self._cond.notify_all()

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, _rc: Any, _p: Any) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self._cond:
            self.messages.append((msg.topic, bytes(msg.payload)))
            self._cond.notify_all()

    def _on_subscribe(
        self, _c: Any, _u: Any, mid: int, rcs: list[ReasonCode], _p: Properties | None
    ) -> None:
        with self._cond:
            self._subacks[mid] = list(rcs)
            self._cond.notify_all()

    def _on_publish(self, _c: Any, _u: Any, mid: int, rc: ReasonCode, _p: Any) -> None:
        with self._cond:
            self._pubacks[mid] = rc
            self._cond.notify_all()

    def _wait(self, predicate: Callable[[], bool], what: str) -> None:
        with self._cond:
            if not self._cond.wait_for(predicate, self._timeout_s):
                raise DoctorError(f"no {what} from the broker within {self._timeout_s:g} s")

    def connect(self) -> None:
        """Connect and wait for a successful CONNACK.

        Raises:
            DoctorError: the connection failed or the broker refused the account.
        """
        try:
            self._client.connect(self._account.host, self._account.port, keepalive=30)
        except (OSError, ValueError) as exc:
            raise DoctorError(f"cannot connect: {exc}") from None
        self._client.loop_start()
        self._wait(lambda: self._connack is not None or self._closed, "CONNACK")
        if self._connack is None:
            raise DoctorError("the broker closed the connection without a CONNACK")
        if self._connack.is_failure:
            raise DoctorError(f"the broker refused the login ({self._connack})")

    def subscribe(self, topic: str) -> None:
        """Subscribe at QoS 1 and wait for the SUBACK (a refusal is not an error here:
        Mosquitto may grant a forbidden filter and filter at delivery)."""
        _rc, mid = self._client.subscribe(topic, 1)
        self._wait(lambda: mid in self._subacks, "SUBACK")

    def publish(self, topic: str, payload: bytes) -> bool:
        """Publish at QoS 1 and wait for the PUBACK; False when it reports a refusal (MQTT 5)."""
        info = self._client.publish(topic, payload, qos=1)
        self._wait(lambda: info.mid in self._pubacks, "PUBACK")
        return not self._pubacks[info.mid].is_failure

    def wait_for(self, topic: str, payload: bytes) -> bool:
        """Wait until ``payload`` arrived on ``topic``; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: (topic, payload) in self.messages, self._timeout_s)

    def wait_message(self, topic: str, match: Callable[[bytes], bool]) -> bytes | None:
        """Wait for a message on ``topic`` whose payload ``match`` accepts; None on timeout."""

        def found() -> bytes | None:
            return next((p for t, p in self.messages if t == topic and match(p)), None)

        with self._cond:
            self._cond.wait_for(lambda: found() is not None, self._timeout_s)
            return found()

    def received(self, topic: str) -> bool:
        """Whether anything arrived on ``topic`` so far."""
        with self._cond:
            return any(t == topic for t, _ in self.messages)

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        self._client.disconnect()
        self._client.loop_stop()
