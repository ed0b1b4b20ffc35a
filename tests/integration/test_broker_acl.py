"""The project ACL enforced by a real Mosquitto, seen through real paho clients.

Topics come from ``schemas.topics`` so the ACL is checked against the protocol's own builders.

Proving that something did *not* arrive needs a barrier, never a sleep. Two kinds are used:

* Same publisher: MQTT keeps one publisher's messages in order towards each subscriber, so
  once a later, allowed message from that publisher has arrived, an earlier forbidden one
  would already have arrived.
* Across publishers: Mosquitto handles packets on one thread and routes a PUBLISH to every
  subscriber's outgoing queue before it sends the PUBACK. So once publisher X holds its PUBACK,
  anything another client publishes afterwards reaches a given subscriber after X's message.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from paho.mqtt.enums import MQTTProtocolVersion
from pydantic import SecretStr

from schemas.topics import Topics
from simulator.broker import MosquittoProcess, PasswordEntry, project_acl
from tests.fixtures.broker import MosquittoFactory, MqttProbe, MqttProbeFactory

T = Topics()  # default prefix "ossmedia", the same default as project_acl()
RESPONDER = "svc.responder"
CONSOLE = "svc.console"
ACCOUNTS = ("cam-a", "cam-b", RESPONDER, CONSOLE)
GRANTED_OR_REFUSED = {0, 1, 0x80, 0x87}  # granted QoS, or "failure" / "not authorized"
NOT_AUTHORIZED = 0x87

PROTOCOLS = [
    pytest.param(MQTTProtocolVersion.MQTTv311, id="mqtt311"),
    pytest.param(MQTTProtocolVersion.MQTTv5, id="mqtt5"),
]

Connect = Callable[..., MqttProbe]


def _password(user: str) -> str:
    return f"pw-{user}-0123456789"


@pytest.fixture
def acl_broker(mosquitto_factory: MosquittoFactory) -> MosquittoProcess:
    """A fresh broker per test, so retained messages never leak between tests."""
    return mosquitto_factory(
        auth="password",
        passwords=tuple(
            PasswordEntry(username=user, password=SecretStr(_password(user))) for user in ACCOUNTS
        ),
        acl=project_acl(),
    )


@pytest.fixture(params=PROTOCOLS)
def connect(
    request: pytest.FixtureRequest,
    acl_broker: MosquittoProcess,
    mqtt_client_factory: MqttProbeFactory,
) -> Connect:
    """``connect(user, **kwargs)``: a connected client of that account (protocol from params)."""
    protocol: MQTTProtocolVersion = request.param

    def make(user: str, **kwargs: object) -> MqttProbe:
        client = mqtt_client_factory(
            acl_broker, protocol=protocol, username=user, password=_password(user), **kwargs
        )
        rc = client.connect()
        assert not rc.is_failure, (user, rc)
        return client

    return make


def _is_v5(client: MqttProbe) -> bool:
    return client.protocol == MQTTProtocolVersion.MQTTv5


def _assert_publish_denied_code(client: MqttProbe, code: int) -> None:
    # MQTT 3.1.1 cannot report "not authorised" in a PUBACK: the broker acknowledges and drops.
    assert code == (NOT_AUTHORIZED if _is_v5(client) else 0)


def test_camera_cannot_receive_another_cameras_replies(connect: Connect) -> None:
    cam_a, cam_b, responder = connect("cam-a"), connect("cam-b"), connect(RESPONDER)
    codes = [
        *cam_a.subscribe(T.creds_res("cam-b")),
        *cam_a.subscribe("ossmedia/v1/+/creds/res"),
        *cam_a.subscribe("#"),
    ]
    # Mosquitto 2.0 grants these SUBSCRIBEs and filters at delivery; refusing them would be
    # just as safe, so either is accepted. What matters is what gets delivered.
    assert {code.value for code in codes} <= GRANTED_OR_REFUSED
    cam_a.subscribe(T.creds_res("cam-a"))
    cam_b.subscribe(T.creds_res("cam-b"))

    responder.publish(T.creds_res("cam-b"), b"sealed-for-b")
    responder.publish(T.creds_res("cam-a"), b"sealed-for-a")  # barrier, same publisher

    assert cam_b.wait_for(T.creds_res("cam-b")).payload == b"sealed-for-b"
    cam_a.wait_for(T.creds_res("cam-a"), b"sealed-for-a")
    assert cam_a.received(T.creds_res("cam-b")) == []
    assert {m.topic for m in cam_a.messages} == {T.creds_res("cam-a")}


def test_camera_cannot_publish_as_another_camera(connect: Connect) -> None:
    cam_a, responder, console = connect("cam-a"), connect(RESPONDER), connect(CONSOLE)
    responder.subscribe(T.creds_req_subscription())
    console.subscribe(T.events_subscription())
    console.subscribe(T.status_subscription())

    for topic, retain in (
        (T.creds_req("cam-b"), False),
        (T.events("cam-b"), False),
        (T.status("cam-b"), True),
    ):
        _assert_publish_denied_code(cam_a, cam_a.publish(topic, b"forged", retain=retain).value)
    # Barriers from the same publisher on topics each observer may read.
    assert not cam_a.publish(T.creds_req("cam-a"), b"own-request").is_failure
    assert not cam_a.publish(T.events("cam-a"), b"own-event").is_failure

    responder.wait_for(T.creds_req("cam-a"), b"own-request")
    console.wait_for(T.events("cam-a"), b"own-event")
    assert responder.topics() == [T.creds_req("cam-a")]
    assert console.received(T.events("cam-b")) == []
    assert console.received(T.status("cam-b")) == []


def test_camera_cannot_read_other_cameras_traffic(connect: Connect) -> None:
    cam_a, cam_b, responder = connect("cam-a"), connect("cam-b"), connect(RESPONDER)
    console = connect(CONSOLE)
    for topic in ("ossmedia/v1/+/creds/req", "ossmedia/v1/+/events", "ossmedia/v1/+/status", "#"):
        assert {code.value for code in cam_a.subscribe(topic)} <= GRANTED_OR_REFUSED
    cam_a.subscribe(T.creds_res("cam-a"))
    responder.subscribe(T.creds_req_subscription())
    console.subscribe(T.events_subscription())

    # cam-b's messages are routed before their PUBACKs come back ...
    cam_b.publish(T.creds_req("cam-b"), b"b-request")
    cam_b.publish(T.events("cam-b"), b"b-event")
    cam_b.publish(T.status("cam-b"), b"b-online", retain=True)
    # ... so this later reply to cam-a is a barrier for everything cam-b sent.
    responder.publish(T.creds_res("cam-a"), b"sealed-for-a")

    cam_a.wait_for(T.creds_res("cam-a"))
    responder.wait_for(T.creds_req("cam-b"))  # they were really delivered to whoever may read
    console.wait_for(T.events("cam-b"))
    assert {m.topic for m in cam_a.messages} == {T.creds_res("cam-a")}


def test_responders_share_requests_and_answer_only_the_asker(connect: Connect) -> None:
    group = T.creds_req_subscription(shared_group="responders")
    assert group.startswith("$share/responders/")
    shared = threading.Condition()
    workers = [connect(RESPONDER, client_id=f"responder-{n}", condition=shared) for n in range(2)]
    for worker in workers:
        assert [code.value for code in worker.subscribe(group)] == [1]
    cam_a, cam_b = connect("cam-a"), connect("cam-b")
    cam_a.subscribe("ossmedia/v1/+/creds/res")  # a wildcard on purpose: the ACL must filter
    cam_b.subscribe(T.creds_res("cam-b"))

    expected = []
    for n in range(10):
        for name, camera in (("cam-a", cam_a), ("cam-b", cam_b)):
            payload = f"req-{name}-{n}".encode()
            camera.publish(T.creds_req(name), payload)
            expected.append((T.creds_req(name), payload))

    def delivered() -> list[tuple[str, bytes]]:
        return [(m.topic, m.payload) for worker in workers for m in worker.messages]

    workers[0].wait_until(lambda: len(delivered()) >= len(expected))
    assert sorted(delivered()) == sorted(expected), "each request reaches exactly one responder"
    assert all(worker.messages for worker in workers), "the group shares the load"

    replier = workers[1]
    replier.publish(T.creds_res("cam-b"), b"sealed-for-b")
    replier.publish(T.creds_res("cam-a"), b"sealed-for-a")  # barrier, same publisher
    cam_b.wait_for(T.creds_res("cam-b"), b"sealed-for-b")
    cam_a.wait_for(T.creds_res("cam-a"), b"sealed-for-a")
    assert [m.payload for m in cam_a.messages] == [b"sealed-for-a"]


def test_services_cannot_impersonate_cameras(connect: Connect) -> None:
    responder, console, cam_a = connect(RESPONDER), connect(CONSOLE), connect("cam-a")
    watcher = connect(RESPONDER, client_id="watcher")
    watcher.subscribe(T.creds_req_subscription())
    console.subscribe(T.events_subscription())
    console.subscribe(T.status_subscription())
    cam_a.subscribe(T.creds_res("cam-a"))

    for topic in (T.creds_req("cam-a"), T.events("cam-a"), T.status("cam-a")):
        _assert_publish_denied_code(responder, responder.publish(topic, b"forged").value)
    _assert_publish_denied_code(console, console.publish(T.creds_res("cam-a"), b"forged").value)
    # After those PUBACKs, cam-a's own messages are barriers for every observer.
    cam_a.publish(T.creds_req("cam-a"), b"real-request")
    cam_a.publish(T.events("cam-a"), b"real-event")
    responder.publish(T.creds_res("cam-a"), b"real-reply")

    watcher.wait_for(T.creds_req("cam-a"), b"real-request")
    console.wait_for(T.events("cam-a"), b"real-event")
    cam_a.wait_for(T.creds_res("cam-a"), b"real-reply")
    assert [m.payload for m in watcher.messages] == [b"real-request"]
    assert [m.payload for m in console.messages] == [b"real-event"]
    assert [m.payload for m in cam_a.messages] == [b"real-reply"]


def test_console_reads_events_and_status_but_no_credentials(connect: Connect) -> None:
    console, cam_a, responder = connect(CONSOLE), connect("cam-a"), connect(RESPONDER)
    console.subscribe("ossmedia/v1/#")
    cam_a.subscribe(T.creds_res("cam-a"))

    cam_a.publish(T.creds_req("cam-a"), b"request")
    responder.publish(T.creds_res("cam-a"), b"sealed-reply")
    cam_a.wait_for(T.creds_res("cam-a"))
    cam_a.publish(T.status("cam-a"), b"online", retain=True)
    cam_a.publish(T.events("cam-a"), b"segment.closed")  # barrier

    console.wait_for(T.events("cam-a"), b"segment.closed")
    assert [(m.topic, m.payload) for m in console.messages] == [
        (T.status("cam-a"), b"online"),
        (T.events("cam-a"), b"segment.closed"),
    ]
    late = connect(CONSOLE, client_id="late-console")
    late.subscribe(T.status_subscription())
    retained = late.wait_for(T.status("cam-a"))
    assert (retained.payload, retained.retain) == (b"online", True)


def test_last_will_on_own_status_reaches_the_console(connect: Connect) -> None:
    console = connect(CONSOLE)
    console.subscribe(T.status_subscription())
    camera = connect("cam-a", will=(T.status("cam-a"), b"offline", 1, True))
    camera.drop()  # no DISCONNECT: the broker must publish the will
    console.wait_for(T.status("cam-a"), b"offline")


@pytest.mark.parametrize(
    ("will_device", "delivered"), [("cam-a", True), ("cam-b", False)], ids=["own", "forged"]
)
def test_last_will_is_checked_against_the_acl(
    connect: Connect, will_device: str, delivered: bool
) -> None:
    console = connect(CONSOLE)
    console.subscribe(T.status_subscription())
    # Mosquitto 2.0 accepts the CONNECT and checks the will's topic when it publishes it.
    first = connect(
        "cam-a", client_id="cam-a-will", will=(T.status(will_device), b"offline", 1, False)
    )
    # Taking the session over (same client id, clean start) makes the broker publish the old
    # connection's will while it handles this CONNECT, i.e. before it sends our CONNACK.
    second = connect("cam-a", client_id="cam-a-will")
    assert first.disconnected.wait(5), "the old connection must be taken over"
    second.publish(T.status("cam-a"), b"back")  # barrier
    console.wait_for(T.status("cam-a"), b"back")
    statuses = [(m.topic, m.payload) for m in console.messages]
    if delivered:
        assert statuses == [(T.status("cam-a"), b"offline"), (T.status("cam-a"), b"back")]
    else:
        assert statuses == [(T.status("cam-a"), b"back")]
