"""MQTT ingest through a real Mosquitto: events and retained status reach the ledger once."""

from __future__ import annotations

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from schemas import DeviceKeys, new_device_secret
from simulator.broker import MosquittoProcess
from tests.cloud.console.camera import wire
from tests.cloud.console.conftest import StackFactory
from tests.cloud.console.waiting import wait_until


def publisher(broker: MosquittoProcess) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-camera")
    client.connect(broker.host, broker.port)
    client.loop_start()
    return client


def test_events_and_status_flow_from_the_broker(
    stack_factory: StackFactory, mosquitto: MosquittoProcess
) -> None:
    stack = stack_factory(mqtt={"enabled": True, "url": mosquitto.url})
    cam = stack.camera("cam-1")
    # The retained status is published before the console subscribes: it must still arrive.
    pub = publisher(mosquitto)
    try:
        pub.publish(
            cam.status_topic(), wire(cam.status(1000, spool_bytes=77)), qos=1, retain=True
        ).wait_for_publish(5)
        assert stack.console.wait_subscribed(10)
        event = cam.record("mqtt.mp4", b"e" * 64, 1000, 2000)
        forged = cam.segment(
            "videos/cam-1/x.mp4", 1, 1, 0, 1, keys=DeviceKeys.from_secret(new_device_secret())
        )
        for payload in (wire(event), wire(event), wire(forged), b"garbage"):
            pub.publish(cam.events_topic(), payload, qos=1).wait_for_publish(5)
    finally:
        pub.loop_stop()
        pub.disconnect()

    ingestor = stack.console.parts.ingestor
    assert wait_until(lambda: sum(ingestor.counts().values()) >= 5)
    assert ingestor.counts() == {
        "stored": 2,  # the status and the event
        "duplicate": 1,
        "rejected:bad_signature": 1,
        "rejected:malformed": 1,
    }
    camera = stack.ledger.camera("cam-1")
    assert camera is not None
    assert camera.recordings == 1
    assert camera.status is not None
    assert camera.status.spool_bytes == 77


def test_console_keeps_its_session_across_restarts(
    stack_factory: StackFactory, mosquitto: MosquittoProcess
) -> None:
    """Events published while the console is down arrive when it is back (persistent session)."""
    settings = {"enabled": True, "url": mosquitto.url, "client_id": "c-1"}
    first = stack_factory(mqtt=settings)
    cam = first.camera("cam-1")
    assert first.console.wait_subscribed(10)
    first.console.stop()

    pub = publisher(mosquitto)
    try:
        event = cam.record("offline.mp4", b"o" * 32, 0, 1)
        pub.publish(cam.events_topic(), wire(event), qos=1).wait_for_publish(5)
    finally:
        pub.loop_stop()
        pub.disconnect()

    second = stack_factory(mqtt=settings)
    assert wait_until(lambda: second.ledger.recording(event.event_id) is not None)
