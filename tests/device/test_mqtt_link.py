"""The MQTT link on real Mosquitto: TLS, mTLS, passwords, reconnect, resubscribe, will, scale."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from device.errors import LinkError
from device.mqtt import MqttLink, SelectorLoop
from device.settings import BrokerSettings
from simulator.broker import MosquittoProcess, PasswordEntry
from tests.fixtures.broker import BrokerTls, MosquittoFactory, MqttProbeFactory

REPO = Path(__file__).resolve().parents[2]
WAIT = 10.0


class Inbox:
    """Collects messages delivered to a link (on its loop thread)."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.messages: list[tuple[str, bytes]] = []

    def __call__(self, topic: str, payload: bytes) -> None:
        with self.cond:
            self.messages.append((topic, payload))
            self.cond.notify_all()

    def wait_for(self, topic: str, payload: bytes, timeout: float = WAIT) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: (topic, payload) in self.messages, timeout)


@pytest.fixture
def links() -> Iterator[list[MqttLink]]:
    started: list[MqttLink] = []
    yield started
    for link in started:
        link.stop()


def settings_for(broker: MosquittoProcess, **kwargs: object) -> BrokerSettings:
    scheme = "mqtts" if broker.settings.tls is not None else "mqtt"
    return BrokerSettings.model_validate(
        {"url": f"{scheme}://{broker.host}:{broker.port}", "reconnect_initial_s": 0.05,
         "reconnect_max_s": 0.5, **kwargs}
    )  # fmt: skip


def test_connects_subscribes_and_sets_tcp_nodelay(
    mosquitto: MosquittoProcess, mqtt_client_factory: MqttProbeFactory, links: list[MqttLink]
) -> None:
    inbox = Inbox()
    link = MqttLink(
        settings_for(mosquitto), client_id="cam-a", subscriptions=["t/cam-a/in"], on_message=inbox
    )
    links.append(link)
    link.start()
    assert link.wait_connected(WAIT)
    assert link.tcp_nodelay() is True

    probe = mqtt_client_factory(mosquitto)
    probe.connect()
    probe.subscribe("t/cam-a/out")
    assert link.publish("t/cam-a/out", b"hello").wait(WAIT)
    probe.wait_for("t/cam-a/out", b"hello")
    # The link subscribes after CONNACK; publish until the subscription is in place.
    for _ in range(50):
        probe.publish("t/cam-a/in", b"ping")
        if inbox.wait_for("t/cam-a/in", b"ping", timeout=0.1):
            break
    assert inbox.wait_for("t/cam-a/in", b"ping")


def test_reconnects_and_resubscribes_after_broker_restart(
    mosquitto: MosquittoProcess, mqtt_client_factory: MqttProbeFactory, links: list[MqttLink]
) -> None:
    inbox = Inbox()
    connected = threading.Semaphore(0)
    link = MqttLink(
        settings_for(mosquitto),
        client_id="cam-r",
        subscriptions=["t/cam-r/in"],
        on_message=inbox,
        on_connect=connected.release,
    )
    links.append(link)
    link.start()
    assert connected.acquire(timeout=WAIT)

    mosquitto.restart()
    assert connected.acquire(timeout=WAIT), link.last_error
    assert link.connects == 2
    assert link.disconnects == 1

    probe = mqtt_client_factory(mosquitto)
    probe.connect()
    for _ in range(50):
        probe.publish("t/cam-r/in", b"after restart")
        if inbox.wait_for("t/cam-r/in", b"after restart", timeout=0.1):
            break
    assert inbox.wait_for("t/cam-r/in", b"after restart")


def test_queued_qos1_message_is_delivered_once_the_broker_is_back(
    mosquitto: MosquittoProcess, mqtt_client_factory: MqttProbeFactory, links: list[MqttLink]
) -> None:
    link = MqttLink(settings_for(mosquitto), client_id="cam-q")
    links.append(link)
    link.start()
    assert link.wait_connected(WAIT)
    mosquitto.stop()
    assert link.wait_disconnected(WAIT)
    publication = link.publish("t/cam-q/status", b"queued", retain=True)
    assert not publication.acknowledged
    mosquitto.start()
    assert publication.wait(WAIT)
    probe = mqtt_client_factory(mosquitto)
    probe.connect()
    probe.subscribe("t/cam-q/status")
    assert probe.wait_for("t/cam-q/status", b"queued").retain


def test_last_will_is_published_when_the_camera_dies(
    mosquitto: MosquittoProcess, mqtt_client_factory: MqttProbeFactory
) -> None:
    probe = mqtt_client_factory(mosquitto)
    probe.connect()
    probe.subscribe("t/cam-w/status")
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.device.link_child", mosquitto.host, str(mosquitto.port),
         "cam-w", "t/cam-w/status"],
        cwd=REPO, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "connected"
        child.kill()
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
        if child.stdout is not None:
            child.stdout.close()
    message = probe.wait_for("t/cam-w/status", b"offline")
    assert message.qos == 1


def test_clean_stop_does_not_publish_the_will(
    mosquitto: MosquittoProcess, mqtt_client_factory: MqttProbeFactory
) -> None:
    probe = mqtt_client_factory(mosquitto)
    probe.connect()
    probe.subscribe("t/cam-s/status")
    link = MqttLink(
        settings_for(mosquitto), client_id="cam-s", will=lambda: ("t/cam-s/status", b"offline")
    )
    link.start()
    assert link.wait_connected(WAIT)
    assert link.publish("t/cam-s/status", b"bye").wait(WAIT)
    link.stop()
    probe.wait_for("t/cam-s/status", b"bye")
    # A marker published after the stop arrives after anything the broker would have sent.
    probe.publish("t/cam-s/status", b"marker")
    probe.wait_for("t/cam-s/status", b"marker")
    assert [m.payload for m in probe.received("t/cam-s/status")] == [b"bye", b"marker"]


def test_password_authentication(
    mosquitto_factory: MosquittoFactory, links: list[MqttLink]
) -> None:
    broker = mosquitto_factory(
        auth="password",
        passwords=(PasswordEntry(username="cam-p", password=SecretStr("right horse")),),
    )
    good = MqttLink(
        settings_for(broker, username="cam-p", password="right horse"), client_id="cam-p"
    )
    bad = MqttLink(settings_for(broker, username="cam-p", password="wrong"), client_id="cam-x")
    links.extend([good, bad])
    good.start()
    bad.start()
    assert good.wait_connected(WAIT)
    assert not bad.wait_connected(1.0)
    assert bad.last_error is not None
    assert "wrong" not in repr(settings_for(broker, username="cam-p", password="wrong"))


@pytest.mark.parametrize("mutual", [False, True], ids=["tls", "mtls"])
def test_tls_and_mutual_tls(
    mosquitto_factory: MosquittoFactory,
    broker_tls: BrokerTls,
    links: list[MqttLink],
    mutual: bool,
) -> None:
    broker = mosquitto_factory(tls=broker_tls.server_settings(require_certificate=mutual))
    extra: dict[str, object] = {"ca_file": broker_tls.ca_file}
    if mutual:
        cert = broker_tls.clients["cam-a"]
        extra |= {"cert_file": cert.certfile, "key_file": cert.keyfile}
    link = MqttLink(settings_for(broker, **extra), client_id="cam-a")
    links.append(link)
    link.start()
    assert link.wait_connected(WAIT), link.last_error
    assert link.publish("t/tls", b"x").wait(WAIT)
    if mutual:  # without a client certificate the handshake fails
        anonymous = MqttLink(settings_for(broker, ca_file=broker_tls.ca_file), client_id="cam-b")
        links.append(anonymous)
        anonymous.start()
        assert not anonymous.wait_connected(1.0)


def test_unreadable_tls_material_is_a_link_error(tmp_path: Path) -> None:
    settings = BrokerSettings(url="mqtts://127.0.0.1:1", ca_file=tmp_path / "missing.pem")
    with pytest.raises(LinkError) as info:
        MqttLink(settings, client_id="cam-t")
    assert info.value.code == "tls"


def test_one_selector_loop_drives_more_clients_than_select_can(
    mosquitto: MosquittoProcess, mqtt_client_factory: MqttProbeFactory
) -> None:
    """1,100 links on one thread: their descriptors pass 1024, where select() would fail."""
    loop = SelectorLoop(name="fleet")
    loop.start()
    inbox = Inbox()
    fleet = [
        MqttLink(
            settings_for(mosquitto, keepalive_s=60),
            client_id=f"cam-{i:04d}",
            subscriptions=[f"t/cam-{i:04d}/in"],
            on_message=inbox,
            loop=loop,
        )
        for i in range(1100)
    ]
    try:
        for link in fleet:
            link.start()
        assert all(link.wait_connected(30) for link in fleet)
        assert max(link.fileno() or 0 for link in fleet) > 1024
        acks = [link.publish(f"t/cam-{i:04d}/in", b"self") for i, link in enumerate(fleet)]
        assert all(ack.wait(30) for ack in acks)
        with inbox.cond:
            assert inbox.cond.wait_for(lambda: len(inbox.messages) == len(fleet), 30)
    finally:
        # Ask every link to disconnect at once, then wait for each: stopping the loop before
        # they are done would leak 1,100 sockets into later tests, pushing their descriptors
        # past select()'s limit.
        for link in fleet:
            link.stop(timeout=0.0)
        for link in fleet:
            link.wait_disconnected(30)
        loop.stop()
    assert all(link.fileno() is None for link in fleet)
