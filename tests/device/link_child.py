"""Child process for the last-will test: connect a link with a will, then wait to be killed.

Usage: ``python -m tests.device.link_child HOST PORT CLIENT_ID WILL_TOPIC``.
"""

from __future__ import annotations

import sys
import threading

from device.mqtt import MqttLink
from device.settings import BrokerSettings


def main() -> None:
    host, port, client_id, will_topic = sys.argv[1:5]
    link = MqttLink(
        BrokerSettings(url=f"mqtt://{host}:{port}", keepalive_s=5),
        client_id=client_id,
        will=lambda: (will_topic, b"offline"),
    )
    link.start()
    if not link.wait_connected(10):
        sys.exit(1)
    print("connected", flush=True)
    threading.Event().wait(60)


if __name__ == "__main__":
    main()
