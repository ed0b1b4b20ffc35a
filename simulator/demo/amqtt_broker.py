"""An embedded pure-Python MQTT broker (amqtt) for machines without Mosquitto.

It has no access control list: fine for a demo on loopback, never for a deployment.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from simulator.broker import pick_free_port

__all__ = ["running_amqtt"]


@contextlib.contextmanager
def running_amqtt(host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Run amqtt in a background thread; yield its ``mqtt://host:port`` URL.

    Raises:
        RuntimeError: amqtt is not installed or did not start within 15 s.
    """
    try:
        from amqtt.broker import Broker
    except ImportError:
        raise RuntimeError("neither Mosquitto nor amqtt is installed") from None
    port = port or pick_free_port(host)
    config: dict[str, Any] = {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "auth": {"allow-anonymous": True, "plugins": ["auth_anonymous"]},
        "topic-check": {"enabled": False},
    }
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    failure: list[BaseException] = []
    broker: Any = None

    def run() -> None:
        nonlocal broker
        asyncio.set_event_loop(loop)
        try:
            broker = Broker(config, loop=loop)
            loop.run_until_complete(broker.start())
        except BaseException as exc:  # reported to the starting thread
            failure.append(exc)
            ready.set()
            return
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="amqtt", daemon=True)
    thread.start()
    if not ready.wait(15) or failure:
        raise RuntimeError(f"amqtt did not start: {failure[0] if failure else 'timeout'}")
    try:
        yield f"mqtt://{host}:{port}"
    finally:
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(broker.shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
