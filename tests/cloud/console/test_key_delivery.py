"""A camera's ``MqttKeyDelivery`` and the console's ingest, through a real Mosquitto."""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest

from device.clock import SystemClock
from device.hls.delivery import MqttKeyDelivery
from device.hls.encryption import ContentKey
from device.mqtt import MqttLink
from device.settings import BrokerSettings
from schemas import Topics
from simulator.broker import MosquittoProcess
from tests.cloud.console.camera import TestCamera
from tests.cloud.console.conftest import StackFactory, login
from tests.cloud.console.waiting import wait_until


@pytest.fixture
def camera_link(mosquitto: MosquittoProcess) -> Iterator[MqttLink]:
    link = MqttLink(BrokerSettings.model_validate({"url": mosquitto.url}), client_id="cam-1")
    link.start()
    assert link.wait_connected(10)
    yield link
    link.stop()


def _delivery(link: MqttLink, camera: TestCamera) -> MqttKeyDelivery:
    return MqttKeyDelivery(
        link,
        device_id=camera.device_id,
        keys=camera.keys,
        topics=Topics("ossmedia"),
        clock=SystemClock(),
    )


def test_a_key_delivered_while_the_console_is_away_arrives_when_it_returns(
    stack_factory: StackFactory, mosquitto: MosquittoProcess, camera_link: MqttLink
) -> None:
    settings = {"enabled": True, "url": mosquitto.url, "client_id": "c-k"}
    first = stack_factory(mqtt=settings)
    camera = first.camera("cam-1")
    assert first.console.wait_subscribed(10)
    first.console.stop()

    # The broker acknowledges: deliver() returns although no console is connected.
    key = ContentKey("cam-1", "5a" * 16, os.urandom(16), first_sequence=0)
    _delivery(camera_link, camera).deliver(key)

    second = stack_factory(mqtt=settings)
    assert wait_until(lambda: second.ledger.content_key("cam-1", key.key_id) is not None)
    assert second.console.parts.ingestor.counts() == {"stored": 1}
    with httpx.Client(base_url=second.url, timeout=10) as http:
        login(http)
        reply = http.get(f"/api/keys/cam-1/{key.key_id}")
    assert reply.status_code == 200
    assert reply.content == key.key
