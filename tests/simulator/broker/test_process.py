"""MosquittoProcess against the real broker: start, pub/sub, stop, restart, failures."""

from __future__ import annotations

import itertools
import os
import pwd
import socket
from pathlib import Path

import pytest
from paho.mqtt.enums import MQTTProtocolVersion

from simulator.broker import (
    BrokerError,
    BrokerStartError,
    MosquittoProcess,
    MosquittoSettings,
    pick_free_port,
    running_mosquitto,
)
from tests.fixtures.broker import MosquittoFactory, MqttProbeFactory

PROTOCOLS = [
    pytest.param(MQTTProtocolVersion.MQTTv311, id="mqtt311"),
    pytest.param(MQTTProtocolVersion.MQTTv5, id="mqtt5"),
]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_anonymous_pubsub(
    mosquitto: MosquittoProcess,
    mqtt_client_factory: MqttProbeFactory,
    protocol: MQTTProtocolVersion,
) -> None:
    sub = mqtt_client_factory(mosquitto, protocol=protocol)
    pub = mqtt_client_factory(mosquitto, protocol=protocol)
    assert not sub.connect().is_failure
    assert not pub.connect().is_failure
    assert [rc.value for rc in sub.subscribe("t/+", qos=1)] == [1]
    assert not pub.publish("t/1", b"hello", qos=1).is_failure
    message = sub.wait_for("t/1")
    assert (message.payload, message.qos) == (b"hello", 1)


def test_url_and_state(mosquitto: MosquittoProcess) -> None:
    assert mosquitto.running
    assert mosquitto.pid is not None
    assert mosquitto.port > 0
    assert mosquitto.url == f"mqtt://127.0.0.1:{mosquitto.port}"
    assert str(mosquitto.port) in repr(mosquitto)
    assert "running" in mosquitto.log_tail()
    mosquitto.stop()
    mosquitto.stop()  # idempotent
    assert not mosquitto.running
    assert mosquitto.pid is None
    assert "terminating" in mosquitto.log_tail()


def test_start_twice_is_refused(mosquitto: MosquittoProcess) -> None:
    with pytest.raises(BrokerError, match="already running"):
        mosquitto.start()


@pytest.mark.parametrize("crash", [False, True], ids=["clean", "crash"])
def test_restart_keeps_the_port_and_clients_come_back(
    mosquitto: MosquittoProcess, mqtt_client_factory: MqttProbeFactory, crash: bool
) -> None:
    port, old_pid = mosquitto.port, mosquitto.pid
    first = mqtt_client_factory(mosquitto)
    assert not first.connect().is_failure
    mosquitto.restart(crash=crash)
    assert mosquitto.port == port
    assert mosquitto.pid not in (None, old_pid)
    assert first.disconnected.wait(5), "the old connection must be gone after a restart"
    sub = mqtt_client_factory(mosquitto)
    pub = mqtt_client_factory(mosquitto)
    assert not sub.connect().is_failure
    assert not pub.connect().is_failure
    sub.subscribe("after/restart")
    pub.publish("after/restart", b"x")
    assert sub.wait_for("after/restart").payload == b"x"


def test_restart_with_persistence_keeps_retained_messages(
    mosquitto_factory: MosquittoFactory, mqtt_client_factory: MqttProbeFactory
) -> None:
    broker = mosquitto_factory(persistence=True)
    pub = mqtt_client_factory(broker)
    pub.connect()
    pub.publish("status/cam", b"online", retain=True)
    pub.close()
    broker.restart()  # a clean stop saves the in-memory database
    sub = mqtt_client_factory(broker)
    sub.connect()
    sub.subscribe("status/+")
    message = sub.wait_for("status/cam")
    assert (message.payload, message.retain) == (b"online", True)


def test_restart_on_a_taken_port_fails_with_the_log(mosquitto: MosquittoProcess) -> None:
    port = mosquitto.port
    mosquitto.stop()
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        with pytest.raises(BrokerStartError) as info:
            mosquitto.start()
    assert info.value.port == port
    assert mosquitto.port == port, "a restart must never move to another port"
    assert info.value.returncode not in (None, 0)
    assert "Address already in use" in info.value.log_tail
    assert "Address already in use" in str(info.value)


def test_fixed_port_and_context_manager(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with running_mosquitto(MosquittoSettings(port=port), tmp_path) as broker:
        assert broker.url == f"mqtt://127.0.0.1:{port}"
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    assert not broker.running


def test_broken_configuration_reports_the_log(tmp_path: Path) -> None:
    missing = tmp_path / "missing-ca.pem"
    settings = MosquittoSettings.model_validate(
        {"tls": {"certfile": missing, "keyfile": missing, "cafile": missing}}
    )
    broker = MosquittoProcess(settings, tmp_path)
    with pytest.raises(BrokerStartError, match="exited during start-up") as info:
        broker.start()
    assert info.value.log_tail, "the error must carry what mosquitto said"
    assert not broker.running


def test_startup_timeout_kills_a_broker_that_never_answers_tls(tmp_path: Path) -> None:
    # The settings promise TLS but the hand-written config serves plain MQTT on that port: the
    # TLS probe never succeeds, and the injected clock runs the timeout out without waiting.
    port = pick_free_port()
    config = tmp_path / "plain.conf"
    config.write_text(
        f"user {pwd.getpwuid(os.geteuid()).pw_name}\n"
        f"log_dest stderr\nallow_anonymous true\nlistener {port} 127.0.0.1\n"
    )
    settings = MosquittoSettings.model_validate(
        {"port": port, "tls": {"certfile": tmp_path / "c", "keyfile": tmp_path / "k"}}
    )
    ticks = itertools.count()
    naps: list[float] = []
    broker = MosquittoProcess(
        settings,
        tmp_path / "run",
        config_file=config,
        startup_timeout=3,
        clock=lambda: float(next(ticks)),
        sleep=naps.append,
    )
    with pytest.raises(BrokerStartError, match="did not accept connections within 3 s") as info:
        broker.start()
    assert info.value.returncode is None
    assert naps, "the readiness loop must pause through the injected sleep"
    assert not broker.running
    assert "running" in info.value.log_tail


def test_hand_written_config_needs_a_port(tmp_path: Path) -> None:
    with pytest.raises(BrokerError, match=r"needs settings\.port"):
        MosquittoProcess(MosquittoSettings(), tmp_path, config_file=tmp_path / "x.conf")
