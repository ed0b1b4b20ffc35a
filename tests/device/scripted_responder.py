"""A scripted credential peer on a real broker, for error codes a real responder rarely gives.

It speaks protocol v1 with the schemas helpers (signed errors, sealed successes) but answers
each request as a script says: ``ok``, a signed or unsigned error, a forged reply, or nothing.
The end-to-end tests use the real responder; this peer pins the client's reaction to each code.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from schemas.keys import DeviceKeys
from schemas.messages import encode, parse_request
from schemas.protocol import build_error_response, build_ok_response
from schemas.requests import CredsRequest
from schemas.responses import Credentials, ErrorCode, Grant, SealedPayload
from schemas.topics import Topics
from simulator.broker import MosquittoProcess

Answer = Callable[["ScriptedResponder", CredsRequest], bytes | None]


@dataclass
class Seen:
    request: CredsRequest
    received_at_ms: int


class ScriptedResponder:
    """Answers credential requests of one device from a script of answers.

    Args:
        broker: the broker.
        device_id: the device it answers for.
        keys: that device's keys.
        now_ms: the responder's clock.
        lifetime_s: lifetime of minted credentials.
    """

    def __init__(
        self,
        broker: MosquittoProcess,
        device_id: str,
        keys: DeviceKeys,
        *,
        now_ms: Callable[[], int],
        lifetime_s: int = 900,
    ) -> None:
        self.device_id = device_id
        self.keys = keys
        self.now_ms = now_ms
        self.lifetime_s = lifetime_s
        self.topics = Topics("ossmedia")
        self.script: list[Answer] = []
        self.default: Answer = ScriptedResponder.ok
        self.seen: list[Seen] = []
        self.minted = 0
        self._cond = threading.Condition()
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"responder-{device_id}")
        self._client.on_message = self._on_message
        self._subscribed = threading.Event()
        self._client.on_subscribe = lambda *_a: self._subscribed.set()
        self._client.connect(broker.host, broker.port)
        self._client.subscribe(self.topics.creds_req(device_id), qos=1)
        self._client.loop_start()
        if not self._subscribed.wait(10):
            raise RuntimeError("scripted responder could not subscribe")

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        request = parse_request(bytes(message.payload))
        with self._cond:
            self.seen.append(Seen(request, self.now_ms()))
            answer = self.script.pop(0) if self.script else self.default
            self._cond.notify_all()
        payload = answer(self, request)
        if payload is not None:
            self._client.publish(self.topics.creds_res(self.device_id), payload, qos=1)

    def wait_requests(self, count: int, timeout: float = 10.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: len(self.seen) >= count, timeout)

    # -- answers ----------------------------------------------------------------------

    def ok(self, request: CredsRequest) -> bytes:
        self.minted += 1
        now = self.now_ms()
        expires = now + self.lifetime_s * 1000
        payload = SealedPayload(
            credentials=Credentials(
                access_key_id=f"STS.key{self.minted}",
                access_key_secret=f"secret{self.minted}",
                security_token=f"token{self.minted}",
                expiration_ms=expires,
            ),
            grant=Grant(
                endpoint="http://127.0.0.1:9",
                bucket="media",
                region="cn-hangzhou",
                prefix=f"videos/{self.device_id}/",
                access=request.access,
                expires_at_ms=expires,
            ),
        )
        reply = build_ok_response(
            self.keys,
            device_id=self.device_id,
            request_id=request.request_id,
            server_time_ms=now,
            payload=payload,
        )
        return encode(reply)

    @staticmethod
    def error(
        code: ErrorCode,
        *,
        signed: bool = True,
        retry_after_ms: int | None = None,
        server_time_ms: int | None = None,
        keys: DeviceKeys | None = None,
    ) -> Answer:
        def answer(peer: ScriptedResponder, request: CredsRequest) -> bytes:
            reply = build_error_response(
                (keys or peer.keys) if signed else None,
                device_id=peer.device_id,
                request_id=request.request_id,
                server_time_ms=server_time_ms if server_time_ms is not None else peer.now_ms(),
                code=code,
                message=f"scripted {code.value}",
                retry_after_ms=retry_after_ms,
            )
            return encode(reply)

        return answer

    @staticmethod
    def silence(peer: ScriptedResponder, request: CredsRequest) -> None:
        del peer, request
        return None

    @staticmethod
    def forged_ok(other_keys: DeviceKeys) -> Answer:
        """A success sealed with the wrong key (someone else on the broker)."""

        def answer(peer: ScriptedResponder, request: CredsRequest) -> bytes:
            real = peer.keys
            peer.keys = other_keys
            try:
                return peer.ok(request)
            finally:
                peer.keys = real

        return answer
