"""deploy/mosquitto: the ACL cannot drift from the generator, and the config really runs.

The production ``mosquitto.conf`` is started by a real Mosquitto with only its machine-specific
values swapped (ports, loopback binds, certificate / password / ACL / plugin / persistence
paths, and the run-as user); every other directive is used exactly as shipped. Camera
accounts are created the way ``ossmedia devices add`` creates them, through the
dynamic-security plugin's control topic.
"""

from __future__ import annotations

import io
import json
import threading
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import MQTTProtocolVersion
from pydantic import SecretStr

from cloud.registry import cli as devices_cli
from cloud.registry.broker_accounts import AccountState, BrokerAdminSettings, DynsecAccounts
from cloud.registry.secrets import new_master_key
from schemas.ids import DeviceId
from schemas.topics import Topics
from simulator.broker import (
    MosquittoProcess,
    project_acl,
)
from simulator.broker.deployed import adapt_deploy_config
from tests.fixtures.broker import BrokerTls, MqttProbe, MqttProbeFactory

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "mosquitto"
CAMERAS = {"cam-a": "camera-a-password", "cam-b": "camera-b-password"}
SERVICES = {"svc.responder": "responder-password", "svc.console": "console-password"}
ACCOUNTS = {**CAMERAS, **SERVICES}
ADMIN = ("svc.provisioner", "provisioner-password")
# Every machine-specific directive of deploy/mosquitto/mosquitto.conf; nothing else changes.
REPLACED = (
    "listener",
    "plugin",
    "plugin_opt_config_file",
    "password_file",
    "acl_file",
    "persistence_location",
    "certfile",
    "keyfile",
    "cafile",
)


def _directives(text: str) -> list[tuple[str, str]]:
    pairs = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            key, _, value = stripped.partition(" ")
            pairs.append((key, value.strip()))
    return pairs


def _listener_sections(pairs: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    sections: list[list[tuple[str, str]]] = []
    for key, value in pairs:
        if key == "listener":
            sections.append([])
        if sections:
            sections[-1].append((key, value))
    return sections


def test_deploy_acl_is_the_generated_acl() -> None:
    assert (DEPLOY / "acl").read_text(encoding="utf-8") == project_acl(cameras=False).render()


def test_deploy_config_choices() -> None:
    pairs = _directives((DEPLOY / "mosquitto.conf").read_text(encoding="utf-8"))
    general = pairs[: [key for key, _ in pairs].index("listener")]
    for expected in [
        ("per_listener_settings", "true"),
        ("set_tcp_nodelay", "true"),
        ("persistence", "true"),
        ("max_packet_size", "65536"),
    ]:
        assert expected in general
    cameras, services = _listener_sections(pairs)
    assert cameras[0] == ("listener", "8883")
    assert ("use_username_as_clientid", "true") in cameras
    assert ("require_certificate", "false") in cameras
    # Cameras only in the plugin (which refuses SUBSCRIBEs), never in the password file.
    camera_keys = {key for key, _ in cameras}
    assert {"plugin", "plugin_opt_config_file"} <= camera_keys
    assert not {"password_file", "acl_file"} & camera_keys
    for section in (cameras, services):
        assert ("allow_anonymous", "false") in section
        assert ("protocol", "mqtt") in section
        assert ("tls_version", "tlsv1.2") in section
        assert {key for key, _ in section} >= {"certfile", "keyfile"}
    assert services[0] == ("listener", "8884 127.0.0.1")
    assert ("password_file", "/etc/mosquitto/ossmedia/passwd") in services
    assert ("acl_file", "/etc/mosquitto/ossmedia/acl") in services
    assert not {"use_username_as_clientid", "plugin"} & {key for key, _ in services}


def admin_accounts(broker: MosquittoProcess, tls: BrokerTls) -> DynsecAccounts:
    """The camera accounts of the running deploy config, as ``ossmedia devices`` reaches them."""
    admin = BrokerAdminSettings(
        url=broker.url, username=ADMIN[0], password=SecretStr(ADMIN[1]), ca_file=tls.ca_file
    )
    return DynsecAccounts(admin, topics=Topics())


def _devices_cli(broker: MosquittoProcess, tls: BrokerTls, tmp_path: Path) -> Callable[..., str]:
    """``ossmedia devices`` with a fresh registry and the deploy broker's provisioner; each
    call must succeed and returns what the command printed."""
    environ = {
        "OSSMEDIA_MASTER_KEY": new_master_key(),
        "OSSMEDIA_REGISTRY_URL": f"sqlite:///{tmp_path / 'registry.db'}",
        "OSSMEDIA_PROVISIONER_PASSWORD": ADMIN[1],
        "OSSMEDIA_PROVISIONING_BROKER_URL": broker.url,
    }
    admin = ["--provisioner-url", broker.url, "--provisioner-ca-file", str(tls.ca_file)]

    def devices(*argv: str) -> str:
        out, err = io.StringIO(), io.StringIO()
        assert devices_cli.run([*admin, *argv], environ, out, err) == 0, err.getvalue()
        return out.getvalue()

    return devices


@pytest.fixture
def deployed(tmp_path: Path, broker_tls: BrokerTls) -> Iterator[tuple[MosquittoProcess, int]]:
    """The deploy config running on free ports with cam-a and cam-b provisioned: the broker
    (camera listener) and the service port."""
    adapted = adapt_deploy_config(
        tmp_path, services=SERVICES, admins=dict([ADMIN]), tls=broker_tls.server_settings()
    )
    assert sorted(set(adapted.replaced)) == sorted(REPLACED), adapted.replaced
    broker = adapted.process(tmp_path / "run")
    broker.start()
    accounts = admin_accounts(broker, broker_tls)
    for camera, password in CAMERAS.items():
        accounts.ensure(DeviceId(camera), password)
    yield broker, adapted.service_port
    broker.stop()


def test_deploy_config_runs_the_protocol(
    deployed: tuple[MosquittoProcess, int],
    mqtt_client_factory: MqttProbeFactory,
    broker_tls: BrokerTls,
) -> None:
    broker, service_port = deployed
    assert broker.url == f"mqtts://127.0.0.1:{broker.port}"

    def login(user: str, port: int | None = None, **kwargs: object) -> MqttProbe:
        return mqtt_client_factory(
            broker,
            username=user,
            password=ACCOUNTS.get(user, "nope"),
            ca_file=broker_tls.ca_file,
            port=port,
            **kwargs,
        )

    anonymous = mqtt_client_factory(broker, ca_file=broker_tls.ca_file)
    assert anonymous.connect().is_failure
    # Camera accounts do not exist on the service listener, service accounts not on the
    # camera listener.
    assert login("cam-a", service_port, client_id="cam-a").connect().is_failure
    assert login("svc.responder", client_id="responder-x").connect().is_failure

    responder = login("svc.responder", service_port, client_id="responder-1")
    assert not responder.connect().is_failure
    responder.subscribe("$share/responders/ossmedia/v1/+/creds/req")
    cam_a = login("cam-a", client_id="shared-id")
    assert not cam_a.connect().is_failure
    cam_a.subscribe("ossmedia/v1/cam-a/creds/res")

    cam_a.publish("ossmedia/v1/cam-a/creds/req", b"request")
    responder.wait_for("ossmedia/v1/cam-a/creds/req", b"request")
    responder.publish("ossmedia/v1/cam-a/creds/res", b"sealed")
    cam_a.wait_for("ossmedia/v1/cam-a/creds/res", b"sealed")

    # cam-b reusing cam-a's client id gets its username as client id instead: no takeover.
    cam_b = login("cam-b", client_id="shared-id")
    assert not cam_b.connect().is_failure
    assert not cam_a.publish("ossmedia/v1/cam-a/events", b"still here").is_failure
    assert not cam_a.disconnected.is_set()


def test_deploy_config_keeps_retained_status_across_a_restart(
    deployed: tuple[MosquittoProcess, int],
    mqtt_client_factory: MqttProbeFactory,
    broker_tls: BrokerTls,
) -> None:
    broker, service_port = deployed
    cam_a = mqtt_client_factory(
        broker, username="cam-a", password=ACCOUNTS["cam-a"], ca_file=broker_tls.ca_file
    )
    assert not cam_a.connect().is_failure
    cam_a.publish("ossmedia/v1/cam-a/status", b"online", retain=True)
    cam_a.close()
    broker.restart()
    console = mqtt_client_factory(
        broker,
        username="svc.console",
        password=ACCOUNTS["svc.console"],
        ca_file=broker_tls.ca_file,
        port=service_port,
    )
    assert not console.connect().is_failure
    console.subscribe("ossmedia/v1/+/status")
    status = console.wait_for("ossmedia/v1/cam-a/status")
    assert (status.payload, status.retain) == (b"online", True)


class _Responder:
    """A responder stand-in on the service listener: answers every request it receives."""

    def __init__(self, probe: MqttProbe) -> None:
        self.probe = probe
        self.answered = 0
        probe.client.on_message = self._on_message

    def _on_message(self, client: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        device_id, _ = TOPICS.parse(msg.topic)
        client.publish(TOPICS.creds_res(device_id), msg.payload, qos=1)
        self.answered += 1


TOPICS = Topics()
GROUP = "ossmedia-responders"
TRICKS = (
    f"$share/{GROUP}/ossmedia/v1/+/creds/req",
    f"$share/{GROUP}/ossmedia/v1/cam-v0/creds/req",
    f"$share/{GROUP}/#",
    "$share/other-group/ossmedia/v1/+/creds/req",
    "$share/x/#",
    "#",
    "+/v1/+/creds/req",
    "ossmedia/v1/+/creds/req",
    "ossmedia/v1/+/creds/res",
    "ossmedia/v1/cam-v0/creds/res",
    "ossmedia/v1/cam-evil/#",
    "+/creds/req",
    "$SYS/#",
    "$CONTROL/dynamic-security/#",
)
VICTIMS = 10
REQUESTS_EACH = 10


def test_no_camera_can_take_other_cameras_requests(
    deployed: tuple[MosquittoProcess, int],
    mqtt_client_factory: MqttProbeFactory,
    broker_tls: BrokerTls,
) -> None:
    broker, service_port = deployed
    accounts = admin_accounts(broker, broker_tls)
    victims = [f"cam-v{n}" for n in range(VICTIMS)]
    for name in [*victims, "cam-evil"]:
        accounts.ensure(DeviceId(name), f"pw-{name}")
    responders = []
    for n in range(2):
        probe = mqtt_client_factory(
            broker,
            username="svc.responder",
            password=SERVICES["svc.responder"],
            ca_file=broker_tls.ca_file,
            port=service_port,
            client_id=f"responder-{n}",
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        responders.append(_Responder(probe))
        assert not probe.connect().is_failure
        assert [rc.value for rc in probe.subscribe(f"$share/{GROUP}/ossmedia/v1/+/creds/req")] == [
            1
        ]

    # The attacker tries every filter, with both protocol versions, with clean and persistent
    # sessions; the persistent ones then disconnect so their session (if any) lingers.
    attackers = []
    for protocol, refused in (
        (MQTTProtocolVersion.MQTTv311, 0x80),
        (MQTTProtocolVersion.MQTTv5, 0x87),
    ):
        for clean_start in (True, False):
            attacker = mqtt_client_factory(
                broker,
                username="cam-evil",
                password="pw-cam-evil",
                ca_file=broker_tls.ca_file,
                protocol=protocol,
                clean_start=clean_start,
                client_id="cam-evil",
            )
            assert not attacker.connect().is_failure
            for trick in TRICKS:
                codes = [rc.value for rc in attacker.subscribe(trick)]
                assert codes == [refused], (protocol, trick, codes)
            assert [rc.value for rc in attacker.subscribe(TOPICS.creds_res("cam-evil"))] == [1]
            if clean_start:
                attackers.append(attacker)  # stays connected while the requests fly
            else:
                attacker.close()

    condition = threading.Condition()
    cameras = []
    for name in victims:
        camera = mqtt_client_factory(
            broker,
            username=name,
            password=f"pw-{name}",
            ca_file=broker_tls.ca_file,
            condition=condition,
        )
        assert not camera.connect().is_failure
        assert [rc.value for rc in camera.subscribe(TOPICS.creds_res(name))] == [1]
        cameras.append((name, camera))
    for n in range(REQUESTS_EACH):  # 100 requests in flight at once (QoS 1, not awaited)
        for name, camera in cameras:
            camera.client.publish(TOPICS.creds_req(name), f"{name}-{n}".encode(), qos=1)

    def answered() -> bool:
        return sum(len(camera.messages) for _, camera in cameras) >= VICTIMS * REQUESTS_EACH

    cameras[0][1].wait_until(answered, timeout=30)
    for name, camera in cameras:
        assert sorted(m.payload for m in camera.messages) == sorted(
            f"{name}-{n}".encode() for n in range(REQUESTS_EACH)
        )
    assert sum(r.answered for r in responders) == VICTIMS * REQUESTS_EACH
    assert all(not attacker.messages for attacker in attackers)


def test_devices_add_creates_the_broker_account(
    deployed: tuple[MosquittoProcess, int],
    mqtt_client_factory: MqttProbeFactory,
    broker_tls: BrokerTls,
    tmp_path: Path,
) -> None:
    broker, _ = deployed
    run = _devices_cli(broker, broker_tls, tmp_path)

    def devices(*argv: str) -> dict[str, object]:
        out = run(*argv)
        return json.loads(out) if "--json" in argv else {}

    def broker_login(config: str) -> MqttProbe:
        broker_table = tomllib.loads(config)["broker"]
        return mqtt_client_factory(
            broker,
            username=broker_table["username"],
            password=broker_table["password"],
            ca_file=broker_tls.ca_file,
            protocol=MQTTProtocolVersion.MQTTv5,
        )

    added = devices("add", "cam-new", "--json")
    first = str(added["camera_config"])
    camera = broker_login(first)
    assert not camera.connect().is_failure
    assert [rc.value for rc in camera.subscribe(TOPICS.creds_res("cam-new"))] == [1]
    assert [rc.value for rc in camera.subscribe(f"$share/{GROUP}/#")] == [0x87]
    camera.close()

    rotated = str(devices("rotate", "cam-new", "--json")["camera_config"])
    assert broker_login(first).connect().is_failure  # the old broker password is gone
    assert not broker_login(rotated).connect().is_failure
    devices("revoke", "cam-new")
    assert broker_login(rotated).connect().is_failure


def test_devices_commands_override_a_quarantine_and_delete_removes_the_account(
    deployed: tuple[MosquittoProcess, int],
    mqtt_client_factory: MqttProbeFactory,
    broker_tls: BrokerTls,
    tmp_path: Path,
) -> None:
    broker, _ = deployed
    accounts = admin_accounts(broker, broker_tls)
    devices = _devices_cli(broker, broker_tls, tmp_path)

    camera = DeviceId("cam-q")
    devices("add", "cam-q")
    far = 4_000_000_000
    # A responder's quarantine: disabled, with the mark saying until when.
    assert accounts.quarantine(camera, far)
    assert accounts.state(camera) == AccountState(disabled=True, quarantined_until=far)
    # revoke keeps the account disabled and removes the mark: no responder re-enables it.
    devices("revoke", "cam-q")
    assert accounts.state(camera) == AccountState(disabled=True, quarantined_until=None)
    # An account disabled without a mark (revoked) is not taken over by a quarantine.
    assert not accounts.quarantine(camera, far)
    assert accounts.state(camera) == AccountState(disabled=True, quarantined_until=None)
    # reinstate enables it again, and wins over a quarantine begun meanwhile.
    config = json.loads(devices("reinstate", "cam-q", "--json"))["camera_config"]
    assert accounts.state(camera) == AccountState(disabled=False, quarantined_until=None)
    assert accounts.quarantine(camera, far)
    config = json.loads(devices("reinstate", "cam-q", "--json"))["camera_config"]
    assert accounts.state(camera) == AccountState(disabled=False, quarantined_until=None)
    password = tomllib.loads(config)["broker"]["password"]
    login = mqtt_client_factory(
        broker, username="cam-q", password=password, ca_file=broker_tls.ca_file
    )
    assert not login.connect().is_failure
    # delete removes the account and its role, closing the open connection; twice is fine.
    assert accounts.quarantine(camera, far)
    devices("revoke", "cam-q")
    devices("delete", "cam-q")
    assert accounts.state(camera) is None
    assert accounts.quarantined() == {}
    assert login.disconnected.wait(10)
    accounts.delete(camera)
