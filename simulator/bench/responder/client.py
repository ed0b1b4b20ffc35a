"""Bench-side devices: many simulated cameras on one MQTT connection.

Requests are signed and replies opened with plain hmac / AES-GCM (the protocol's primitives)
rather than the pydantic models, so the measuring side stays cheap next to what it measures.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from schemas.keys import DeviceKeys


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Device:
    """One simulated camera."""

    device_id: str
    keys: DeviceKeys = field(repr=False)
    aead: AESGCM = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.aead = AESGCM(self.keys.seal_key)

    def request(
        self, now_ms: int, *, access: str = "append", duration_s: int = 900
    ) -> tuple[str, bytes]:
        """A freshly signed request: its id and payload."""
        request_id = os.urandom(16).hex()
        nonce = _b64(os.urandom(16))
        canonical = "\n".join(
            [
                "ossmedia/v1",
                "creds.request",
                self.device_id,
                request_id,
                str(now_ms),
                nonce,
                access,
                str(duration_s),
            ]
        )
        sig = _b64(hmac.new(self.keys.sign_key, canonical.encode(), hashlib.sha256).digest())
        body = (
            f'{{"v":1,"kind":"creds.request","device_id":"{self.device_id}",'
            f'"request_id":"{request_id}","issued_at_ms":{now_ms},"nonce":"{nonce}",'
            f'"access":"{access}","duration_s":{duration_s},"sig":"{sig}"}}'
        )
        return request_id, body.encode()

    def open(self, reply: dict[str, Any]) -> dict[str, Any]:
        """Unseal a success reply."""
        aad = "\n".join(
            [
                "ossmedia/v1",
                "creds.response",
                reply["device_id"],
                reply["request_id"],
                str(reply["server_time_ms"]),
            ]
        ).encode()
        raw = _unb64(reply["sealed"])
        doc: dict[str, Any] = json.loads(self.aead.decrypt(raw[:12], raw[12:], aad))
        return doc


Handler = Callable[[str, bytes], None]


def _nodelay(client: mqtt.Client, userdata: Any, sock: Any) -> None:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class Connection:
    """One MQTT connection publishing requests for many devices and routing their replies.

    Args:
        host / port: the broker.
        on_reply: called from the network thread with ``(device_id, payload)``.
        prefix: topic prefix.
        device_ids: subscribe to these devices' replies only (default: every device's).
        username / password: the broker account, if the broker wants one.
    """

    def __init__(
        self,
        host: str,
        port: int,
        on_reply: Handler,
        *,
        prefix: str = "ossmedia",
        device_ids: list[str] | None = None,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.prefix = prefix
        self._on_reply = on_reply
        self._ready = threading.Event()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"bench-{os.urandom(4).hex()}",
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        self._client.max_inflight_messages_set(5000)
        self._client.max_queued_messages_set(0)
        self._client.on_socket_open = _nodelay
        if username is not None:
            self._client.username_pw_set(username, password)
        # Only its own devices' replies: several connections may share the broker.
        topics = (
            [(f"{prefix}/v1/{d}/creds/res", 1) for d in device_ids]
            if device_ids
            else [(f"{prefix}/v1/+/creds/res", 1)]
        )
        self._client.on_connect = lambda c, u, f, r, p: c.subscribe(topics)
        self._client.on_subscribe = lambda c, u, m, r, p: self._ready.set()
        self._client.on_message = self._message
        self._client.connect(host, port, keepalive=60)
        self._client.loop_start()
        if not self._ready.wait(10):
            raise RuntimeError("bench client could not subscribe")

    def _message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        topic = msg.topic
        device_id = topic[len(self.prefix) + 4 : -len("/creds/res")]
        self._on_reply(device_id, bytes(msg.payload))

    def publish(self, device_id: str, payload: bytes) -> None:
        """Publish one request at QoS 1 (does not wait for the PUBACK)."""
        self._client.publish(f"{self.prefix}/v1/{device_id}/creds/req", payload, qos=1)

    def publish_and_wait(self, device_id: str, payload: bytes, timeout_s: float = 300) -> None:
        """Publish one request at QoS 1 and wait for its PUBACK (so for every earlier one)."""
        info = self._client.publish(f"{self.prefix}/v1/{device_id}/creds/req", payload, qos=1)
        info.wait_for_publish(timeout_s)

    def close(self) -> None:
        """Disconnect."""
        self._client.disconnect()
        self._client.loop_stop()


def now_ms() -> int:
    """Wall clock in milliseconds."""
    return time.time_ns() // 1_000_000
