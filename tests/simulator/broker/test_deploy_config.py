"""deploy/mosquitto: the ACL cannot drift from the generator, and the config really runs.

The production ``mosquitto.conf`` is started by a real Mosquitto with only its machine-specific
values swapped (ports, loopback binds, certificate / password / ACL / plugin / persistence
paths, and the run-as user); every other directive is used exactly as shipped. Camera
accounts are created the way ``ossmedia devices add`` creates them, through the
dynamic-security plugin's control topic.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from simulator.broker import (
    MosquittoProcess,
    MosquittoSettings,
    PasswordEntry,
    pick_free_port,
    project_acl,
)
from cloud.registry.broker_accounts import BrokerAdminSettings, DynsecAccounts
from schemas.ids import DeviceId
from schemas.topics import Topics
from simulator.broker.binaries import find_dynsec_plugin
from simulator.broker.dynsec import write_bootstrap
from simulator.broker.render import write_password_file
from tests.fixtures.broker import BrokerTls, MqttProbe, MqttProbeFactory

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "mosquitto"
CAMERAS = {"cam-a": "camera-a-password", "cam-b": "camera-b-password"}
SERVICES = {"svc.responder": "responder-password", "svc.console": "console-password"}
ACCOUNTS = {**CAMERAS, **SERVICES}
ADMIN = ("svc.provisioner", "provisioner-password")


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


def _adapt(tmp_path: Path, tls: BrokerTls) -> tuple[Path, int, int]:
    """Write the deploy config with this machine's ports and paths; return it and the ports."""
    camera_port, service_port = pick_free_port(), pick_free_port()
    while service_port == camera_port:
        service_port = pick_free_port()
    passwd = tmp_path / "passwd"
    write_password_file(
        MosquittoSettings(
            passwords=tuple(
                PasswordEntry(username=user, password=SecretStr(secret))
                for user, secret in SERVICES.items()
            )
        ),
        passwd,
    )
    acl = tmp_path / "acl"
    acl.write_text((DEPLOY / "acl").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "data").mkdir()
    dynsec = tmp_path / "dynamic-security.json"
    write_bootstrap(dynsec, *ADMIN)
    replacements = {
        "plugin": find_dynsec_plugin(),
        "plugin_opt_config_file": str(dynsec),
        "password_file": str(passwd),
        "acl_file": str(acl),
        "persistence_location": f"{tmp_path / 'data'}/",
        "certfile": str(tls.server_certfile),
        "keyfile": str(tls.server_keyfile),
        "cafile": str(tls.ca_file),
    }
    ports = iter([camera_port, service_port])
    replaced: list[str] = []
    # Started as root, Mosquitto would switch to the "mosquitto" user, who cannot read files
    # in the test's private directory.
    lines = [f"user {pwd.getpwuid(os.geteuid()).pw_name}"]
    for line in (DEPLOY / "mosquitto.conf").read_text(encoding="utf-8").splitlines():
        key = line.split(" ", 1)[0]
        if key == "listener":
            line = f"listener {next(ports)} 127.0.0.1"
        elif key in replacements:
            line = f"{key} {replacements[key]}"
        else:
            lines.append(line)
            continue
        replaced.append(key)
        lines.append(line)
    assert sorted(set(replaced)) == sorted([*replacements, "listener"]), replaced
    config = tmp_path / "mosquitto.conf"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config, camera_port, service_port


def admin_accounts(broker: MosquittoProcess, tls: BrokerTls) -> DynsecAccounts:
    """The camera accounts of the running deploy config, as ``ossmedia devices`` reaches them."""
    admin = BrokerAdminSettings(
        url=broker.url, username=ADMIN[0], password=SecretStr(ADMIN[1]), ca_file=tls.ca_file
    )
    return DynsecAccounts(admin, topics=Topics())


@pytest.fixture
def deployed(tmp_path: Path, broker_tls: BrokerTls) -> Iterator[tuple[MosquittoProcess, int]]:
    """The deploy config running on free ports with cam-a and cam-b provisioned: the broker
    (camera listener) and the service port."""
    config, camera_port, service_port = _adapt(tmp_path, broker_tls)
    settings = MosquittoSettings(port=camera_port, tls=broker_tls.server_settings())
    broker = MosquittoProcess(settings, tmp_path / "run", config_file=config)
    broker.start()
    accounts = admin_accounts(broker, broker_tls)
    for camera, password in CAMERAS.items():
        accounts.ensure(DeviceId(camera), password)
    yield broker, service_port
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
