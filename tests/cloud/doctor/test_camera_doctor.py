"""``ossmedia doctor --camera-config``: the checks a camera's ``camera.toml`` allows, against a
real Mosquitto with TLS, password accounts and the project ACL.

Only the checks that concern one camera run (no STS, bucket or registry check is reported); a
broken camera configuration fails exactly its check and names the fix.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import trustme
from pydantic import SecretStr

from cloud.doctor import Report, Status, load_camera_doctor_settings, run_camera_checks
from cloud.doctor.cli import main
from simulator.broker import MosquittoProcess, PasswordEntry, project_acl
from tests.fixtures.broker import BrokerTls, MosquittoFactory

CAMERA = "cam-doctor"
PASSWORD = "pw-camera-0123456789"
CAMERA_CHECKS = {"broker.tls", "broker.login"}


@pytest.fixture(scope="module")
def camera_broker(
    mosquitto_module_factory: MosquittoFactory, broker_tls: BrokerTls
) -> MosquittoProcess:
    return mosquitto_module_factory(
        auth="password",
        passwords=(PasswordEntry(username=CAMERA, password=SecretStr(PASSWORD)),),
        acl=project_acl(),
        tls=broker_tls.server_settings(),
    )


def _camera_toml(root: Path, broker: MosquittoProcess, ca_file: Path, password: str) -> Path:
    path = root / "camera.toml"
    path.write_text(
        f"""
device_id = "{CAMERA}"
secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I"

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
    tmp_path: Path, camera_broker: MosquittoProcess, broker_tls: BrokerTls
) -> None:
    ca = _ca_copy(tmp_path, broker_tls.ca_file)
    report = _run(_camera_toml(tmp_path, camera_broker, ca, PASSWORD))
    assert {r.name: r.status for r in report.results} == dict.fromkeys(
        CAMERA_CHECKS, Status.PASS
    ), report.render()
    assert report.ready
    assert CAMERA in report.by_name()["broker.login"].reason


def test_a_wrong_camera_broker_password(
    tmp_path: Path, camera_broker: MosquittoProcess, broker_tls: BrokerTls
) -> None:
    ca = _ca_copy(tmp_path, broker_tls.ca_file)
    report = _run(_camera_toml(tmp_path, camera_broker, ca, "not-the-password-0000"))
    text = _only_failure(report, "broker.login")
    assert f"camera account {CAMERA} cannot log in" in text
    assert "[broker] username and password" in text
    assert "not-the-password" not in report.render()


def test_a_ca_that_does_not_sign_the_broker(
    tmp_path: Path, camera_broker: MosquittoProcess
) -> None:
    stranger = tmp_path / "stranger-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(stranger))
    report = _run(_camera_toml(tmp_path, camera_broker, stranger, PASSWORD))
    text = _only_failure(report, "broker.tls")
    assert "does not verify" in text
    assert "ca_file" in text
    assert report.by_name()["broker.login"].status is Status.SKIP


def test_cli_with_a_camera_config(
    tmp_path: Path, camera_broker: MosquittoProcess, broker_tls: BrokerTls
) -> None:
    ca = _ca_copy(tmp_path, broker_tls.ca_file)
    path = _camera_toml(tmp_path, camera_broker, ca, PASSWORD)
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
        ('device_id = "cam-1"\n[broker]\nurl = "http://x"\n', "broker.url"),
    ],
)
def test_cli_names_a_bad_camera_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    path = tmp_path / "camera.toml"
    path.write_text(text)
    assert main(["--camera-config", str(path)]) == 2
    assert expected in capsys.readouterr().err
