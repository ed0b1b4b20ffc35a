"""``MqttKeyDelivery``: content keys handed to the console over the camera's MQTT link.

Each key goes out as one ``hls.key`` event on the camera's own events topic
(``P/v1/{device_id}/events``): the 16 key bytes sealed with AES-256-GCM under the device's
``seal_key`` and bound to the device and key id, the event signed with its ``sign_key``
(see ``docs/protocol.md``). The broker and every other subscriber see only ciphertext.

``deliver`` publishes at QoS 1, never retained, and returns once the broker has acknowledged
the message (PUBACK). From there the broker hands it to the console, which keeps a
persistent session, so the key reaches it even when it was away at that moment. A key whose
PUBACK does not come within ``timeout_s`` counts as not delivered: the stream encrypts
nothing with it. The message may still reach the console later (QoS 1 is re-sent after a
reconnect); an unused key held by the console is harmless.

While the link is down, delivery fails at once instead of waiting for the timeout, so a
stream rotating its key during an outage does not hold up the camera's frames.
"""

from __future__ import annotations

from typing import Protocol

from device.clock import Clock
from device.hls.encryption import ContentKey
from device.hls.errors import KeyDeliveryError
from schemas.content_keys import build_hls_key
from schemas.errors import SchemaError
from schemas.keys import DeviceKeys
from schemas.messages import encode
from schemas.topics import Topics

__all__ = ["Acknowledgement", "EventLink", "MqttKeyDelivery"]

DEFAULT_TIMEOUT_S = 10.0


class Acknowledgement(Protocol):
    """The fate of one published message (``device.mqtt.Publication``)."""

    error: str | None

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the broker's acknowledgement; return whether it came and succeeded."""
        ...


class EventLink(Protocol):
    """What key delivery needs from the MQTT link (``device.mqtt.MqttLink``)."""

    def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> Acknowledgement:
        """Queue a message for the broker."""
        ...

    def is_connected(self) -> bool:
        """Whether the link is connected now."""
        ...


class MqttKeyDelivery:
    """A :class:`~device.hls.encryption.KeyDelivery` over the camera's MQTT link.

    Args:
        link: the camera's link (an :class:`~device.mqtt.MqttLink`).
        device_id: this camera; keys of any other device are refused.
        keys: this camera's derived keys (``seal_key`` seals, ``sign_key`` signs).
        topics: topic names under the configured prefix.
        clock: wall clock for the event's ``created_ms``.
        timeout_s: how long to wait for the broker's PUBACK.
    """

    def __init__(
        self,
        link: EventLink,
        *,
        device_id: str,
        keys: DeviceKeys,
        topics: Topics,
        clock: Clock,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self._link = link
        self._device_id = device_id
        self._keys = keys
        self._topic = topics.events(device_id)
        self._clock = clock
        self._timeout_s = timeout_s
        self.delivered = 0
        self.failed = 0

    def deliver(self, key: ContentKey) -> None:
        """Publish ``key`` as a sealed, signed ``hls.key`` event and wait for the PUBACK.

        Raises:
            KeyDeliveryError: the key is another device's or malformed, the link is down,
                the broker refused the message or did not acknowledge it in time. The error
                names the key id, never the key.
        """
        try:
            self._deliver(key)
        except KeyDeliveryError:
            self.failed += 1
            raise
        self.delivered += 1

    def _deliver(self, key: ContentKey) -> None:
        if key.device_id != self._device_id:
            raise KeyDeliveryError(
                f"key belongs to {key.device_id!r}, not to this camera", key_id=key.key_id
            )
        try:
            event = build_hls_key(
                self._keys,
                device_id=key.device_id,
                key_id=key.key_id,
                created_ms=self._clock.wall_ms(),
                key=key.key,
            )
        except SchemaError as exc:
            # Reasons name fields and rules, never values (schemas.errors).
            raise KeyDeliveryError(f"cannot build hls.key: {exc}", key_id=key.key_id) from None
        if not self._link.is_connected():
            raise KeyDeliveryError("MQTT link is down", key_id=key.key_id)
        ack = self._link.publish(self._topic, encode(event), qos=1, retain=False)
        if not ack.wait(self._timeout_s):
            why = ack.error or f"no PUBACK within {self._timeout_s:g} s"
            raise KeyDeliveryError(f"key not acknowledged by the broker: {why}", key_id=key.key_id)

    def __repr__(self) -> str:
        return (
            f"MqttKeyDelivery(topic={self._topic!r}, delivered={self.delivered}, "
            f"failed={self.failed})"
        )
