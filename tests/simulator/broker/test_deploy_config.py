"""deploy/mosquitto: the ACL cannot drift from the generator, and the config really runs.

The production ``mosquitto.conf`` is started by a real Mosquitto with only its machine-specific
values swapped (ports, loopback binds, certificate / password / ACL / persistence paths, and
the run-as user); every other directive is used exactly as shipped.
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
from simulator.broker.render import write_password_file
from tests.fixtures.broker import BrokerTls, MqttProbe, MqttProbeFactory

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "mosquitto"
ACCOUNTS = {
    "cam-a": "camera-a-password",
    "cam-b": "camera-b-password",
    "svc.responder": "responder-password",
    "svc.console": "console-password",
}


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
    assert (DEPLOY / "acl").read_text(encoding="utf-8") == project_acl().render()


def test_deploy_config_choices() -> None:
    pairs = _directives((DEPLOY / "mosquitto.conf").read_text(encoding="utf-8"))
    general = pairs[: [key for key, _ in pairs].index("listener")]
    for expected in [
        ("per_listener_settings", "false"),
        ("allow_anonymous", "false"),
        ("set_tcp_nodelay", "true"),
        ("persistence", "true"),
        ("password_file", "/etc/mosquitto/ossmedia/passwd"),
        ("acl_file", "/etc/mosquitto/ossmedia/acl"),
    ]:
        assert expected in general
    cameras, services = _listener_sections(pairs)
    assert cameras[0] == ("listener", "8883")
    assert ("use_username_as_clientid", "true") in cameras
    assert ("require_certificate", "false") in cameras
    for section in (cameras, services):
        assert ("protocol", "mqtt") in section
        assert ("tls_version", "tlsv1.2") in section
        assert {key for key, _ in section} >= {"certfile", "keyfile"}
    assert services[0] == ("listener", "8884 127.0.0.1")
    assert "use_username_as_clientid" not in {key for key, _ in services}


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
                for user, secret in ACCOUNTS.items()
            )
        ),
        passwd,
    )
    acl = tmp_path / "acl"
    acl.write_text((DEPLOY / "acl").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "data").mkdir()
    replacements = {
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


@pytest.fixture
def deployed(tmp_path: Path, broker_tls: BrokerTls) -> Iterator[tuple[MosquittoProcess, int]]:
    """The deploy config running on free ports: the broker (camera listener) and service port."""
    config, camera_port, service_port = _adapt(tmp_path, broker_tls)
    settings = MosquittoSettings(port=camera_port, tls=broker_tls.server_settings())
    broker = MosquittoProcess(settings, tmp_path / "run", config_file=config)
    broker.start()
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
