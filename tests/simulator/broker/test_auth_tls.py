"""Password authentication, TLS and mutual TLS against the real broker with paho clients."""

from __future__ import annotations

import ssl

import pytest
from paho.mqtt.enums import MQTTProtocolVersion
from pydantic import SecretStr

from simulator.broker import MosquittoProcess, PasswordEntry, project_acl
from tests.fixtures.broker import BrokerTls, MosquittoFactory, MqttProbe, MqttProbeFactory

PROTOCOLS = [
    pytest.param(MQTTProtocolVersion.MQTTv311, id="mqtt311"),
    pytest.param(MQTTProtocolVersion.MQTTv5, id="mqtt5"),
]
# CONNACK refusals as paho 2 reports them: 0x86 bad user name or password, 0x87 not authorized
# (MQTT 3.1.1 return codes 4 and 5 are mapped onto the same reason codes).
REFUSED = {0x86, 0x87}


@pytest.fixture(scope="module")
def password_broker(mosquitto_module_factory: MosquittoFactory) -> MosquittoProcess:
    return mosquitto_module_factory(
        auth="password",
        passwords=(
            PasswordEntry(username="cam-a", password=SecretStr("correct horse")),
            PasswordEntry(username="svc.responder", password=SecretStr("battery staple")),
        ),
    )


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_password_accepted(
    password_broker: MosquittoProcess,
    mqtt_client_factory: MqttProbeFactory,
    protocol: MQTTProtocolVersion,
) -> None:
    client = mqtt_client_factory(
        password_broker, protocol=protocol, username="cam-a", password="correct horse"
    )
    rc = client.connect()
    assert not rc.is_failure, rc


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(
    ("username", "password"),
    [
        pytest.param("cam-a", "wrong", id="wrong-password"),
        pytest.param("cam-a", "battery staple", id="another-accounts-password"),
        pytest.param("cam-zz", "correct horse", id="unknown-user"),
        pytest.param(None, None, id="anonymous"),
    ],
)
def test_password_rejected(
    password_broker: MosquittoProcess,
    mqtt_client_factory: MqttProbeFactory,
    protocol: MQTTProtocolVersion,
    username: str | None,
    password: str | None,
) -> None:
    client = mqtt_client_factory(
        password_broker, protocol=protocol, username=username, password=password
    )
    rc = client.connect()
    assert rc.is_failure
    assert rc.value in REFUSED, rc


@pytest.fixture(scope="module")
def tls_broker(
    mosquitto_module_factory: MosquittoFactory, broker_tls: BrokerTls
) -> MosquittoProcess:
    return mosquitto_module_factory(tls=broker_tls.server_settings())


@pytest.fixture(scope="module")
def mtls_broker(
    mosquitto_module_factory: MosquittoFactory, broker_tls: BrokerTls
) -> MosquittoProcess:
    return mosquitto_module_factory(tls=broker_tls.server_settings(require_certificate=True))


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_tls_with_the_ca(
    tls_broker: MosquittoProcess,
    mqtt_client_factory: MqttProbeFactory,
    broker_tls: BrokerTls,
    protocol: MQTTProtocolVersion,
) -> None:
    assert tls_broker.url == f"mqtts://127.0.0.1:{tls_broker.port}"
    client = mqtt_client_factory(tls_broker, protocol=protocol, ca_file=broker_tls.ca_file)
    assert not client.connect().is_failure
    client.subscribe("secure/t")
    client.publish("secure/t", b"over tls")
    assert client.wait_for("secure/t").payload == b"over tls"


def test_tls_without_the_ca_is_refused_by_the_client(
    tls_broker: MosquittoProcess, mqtt_client_factory: MqttProbeFactory
) -> None:
    client = mqtt_client_factory(tls_broker)  # system trust store only
    with pytest.raises(ssl.SSLCertVerificationError):
        client.start()


def test_plain_mqtt_on_a_tls_listener_gets_no_connack(
    tls_broker: MosquittoProcess, mqtt_client_factory: MqttProbeFactory
) -> None:
    plain = mqtt_client_factory(tls_broker, tls=False)
    plain.start()
    with pytest.raises(AssertionError, match="no CONNACK"):
        plain.wait_connack()
    assert plain.disconnected.is_set(), "the broker must close the connection, not stall"


def _rejected(client: MqttProbe) -> bool:
    """True if the broker refused the TLS session (in the handshake or right after it)."""
    try:
        client.start()
    except (ssl.SSLError, ConnectionError):
        return True
    try:
        client.wait_connack()
    except AssertionError:
        return True
    return False


def test_mutual_tls_accepts_a_client_certificate(
    mtls_broker: MosquittoProcess, mqtt_client_factory: MqttProbeFactory, broker_tls: BrokerTls
) -> None:
    client = mqtt_client_factory(
        mtls_broker, ca_file=broker_tls.ca_file, client_cert=broker_tls.clients["cam-a"]
    )
    assert not client.connect().is_failure


@pytest.mark.parametrize("cert", ["none", "untrusted"])
def test_mutual_tls_refuses_clients_without_a_trusted_certificate(
    mtls_broker: MosquittoProcess,
    mqtt_client_factory: MqttProbeFactory,
    broker_tls: BrokerTls,
    cert: str,
) -> None:
    client_cert = broker_tls.untrusted_client if cert == "untrusted" else None
    client = mqtt_client_factory(mtls_broker, ca_file=broker_tls.ca_file, client_cert=client_cert)
    assert _rejected(client)
    assert client.connack is None


def test_certificate_identity_is_the_acl_username(
    mosquitto_factory: MosquittoFactory,
    mqtt_client_factory: MqttProbeFactory,
    broker_tls: BrokerTls,
) -> None:
    broker = mosquitto_factory(
        auth="password",
        acl=project_acl(),
        tls=broker_tls.server_settings(require_certificate=True, use_identity_as_username=True),
    )
    clients = broker_tls.clients
    cam_a = mqtt_client_factory(broker, ca_file=broker_tls.ca_file, client_cert=clients["cam-a"])
    responder = mqtt_client_factory(
        broker, ca_file=broker_tls.ca_file, client_cert=clients["svc.responder"]
    )
    assert not cam_a.connect().is_failure
    assert not responder.connect().is_failure
    responder.subscribe("ossmedia/v1/+/creds/req")
    cam_a.publish("ossmedia/v1/cam-b/creds/req", b"forged")  # CN cam-a may not speak for cam-b
    cam_a.publish("ossmedia/v1/cam-a/creds/req", b"own")
    responder.wait_for("ossmedia/v1/cam-a/creds/req", b"own")
    assert responder.received("ossmedia/v1/cam-b/creds/req") == []
