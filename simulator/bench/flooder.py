"""The flooding camera of ``ossmedia bench flood``.

It logs in with its own broker account and publishes freshly and validly signed requests as
fast as its connection takes them; once the broker cuts it off (the responder's quarantine),
it tries to reconnect every so often until told to stop, and reports how much of the flood
the broker took and how its reconnects fared.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from schemas.keys import DeviceKeys
from schemas.topics import Topics
from simulator.bench.responder.client import Device, now_ms


class Flooder:
    """The flooding camera (see the module docstring).

    Args:
        host / port: the camera listener.
        device: the camera and its keys.
        password: its broker account's password.
        topics: the topic prefix.
    """

    def __init__(
        self, host: str, port: int, device: Device, password: str, *, topics: Topics
    ) -> None:
        self._topics = topics
        self._host, self._port = host, port
        self.device = device
        self._password = password
        self.acknowledged = 0
        self.cut = threading.Event()
        self.outcomes: dict[str, int] = {}
        self._lock = threading.Lock()

    def _client(
        self, cut: threading.Event | None = None
    ) -> tuple[mqtt.Client, threading.Event, list[Any]]:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.device.device_id,
            protocol=MQTTProtocolVersion.MQTTv5,
            reconnect_on_failure=False,
        )
        client.username_pw_set(self.device.device_id, self._password)
        answered = threading.Event()
        connack: list[Any] = []

        def on_connect(c: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
            connack.append(rc)
            answered.set()

        def on_disconnect(_c: mqtt.Client, _u: Any, _f: Any, _rc: Any, _p: Any) -> None:
            if cut is not None:
                cut.set()
            answered.set()

        client.on_connect = on_connect
        client.on_disconnect = on_disconnect
        return client, answered, connack

    def _on_publish(self, *_args: Any) -> None:
        self.acknowledged += 1  # written by paho's network thread only

    def _on_reply(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        doc = json.loads(msg.payload)
        code = "ok" if doc.get("ok") else str(doc.get("error", {}).get("code", "?"))
        with self._lock:
            self.outcomes[code] = self.outcomes.get(code, 0) + 1

    def run(self, count: int, started: Any, stop: Any, reconnect_every_s: float) -> dict[str, Any]:
        """Flood, then try to come back; return what happened."""
        client, answered, connack = self._client(self.cut)
        client.max_inflight_messages_set(5000)
        client.max_queued_messages_set(0)
        client.on_publish = self._on_publish
        client.on_message = self._on_reply
        client.connect(self._host, self._port, keepalive=60)
        client.loop_start()
        if not answered.wait(10) or not connack or connack[0].is_failure:
            raise RuntimeError(f"the flooding camera could not connect: {connack}")
        client.subscribe(self._topics.creds_res(self.device.device_id), qos=1)
        start = time.perf_counter()
        started.set()
        sent = 0
        topic = self._topics.creds_req(self.device.device_id)
        for _ in range(count):
            if self.cut.is_set():
                break
            if client.publish(topic, self.device.request(now_ms())[1], qos=1).rc:
                break
            sent += 1
        published_s = time.perf_counter() - start
        # The broker has them all once the last PUBACK is in (or it has cut the camera off).
        deadline = time.monotonic() + 300
        while self.acknowledged < sent and not self.cut.is_set() and time.monotonic() < deadline:
            self.cut.wait(0.05)
        was_cut = self.cut.is_set()
        cut_after_s = round(time.perf_counter() - start, 3) if was_cut else None
        client.disconnect()
        client.loop_stop()
        refused = accepted = 0
        while was_cut and not stop.wait(reconnect_every_s):
            again, answered, connack = self._client()
            try:
                again.connect(self._host, self._port, keepalive=60)
            except OSError:
                refused += 1
                continue
            again.loop_start()
            answered.wait(10)
            again.disconnect()
            again.loop_stop()
            if connack and not connack[0].is_failure:
                accepted += 1
            else:
                refused += 1
        with self._lock:
            outcomes = dict(self.outcomes)
        return {
            "requests": count,
            "sent": sent,
            "published_s": round(published_s, 2),
            # PUBACKs the flooder's client handled before the cut: a lower bound of what the
            # broker took (its network thread competes with the publishing loop).
            "acknowledged": self.acknowledged,
            "cut_off_after_s": cut_after_s,
            "reconnects_refused": refused,
            "reconnects_accepted": accepted,
            "answered": outcomes,
        }


def flood_process(
    prefix: str,
    host: str,
    port: int,
    name: str,
    secret: str,
    password: str,
    count: int,
    reconnect_every_s: float,
    started: Any,
    stop: Any,
    out: Any,
) -> None:
    """The flooding camera in a process of its own (``spawn``): sharing the probe's process,
    it would hold the interpreter lock and delay the probe's own client, not the responder."""
    device = Device(name, DeviceKeys.from_secret(secret))
    flooder = Flooder(host, port, device, password, topics=Topics(prefix))
    out.put(flooder.run(count, started, stop, reconnect_every_s))
