"""``MqttKeyDelivery`` on real Mosquitto: sealed, signed, unretained, acknowledged or failed."""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Iterator

import pytest

from device.clock import ManualClock
from device.hls import (
    EncryptionOptions,
    HlsOptions,
    HlsStream,
    KeyDeliveryError,
    MemorySink,
    decrypt_segment,
)
from device.hls.adts import AdtsFrame
from device.hls.delivery import MqttKeyDelivery
from device.hls.encryption import ContentKey
from device.mqtt import MqttLink
from device.settings import BrokerSettings
from schemas import (
    DeviceKeys,
    HlsKey,
    Topics,
    b64url_encode,
    new_device_secret,
    open_hls_key,
    parse_event,
    verify_hls_key,
)
from simulator.broker import MosquittoProcess
from simulator.broker.acl import AclFile, AclRule, AclSection
from tests.device.hls.feed import feed
from tests.device.hls.media import VideoUnit
from tests.device.hls.sinks import playlist_uris, resolve
from tests.fixtures.broker import MosquittoFactory, MqttProbe, MqttProbeFactory

DEVICE = "cam-0001"
WAIT = 10.0
TOPICS = Topics("ossmedia")
EVENTS = TOPICS.events(DEVICE)
SECRET = new_device_secret()
KEYS = DeviceKeys.from_secret(SECRET)
KEY_TAG = re.compile(r'#EXT-X-KEY:METHOD=AES-128,URI="/api/keys/cam-0001/([0-9a-f]{32})"')


@pytest.fixture
def links() -> Iterator[list[MqttLink]]:
    started: list[MqttLink] = []
    yield started
    for link in started:
        link.stop()


def _link(broker: MosquittoProcess, links: list[MqttLink], **settings: object) -> MqttLink:
    link = MqttLink(
        BrokerSettings.model_validate(
            {"url": broker.url, "reconnect_initial_s": 0.05, "reconnect_max_s": 0.5, **settings}
        ),
        client_id=DEVICE,
    )
    links.append(link)
    link.start()
    assert link.wait_connected(WAIT)
    return link


def _delivery(link: MqttLink, timeout_s: float = WAIT) -> MqttKeyDelivery:
    return MqttKeyDelivery(
        link,
        device_id=DEVICE,
        keys=KEYS,
        topics=TOPICS,
        clock=ManualClock(wall_ms=1_764_380_000_000),
        timeout_s=timeout_s,
    )


def _console(factory: MqttProbeFactory, broker: MosquittoProcess) -> MqttProbe:
    probe = factory(broker)
    probe.connect()
    probe.subscribe(TOPICS.events_subscription())
    return probe


def _key(key_id: str = "ab" * 16, device_id: str = DEVICE) -> ContentKey:
    return ContentKey(device_id=device_id, key_id=key_id, key=os.urandom(16), first_sequence=0)


def _received_key(message_payload: bytes) -> tuple[HlsKey, bytes]:
    event = parse_event(message_payload)
    assert isinstance(event, HlsKey)
    assert verify_hls_key(KEYS, event)
    return event, open_hls_key(KEYS, event)


def test_a_delivered_key_reaches_the_console_sealed_and_unretained(
    mosquitto: MosquittoProcess, mqtt_client_factory: MqttProbeFactory, links: list[MqttLink]
) -> None:
    console = _console(mqtt_client_factory, mosquitto)
    delivery = _delivery(_link(mosquitto, links))
    key = _key()
    delivery.deliver(key)  # returns after the PUBACK
    message = console.wait_for(EVENTS)
    assert message.qos == 1
    assert not message.retain
    event, opened = _received_key(message.payload)
    assert opened == key.key
    assert event.key_id == key.key_id
    assert event.created_ms == 1_764_380_000_000
    for spelling in (key.key, key.key.hex().encode(), b64url_encode(key.key).encode()):
        assert spelling not in message.payload
    assert delivery.delivered == 1
    assert key.key.hex() not in repr(delivery)

    # Nothing was retained: a subscriber arriving later gets nothing.
    late = mqtt_client_factory(mosquitto)
    late.connect()
    late.subscribe(EVENTS)
    assert late.publish("ossmedia/v1/cam-0001/probe", b"x") == 0  # a round trip to the broker
    assert late.received(EVENTS) == []


def test_an_encrypted_stream_delivers_every_key_over_mqtt_before_using_it(
    mosquitto: MosquittoProcess,
    mqtt_client_factory: MqttProbeFactory,
    links: list[MqttLink],
    video_units: list[VideoUnit],
    adts_frames: list[AdtsFrame],
) -> None:
    console = _console(mqtt_client_factory, mosquitto)
    sink = MemorySink()
    stream = HlsStream(sink, key_delivery=_delivery(_link(mosquitto, links)), clock=ManualClock())
    stream.open(
        HlsOptions(
            prefix="videos/cam-0001/",
            stream="front",
            session="S1",
            mode="vod",
            frame_rate=10,
            audio_sample_rate=16_000,
            target_duration_s=1.0,
            encryption=EncryptionOptions(device_id=DEVICE, rotate_every_segments=3),
        )
    )
    feed(stream, video_units, adts_frames)
    assert stream.close()
    playlist_key = "videos/cam-0001/front/S1.m3u8"
    text = sink.get(playlist_key).decode()
    used = KEY_TAG.findall(text)
    assert len(set(used)) == 3
    console.wait_until(lambda: len(console.received(EVENTS)) == 3)
    held = dict(
        (event.key_id, key)
        for event, key in (_received_key(m.payload) for m in console.received(EVENTS))
    )
    assert set(held) == set(used)
    for seq, (uri, key_id) in enumerate(zip(playlist_uris(text), used, strict=True)):
        plain = decrypt_segment(
            sink.get(resolve(playlist_key, uri)), held[key_id], seq.to_bytes(16)
        )
        assert plain[0] == 0x47


def test_a_link_that_is_down_fails_at_once(
    mosquitto: MosquittoProcess, links: list[MqttLink]
) -> None:
    link = _link(mosquitto, links)
    mosquitto.stop()
    assert link.wait_disconnected(WAIT)
    delivery = _delivery(link, timeout_s=60.0)  # a wait this long would fail the test's timeout
    key = _key()
    with pytest.raises(KeyDeliveryError) as info:
        delivery.deliver(key)
    assert "link is down" in str(info.value)
    assert info.value.key_id == key.key_id
    assert key.key.hex() not in str(info.value)
    assert (delivery.delivered, delivery.failed) == (0, 1)


def test_no_puback_in_time_is_a_delivery_failure(
    mosquitto: MosquittoProcess, mqtt_client_factory: MqttProbeFactory, links: list[MqttLink]
) -> None:
    console = _console(mqtt_client_factory, mosquitto)
    delivery = _delivery(_link(mosquitto, links), timeout_s=0.3)
    assert mosquitto.pid is not None
    os.kill(mosquitto.pid, signal.SIGSTOP)  # the connection stays up, nothing answers
    try:
        key = _key()
        with pytest.raises(KeyDeliveryError) as info:
            delivery.deliver(key)
    finally:
        os.kill(mosquitto.pid, signal.SIGCONT)
    assert "no PUBACK within 0.3 s" in str(info.value)
    assert key.key.hex() not in str(info.value)
    # QoS 1 goes on: the message still reaches the console, which may keep an unused key.
    _, opened = _received_key(console.wait_for(EVENTS).payload)
    assert opened == key.key


def test_a_publish_the_broker_refuses_is_a_delivery_failure(
    mosquitto_factory: MosquittoFactory, links: list[MqttLink]
) -> None:
    # MQTT 5 carries the refusal in the PUBACK's reason code.
    read_only = AclSection(rules=(AclRule(access="read", topic="ossmedia/#"),))
    broker = mosquitto_factory(acl=AclFile(sections=(read_only,)))
    delivery = _delivery(_link(broker, links, protocol="5"))
    with pytest.raises(KeyDeliveryError) as info:
        delivery.deliver(_key())
    assert "PUBACK" in str(info.value)


def test_another_devices_key_is_refused_without_publishing(
    mosquitto: MosquittoProcess, mqtt_client_factory: MqttProbeFactory, links: list[MqttLink]
) -> None:
    console = _console(mqtt_client_factory, mosquitto)
    delivery = _delivery(_link(mosquitto, links))
    with pytest.raises(KeyDeliveryError, match="cam-0002"):
        delivery.deliver(_key(device_id="cam-0002"))
    delivery.deliver(_key(key_id="cd" * 16))
    message = console.wait_for(EVENTS)
    assert console.topics() == [EVENTS]
    assert _received_key(message.payload)[0].key_id == "cd" * 16
