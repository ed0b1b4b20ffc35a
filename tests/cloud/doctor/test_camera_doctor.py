"""``ossmedia doctor --camera-config``: the checks a camera's ``camera.toml`` allows, against a
real Mosquitto with TLS, password accounts and the project ACL.

Only the checks that concern one camera run (no STS, bucket or registry check is reported); a
broken camera configuration fails exactly its check and names the fix.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from pydantic import SecretStr

from cloud.doctor import Report, Status, load_camera_doctor_settings, run_camera_checks
from cloud.doctor.cli import main
from cloud.registry import new_master_key, open_registry
from cloud.responder.app import build_responder
from schemas.keys import new_device_secret
from simulator.broker import MosquittoProcess, PasswordEntry, project_acl
from simulator.broker.acl import AclFile, AclRule, AclSection
from simulator.emulator.handle import running_emulator
from tests.cloud.responder.harness import responder_settings
from tests.fixtures.broker import BrokerTls, MosquittoFactory

CAMERA = "cam-doctor"
PASSWORD = "pw-camera-0123456789"
RESPONDER = "svc.responder"
RESPONDER_PASSWORD = "pw-responder-0123456789"
CAMERA_CHECKS = {"broker.tls", "broker.login", "creds.request", "broker.acl"}


def _broker(factory: MosquittoFactory, broker_tls: BrokerTls, acl: AclFile) -> MosquittoProcess:
    return factory(
        auth="password",
        passwords=tuple(
            PasswordEntry(username=u, password=SecretStr(p))
            for u, p in ((CAMERA, PASSWORD), (RESPONDER, RESPONDER_PASSWORD))
        ),
        acl=acl,
        tls=broker_tls.server_settings(),
    )


@contextlib.contextmanager
def _responder(broker: MosquittoProcess, broker_tls: BrokerTls, root: Path) -> Iterator[str]:
    """A responder on ``broker`` and the emulator; yields the camera's registered secret."""
    with running_emulator(port=0, access_log=False) as emulator:
        settings = responder_settings(
            broker,
            emulator,
            root,
            master_key=new_master_key(),
            broker={
                "url": f"mqtts://127.0.0.1:{broker.port}",
                "ca_file": str(broker_tls.ca_file),
                "username": RESPONDER,
                "password": RESPONDER_PASSWORD,
                "protocol": "3.1.1",
                "shared_group": "",
            },
        )
        registry = open_registry(settings.registry)
        device_secret = registry.add(CAMERA)[1]
        registry.close()
        responder = build_responder(settings)
        responder.start()
        try:
            assert responder.service.wait_connected(30)
            yield device_secret
        finally:
            responder.stop()


@pytest.fixture(scope="module")
def camera_broker(
    mosquitto_module_factory: MosquittoFactory, broker_tls: BrokerTls
) -> MosquittoProcess:
    return _broker(mosquitto_module_factory, broker_tls, project_acl())


@pytest.fixture(scope="module")
def secret(
    camera_broker: MosquittoProcess,
    broker_tls: BrokerTls,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """A responder on the camera's broker; the camera's registered secret."""
    with _responder(camera_broker, broker_tls, tmp_path_factory.mktemp("responder")) as secret:
        yield secret


def _camera_toml(
    root: Path, broker: MosquittoProcess, ca_file: Path, password: str, secret: str
) -> Path:
    path = root / "camera.toml"
    path.write_text(
        f"""
device_id = "{CAMERA}"
secret = "{secret}"

[broker]
url = "mqtts://127.0.0.1:{broker.port}"
ca_file = "{ca_file.name}"
username = "{CAMERA}"
password = "{password}"

[spool]
dir = "spool"
"""
    )
    return path


def _run(path: Path) -> Report:
    return run_camera_checks(load_camera_doctor_settings(path, timeout_s=15.0))


def _ca_copy(root: Path, ca_file: Path) -> Path:
    copy = root / "broker-ca.pem"  # relative in camera.toml: taken from the file's directory
    copy.write_bytes(ca_file.read_bytes())
    return copy


def _only_failure(report: Report, name: str) -> str:
    statuses = {r.name: r.status for r in report.results}
    assert set(statuses) == CAMERA_CHECKS
    assert {n for n, s in statuses.items() if s is Status.FAIL} == {name}, report.render()
    assert not report.ready
    result = report.by_name()[name]
    return f"{result.reason} | {result.fix}"


def test_a_correct_camera_config_passes(
    tmp_path: Path, camera_broker: MosquittoProcess, broker_tls: BrokerTls, secret: str
) -> None:
    ca = _ca_copy(tmp_path, broker_tls.ca_file)
    report = _run(_camera_toml(tmp_path, camera_broker, ca, PASSWORD, secret))
    assert {r.name: r.status for r in report.results} == dict.fromkeys(
        CAMERA_CHECKS, Status.PASS
    ), report.render()
    assert report.ready
    assert CAMERA in report.by_name()["broker.login"].reason
    assert f"under videos/{CAMERA}/" in report.by_name()["creds.request"].reason


def test_a_camera_secret_the_registry_does_not_know(
    tmp_path: Path, camera_broker: MosquittoProcess, broker_tls: BrokerTls, secret: str
) -> None:
    ca = _ca_copy(tmp_path, broker_tls.ca_file)
    stranger = new_device_secret()
    report = _run(_camera_toml(tmp_path, camera_broker, ca, PASSWORD, stranger))
    text = _only_failure(report, "creds.request")
    assert "does not know cam-doctor with this secret" in text
    assert f"rotate {CAMERA}" in text
    assert stranger not in report.render()
    assert secret not in report.render()


def test_a_wrong_camera_broker_password(
    tmp_path: Path, camera_broker: MosquittoProcess, broker_tls: BrokerTls, secret: str
) -> None:
    ca = _ca_copy(tmp_path, broker_tls.ca_file)
    report = _run(_camera_toml(tmp_path, camera_broker, ca, "not-the-password-0000", secret))
    text = _only_failure(report, "broker.login")
    assert f"camera account {CAMERA} cannot log in" in text
    assert "[broker] username and password" in text
    assert "not-the-password" not in report.render()
    assert report.by_name()["creds.request"].status is Status.SKIP


def test_a_ca_that_does_not_sign_the_broker(
    tmp_path: Path, camera_broker: MosquittoProcess, secret: str
) -> None:
    stranger = tmp_path / "stranger-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(stranger))
    report = _run(_camera_toml(tmp_path, camera_broker, stranger, PASSWORD, secret))
    text = _only_failure(report, "broker.tls")
    assert "does not verify" in text
    assert "ca_file" in text
    assert report.by_name()["broker.login"].status is Status.SKIP
    assert report.by_name()["creds.request"].status is Status.SKIP


def test_an_acl_that_lets_a_camera_use_another_cameras_topics(
    tmp_path: Path, mosquitto_factory: MosquittoFactory, broker_tls: BrokerTls
) -> None:
    base = project_acl()
    leaky = AclFile(
        header=base.header,
        sections=(
            AclSection(
                rules=(AclRule(access="readwrite", topic="ossmedia/v1/+/creds/#", pattern=True),)
            ),
            *base.sections,
        ),
    )
    broker = _broker(mosquitto_factory, broker_tls, leaky)
    ca = _ca_copy(tmp_path, broker_tls.ca_file)
    with _responder(broker, broker_tls, tmp_path) as secret:
        report = _run(_camera_toml(tmp_path, broker, ca, PASSWORD, secret))
    text = _only_failure(report, "broker.acl")
    assert "send requests as another camera" in text
    assert "read another camera's credential replies" in text
    assert "deploy/mosquitto/acl" in text


def test_cli_with_a_camera_config(
    tmp_path: Path, camera_broker: MosquittoProcess, broker_tls: BrokerTls, secret: str
) -> None:
    ca = _ca_copy(tmp_path, broker_tls.ca_file)
    path = _camera_toml(tmp_path, camera_broker, ca, PASSWORD, secret)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSSMEDIA_")}
    done = subprocess.run(
        [sys.executable, "-m", "ossmedia_cli", "doctor", "--json", "--camera-config", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    document = json.loads(done.stdout)
    assert document["ready"] is True
    assert {c["name"] for c in document["checks"]} == CAMERA_CHECKS
    assert PASSWORD not in done.stdout


def test_cli_camera_and_responder_configs_exclude_each_other(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["--config", "responder.toml", "--camera-config", "camera.toml"])
    assert stopped.value.code == 2
    assert "not allowed with" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("device_id = ", "not valid TOML"),
        ('secret = "x"\n', "device_id is missing"),
        ('device_id = "cam-1"\nsecret = "short"\n', "not a device secret"),
        (f'device_id = "cam-1"\nsecret = "{"A" * 43}"\n[broker]\nurl = "http://x"\n', "broker.url"),
        (
            f'device_id = "cam-1"\nsecret = "{"A" * 43}"\n[credentials]\nduration_s = "x"\n',
            "duration_s",
        ),
    ],
)
def test_cli_names_a_bad_camera_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    path = tmp_path / "camera.toml"
    path.write_text(text)
    assert main(["--camera-config", str(path)]) == 2
    assert expected in capsys.readouterr().err


def test_cli_without_any_configuration(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "--config, --console-config or --camera-config" in capsys.readouterr().err


def test_cli_names_an_unreadable_console_configuration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--console-config", str(tmp_path / "absent-console.toml")]) == 2
    assert "absent-console.toml" in capsys.readouterr().err
