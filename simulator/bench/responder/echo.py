"""The baseline: a raw paho responder that republishes each request on its reply topic.

It does the least a responder can do on the same broker and client library (receive at QoS 1,
publish at QoS 1 to ``.../creds/res``) and nothing else, so the responder's figures can be read
as a ratio to it. Run as ``python -m simulator.bench.responder.echo HOST PORT [PREFIX]``.
"""

from __future__ import annotations

import signal
import socket
import sys
import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion


def serve(host: str, port: int, *, prefix: str = "ossmedia", group: str = "echo") -> None:
    """Echo requests until SIGTERM; prints ``ready`` once subscribed."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id="bench-echo", protocol=MQTTProtocolVersion.MQTTv5
    )
    client.max_inflight_messages_set(1000)
    stop = threading.Event()

    def on_socket_open(c: mqtt.Client, u: Any, sock: Any) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def on_connect(c: mqtt.Client, u: Any, flags: Any, reason: Any, props: Any) -> None:
        c.subscribe(f"$share/{group}/{prefix}/v1/+/creds/req", qos=1)

    def on_subscribe(c: mqtt.Client, u: Any, mid: int, reasons: Any, props: Any) -> None:
        print("ready", flush=True)

    def on_message(c: mqtt.Client, u: Any, msg: mqtt.MQTTMessage) -> None:
        c.publish(msg.topic[: -len("req")] + "res", msg.payload, qos=1)

    client.on_socket_open = on_socket_open
    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    client.connect(host, port)
    client.loop_start()
    stop.wait()
    client.disconnect()
    client.loop_stop()


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]), prefix=sys.argv[3] if len(sys.argv) > 3 else "ossmedia")
