"""``quarantine.admin``: the doctor proves the responder's quarantine account works.

Mosquitto runs deploy/mosquitto/mosquitto.conf (dynamic-security plugin on the camera
listener, TLS). The responder's TOML is read as ``ossmedia doctor --config`` reads it, and
the check is taken from the doctor's own list: the right account passes; a wrong password,
a camera's account (logs in, no rights on the control topic), an account that may read the
control responses but not send commands, the service listener (no plugin) and a CA that does
not sign the broker each fail with their own reason and fix, never showing the password; without ``[quarantine]`` the check is skipped and the setup stays ready.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme
from pydantic import SecretStr

from cloud.doctor import Report, Status, load_doctor_settings, run_checks
from cloud.doctor.checks import CHECKS
from cloud.doctor.quarantine import NAME
from cloud.registry.broker_accounts import BrokerAdminSettings, DynsecAccounts
from cloud.registry.dynsec_control import RESPONSE_TOPIC, session
from schemas.ids import DeviceId
from schemas.topics import Topics
from simulator.broker import MosquittoProcess
from simulator.broker.deployed import adapt_deploy_config
from tests.fixtures.broker import BrokerTls

ADMINS = {"svc.provisioner": "provisioner-pw-0123", "svc.quarantine": "quarantine-pw-4567"}
CAMERA = ("cam-q1", "camera-pw-89ab")
READER = ("svc.reader", "reader-pw-cdef")  # may read the control responses, not send commands
SERVICE = ("svc.responder", "responder-pw-0123")  # the service listener's (no plugin there)
CHECK = [c for c in CHECKS if c.name == NAME]


@dataclass(frozen=True)
class Deployed:
    """The running deploy config: its camera listener (the plugin's) and service listener."""

    process: MosquittoProcess
    service_port: int

    @property
    def url(self) -> str:
        return self.process.url


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory, broker_tls: BrokerTls) -> Iterator[Deployed]:
    """The deploy config with both admin accounts, a camera account and the reader."""
    root = tmp_path_factory.mktemp("quarantine-doctor")
    adapted = adapt_deploy_config(
        root, services=dict([SERVICE]), admins=ADMINS, tls=broker_tls.server_settings()
    )
    process = adapted.process(root / "run")
    process.start()
    admin = BrokerAdminSettings(
        url=process.url,
        username="svc.provisioner",
        password=SecretStr(ADMINS["svc.provisioner"]),
        ca_file=broker_tls.ca_file,
    )
    DynsecAccounts(admin, topics=Topics()).ensure(DeviceId(CAMERA[0]), CAMERA[1])
    role = "control-reader"
    with session(admin, "setup") as opened:
        answers = opened.run(
            [
                {"command": "createRole", "rolename": role},
                {
                    "command": "addRoleACL",
                    "rolename": role,
                    "acltype": "subscribePattern",
                    "topic": RESPONSE_TOPIC,
                    "allow": True,
                },
                {
                    "command": "addRoleACL",
                    "rolename": role,
                    "acltype": "publishClientReceive",
                    "topic": RESPONSE_TOPIC,
                    "allow": True,
                },
                {"command": "createClient", "username": READER[0], "password": READER[1]},
                {"command": "addClientRole", "username": READER[0], "rolename": role},
            ]
        )
    assert not [a for a in answers if a.get("error")], answers
    yield Deployed(process, adapted.service_port)
    process.stop()


def _doctor(
    directory: Path, quarantine: str = "", password: str = "", timeout_s: float = 3.0
) -> Report:
    """Write the responder's TOML (and the password file) and run the check as the CLI does."""
    (directory / "quarantine-password").write_text(password + "\n")
    (directory / "responder.toml").write_text(quarantine)
    settings = load_doctor_settings(directory / "responder.toml", {}, timeout_s=timeout_s)
    return run_checks(settings, CHECK)


def _quarantine(
    broker: Deployed, tls: BrokerTls, directory: Path, username: str, url: str = ""
) -> str:
    return f"""
[quarantine]
url = "{url or broker.url}"
username = "{username}"
password_file = "{directory / "quarantine-password"}"
ca_file = "{tls.ca_file}"
"""


def _failure(report: Report, secret: str) -> str:
    (result,) = report.results
    assert result.status is Status.FAIL, report.render()
    assert not report.ready
    assert result.fix
    document = str(report.to_json()) + report.render()
    assert secret not in document
    return f"{result.reason} | {result.fix}"


def test_the_quarantine_account_passes(
    broker: Deployed, broker_tls: BrokerTls, tmp_path: Path
) -> None:
    config = _quarantine(broker, broker_tls, tmp_path, "svc.quarantine")
    report = _doctor(tmp_path, config, ADMINS["svc.quarantine"])
    (result,) = report.results
    assert (result.name, result.status) == (NAME, Status.PASS), report.render()
    assert "svc.quarantine" in result.reason
    assert "broker account(s)" in result.reason
    assert report.ready


def test_a_wrong_password_fails_the_login(
    broker: Deployed, broker_tls: BrokerTls, tmp_path: Path
) -> None:
    config = _quarantine(broker, broker_tls, tmp_path, "svc.quarantine")
    text = _failure(_doctor(tmp_path, config, "not-the-password"), "not-the-password")
    assert "refused the login" in text
    assert "password_file" in text


def test_an_account_without_rights_on_the_control_topic_fails(
    broker: Deployed, broker_tls: BrokerTls, tmp_path: Path
) -> None:
    config = _quarantine(broker, broker_tls, tmp_path, CAMERA[0])
    text = _failure(_doctor(tmp_path, config, CAMERA[1]), CAMERA[1])
    assert "may not use $CONTROL/dynamic-security/#" in text
    assert f"addClientRole {CAMERA[0]} dynsec-admin" in text


def test_an_account_that_may_not_send_commands_fails_at_once(
    broker: Deployed, broker_tls: BrokerTls, tmp_path: Path
) -> None:
    # It may subscribe to the answers, so only the refused PUBLISH (PUBACK 0x87) tells it
    # apart from a listener without the plugin; it must not wait for the timeout.
    config = _quarantine(broker, broker_tls, tmp_path, READER[0])
    started = time.monotonic()
    text = _failure(_doctor(tmp_path, config, READER[1], timeout_s=30.0), READER[1])
    assert time.monotonic() - started < 10
    assert "may not send to the control topic" in text


def test_a_listener_without_the_plugin_fails(
    broker: Deployed, broker_tls: BrokerTls, tmp_path: Path
) -> None:
    url = f"mqtts://127.0.0.1:{broker.service_port}"
    config = _quarantine(broker, broker_tls, tmp_path, SERVICE[0], url=url)
    text = _failure(_doctor(tmp_path, config, SERVICE[1]), SERVICE[1])
    assert "may not use $CONTROL/dynamic-security/#" in text
    assert "camera listener" in text


@pytest.mark.parametrize("ca", ["another CA", "missing file"])
def test_a_listener_that_cannot_be_reached_over_verified_tls_fails(
    broker: Deployed, broker_tls: BrokerTls, tmp_path: Path, ca: str
) -> None:
    ca_file = tmp_path / "ca.pem"
    if ca == "another CA":
        trustme.CA().cert_pem.write_to_path(str(ca_file))
    config = _quarantine(broker, broker_tls, tmp_path, "svc.quarantine")
    config = config.replace(str(broker_tls.ca_file), str(ca_file))
    text = _failure(_doctor(tmp_path, config, ADMINS["svc.quarantine"]), "quarantine-pw")
    assert "cannot be reached" in text
    assert "ca_file" in text


def test_without_quarantine_the_check_is_skipped(tmp_path: Path) -> None:
    report = _doctor(tmp_path)
    (result,) = report.results
    assert (result.name, result.status) == (NAME, Status.SKIP)
    assert "[quarantine] is not configured" in result.reason
    assert report.ready
