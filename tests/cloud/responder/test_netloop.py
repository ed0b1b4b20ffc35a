"""The responder's network loop: packets queued on other threads still go out at once."""

from __future__ import annotations

import array
import fcntl
import os
import termios
import threading
import time
from collections.abc import Iterator
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion

from cloud.responder.netloop import NetworkLoop
from simulator.broker import MosquittoProcess

TOPIC = "netloop/test"


def _client(name: str) -> mqtt.Client:
    return mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=name, protocol=MQTTProtocolVersion.MQTTv5
    )


class Received:
    """Payloads arriving on TOPIC, seen by an independent subscriber."""

    def __init__(self) -> None:
        self.payloads: list[bytes] = []
        self.arrived = threading.Condition()

    def add(self, payload: bytes) -> None:
        with self.arrived:
            self.payloads.append(payload)
            self.arrived.notify_all()

    def wait_for(self, count: int, timeout: float) -> list[bytes]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.payloads) >= count, timeout)
            return list(self.payloads)


@pytest.fixture
def received(mosquitto: MosquittoProcess) -> Iterator[Received]:
    """An independent subscriber to TOPIC."""
    got = Received()
    ready = threading.Event()
    watcher = _client("netloop-watcher")
    watcher.on_connect = lambda c, u, f, r, p: c.subscribe(TOPIC, qos=1)
    watcher.on_subscribe = lambda c, u, m, r, p: ready.set()

    def on_message(c: mqtt.Client, u: Any, msg: mqtt.MQTTMessage) -> None:
        got.add(msg.payload)

    watcher.on_message = on_message
    watcher.connect(mosquitto.host, mosquitto.port)
    watcher.loop_start()
    assert ready.wait(10)
    yield got
    watcher.disconnect()
    watcher.loop_stop()


def test_a_publish_from_another_thread_ends_the_wait(
    mosquitto: MosquittoProcess, received: Received
) -> None:
    client = _client("netloop-owner")
    connected = threading.Event()
    client.on_connect = lambda c, u, f, r, p: connected.set()
    loop = NetworkLoop(client)
    client.connect(mosquitto.host, mosquitto.port)
    for _ in range(100):
        assert loop.step(timeout=0.1) == MQTTErrorCode.MQTT_ERR_SUCCESS
        if connected.is_set():
            break
    assert connected.is_set()

    stop = threading.Event()
    codes: list[MQTTErrorCode] = []

    def serve() -> None:
        # Waits that only a wake-up can end early: nothing else arrives in between.
        while not stop.is_set():
            codes.append(loop.step(timeout=600))

    owner = threading.Thread(target=serve)
    owner.start()
    try:
        for n in range(5):
            client.publish(TOPIC, f"m{n}".encode(), qos=1)
            # Without a wake-up the publish would sit in the queue for the whole 600 s wait.
            assert received.wait_for(n + 1, timeout=10) == [f"m{k}".encode() for k in range(n + 1)]
    finally:
        stop.set()
        loop.wake()
        owner.join(10)
    assert not owner.is_alive()
    assert codes
    assert set(codes) == {MQTTErrorCode.MQTT_ERR_SUCCESS}
    client.disconnect()
    for _ in range(10):
        if loop.step(timeout=0.05) != MQTTErrorCode.MQTT_ERR_SUCCESS:
            break
    loop.close()


def test_a_client_socket_past_fd_setsize_still_works(
    mosquitto: MosquittoProcess, received: Received
) -> None:
    # In a process with many connections (the fleet simulator hosts the responder beside the
    # emulator's camera connections), the client's descriptor can be past 1024, which
    # select() cannot watch.
    filler = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    client = _client("netloop-high-fd")
    connected = threading.Event()
    client.on_connect = lambda c, u, f, r, p: connected.set()
    loop = NetworkLoop(client)
    try:
        client.connect(mosquitto.host, mosquitto.port)
        sock = client.socket()
        assert sock is not None
        assert sock.fileno() > 1024
        for _ in range(100):
            assert loop.step(timeout=0.1) == MQTTErrorCode.MQTT_ERR_SUCCESS
            if connected.is_set():
                break
        assert connected.is_set()
        client.publish(TOPIC, b"high", qos=1)
        for _ in range(100):
            assert loop.step(timeout=0.1) == MQTTErrorCode.MQTT_ERR_SUCCESS
            if received.payloads:
                break
        assert received.wait_for(1, timeout=5) == [b"high"]
        client.disconnect()
        loop.step(timeout=0.05)
    finally:
        loop.close()
        for fd in filler:
            os.close(fd)


def _buffered_bytes(sock: Any) -> int:
    raw = array.array("i", [0])
    fcntl.ioctl(sock.fileno(), termios.FIONREAD, raw)
    return int(raw[0])


def test_one_pass_reads_every_packet_already_buffered(mosquitto: MosquittoProcess) -> None:
    # paho's loop_read() reads a single packet when nothing of ours awaits an acknowledgement;
    # a stream of requests must not cost a whole pass (poll, writes, keep-alive) per packet.
    client = _client("netloop-batch")
    connected = threading.Event()
    subscribed = threading.Event()
    got: list[bytes] = []
    client.on_connect = lambda c, u, f, r, p: connected.set()
    client.on_subscribe = lambda c, u, m, r, p: subscribed.set()
    client.on_message = lambda c, u, msg: got.append(bytes(msg.payload))
    loop = NetworkLoop(client)
    publisher = _client("netloop-batch-publisher")
    try:
        client.connect(mosquitto.host, mosquitto.port)
        for _ in range(200):
            loop.step(timeout=0.05)
            if connected.is_set():
                break
        client.subscribe(TOPIC, qos=0)
        for _ in range(200):
            loop.step(timeout=0.05)
            if subscribed.is_set():
                break
        assert subscribed.is_set()
        publisher.connect(mosquitto.host, mosquitto.port)
        publisher.loop_start()
        count = 100
        for n in range(count):
            publisher.publish(TOPIC, f"p{n:03d}".encode(), qos=1).wait_for_publish(10)
        sock = client.socket()
        assert sock is not None
        deadline = time.monotonic() + 30
        # Each packet: fixed header (2) + topic length (2) + topic + properties length (1)
        # + payload (4).
        size = 2 + 2 + len(TOPIC) + 1 + 4
        while _buffered_bytes(sock) < count * size and time.monotonic() < deadline:
            time.sleep(0.01)
        assert loop.step(timeout=1) == MQTTErrorCode.MQTT_ERR_SUCCESS
        assert got == [f"p{n:03d}".encode() for n in range(count)]
    finally:
        publisher.disconnect()
        publisher.loop_stop()
        client.disconnect()
        loop.step(timeout=0.05)
        loop.close()
