"""A protocol v1 client written from docs/protocol.md alone.

It does not use ``schemas`` or ``device``: keys, canonical strings, signatures and sealing are
built here with hashlib, hmac and cryptography, so a responder that drifts from the document
fails these tests even when it still agrees with the shared library.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

WAIT_S = 10.0


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Keys:
    sign_key: bytes = field(repr=False)
    seal_key: bytes = field(repr=False)

    @classmethod
    def from_secret(cls, secret: str) -> Keys:
        raw = unb64url(secret)
        assert len(raw) == 32
        return cls(
            sign_key=hmac.new(raw, b"ossmedia/v1/sign", hashlib.sha256).digest(),
            seal_key=hmac.new(raw, b"ossmedia/v1/seal", hashlib.sha256).digest(),
        )


def sign(key: bytes, values: list[str]) -> str:
    return b64url(hmac.new(key, "\n".join(values).encode("utf-8"), hashlib.sha256).digest())


def make_request(
    keys: Keys,
    device_id: str,
    *,
    access: str = "append",
    duration_s: int = 900,
    issued_at_ms: int | None = None,
    request_id: str | None = None,
    nonce: str | None = None,
) -> dict[str, Any]:
    """A signed ``creds.request`` with fields in the documented order."""
    request_id = request_id or os.urandom(16).hex()
    nonce = nonce or b64url(os.urandom(16))
    issued = int(time.time() * 1000) if issued_at_ms is None else issued_at_ms
    canonical = [
        "ossmedia/v1",
        "creds.request",
        device_id,
        request_id,
        str(issued),
        nonce,
        access,
        str(duration_s),
    ]
    return {
        "v": 1,
        "kind": "creds.request",
        "device_id": device_id,
        "request_id": request_id,
        "issued_at_ms": issued,
        "nonce": nonce,
        "access": access,
        "duration_s": duration_s,
        "sig": sign(keys.sign_key, canonical),
    }


def encode(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode("utf-8")


def open_sealed(keys: Keys, reply: dict[str, Any]) -> dict[str, Any]:
    """Open a success reply; raises ``cryptography.exceptions.InvalidTag`` when tampered."""
    aad = "\n".join(
        [
            "ossmedia/v1",
            "creds.response",
            reply["device_id"],
            reply["request_id"],
            str(reply["server_time_ms"]),
        ]
    ).encode("utf-8")
    raw = unb64url(reply["sealed"])
    plain = AESGCM(keys.seal_key).decrypt(raw[:12], raw[12:], aad)
    doc: dict[str, Any] = json.loads(plain)
    return doc


def error_signature_ok(keys: Keys, reply: dict[str, Any]) -> bool:
    err = reply["error"]
    retry = err["retry_after_ms"]
    canonical = [
        "ossmedia/v1",
        "creds.error",
        reply["device_id"],
        reply["request_id"] or "",
        str(reply["server_time_ms"]),
        err["code"],
        "" if retry is None else str(retry),
    ]
    sig = reply["sig"]
    return sig is not None and hmac.compare_digest(sig, sign(keys.sign_key, canonical))


@dataclass(frozen=True)
class Delivery:
    topic: str
    payload: bytes
    retain: bool
    expiry: int | None

    @property
    def doc(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.payload)
        return parsed


class ProtocolClient:
    """Publishes requests and collects every reply on ``P/v1/+/creds/res``.

    One connection speaks for many devices (the test broker has no ACL); replies are kept per
    device topic in arrival order.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        prefix: str = "ossmedia",
        v5: bool = True,
        ca_file: str | None = None,
        cert: tuple[str, str] | None = None,
    ) -> None:
        self.prefix = prefix
        self._cond = threading.Condition()
        self.replies: dict[str, list[Delivery]] = {}
        protocol = MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"probe-{os.urandom(4).hex()}", protocol=protocol
        )
        if ca_file is not None:
            certfile, keyfile = cert if cert else (None, None)
            self._client.tls_set(ca_certs=ca_file, certfile=certfile, keyfile=keyfile)
        self._client.on_message = self._on_message
        self._client.on_connect = self._on_connect
        self._subscribed = threading.Event()
        self._client.on_subscribe = lambda *a: self._subscribed.set()
        self._client.connect(host, port)
        self._client.loop_start()
        assert self._subscribed.wait(WAIT_S), "no SUBACK"

    def _on_connect(self, client: mqtt.Client, *args: Any) -> None:
        client.subscribe(f"{self.prefix}/v1/+/creds/res", qos=1)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        expiry = getattr(msg.properties, "MessageExpiryInterval", None) if msg.properties else None
        delivery = Delivery(msg.topic, bytes(msg.payload), bool(msg.retain), expiry)
        device = msg.topic.split("/")[-3]
        with self._cond:
            self.replies.setdefault(device, []).append(delivery)
            self._cond.notify_all()

    def publish(self, device_id: str, payload: bytes, *, topic_device: str | None = None) -> None:
        topic = f"{self.prefix}/v1/{topic_device or device_id}/creds/req"
        self._client.publish(topic, payload, qos=1).wait_for_publish(WAIT_S)

    def count(self, device_id: str) -> int:
        with self._cond:
            return len(self.replies.get(device_id, []))

    def wait_reply(self, device_id: str, index: int, timeout: float = WAIT_S) -> Delivery:
        """The ``index``-th reply (0-based) on the device's reply topic."""
        with self._cond:
            ok = self._cond.wait_for(lambda: len(self.replies.get(device_id, [])) > index, timeout)
            assert ok, f"no reply #{index} for {device_id}"
            return self.replies[device_id][index]

    def ask(
        self,
        device_id: str,
        doc: dict[str, Any] | bytes,
        *,
        topic_device: str | None = None,
    ) -> Delivery:
        """Publish one request and return the next reply on the topic device's reply topic."""
        target = topic_device or device_id
        index = self.count(target)
        self.publish(device_id, doc if isinstance(doc, bytes) else encode(doc), topic_device=target)
        return self.wait_reply(target, index)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
