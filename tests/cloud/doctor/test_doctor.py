"""``ossmedia doctor`` against the emulator (populated from ``deploy/aliyun``) and a real
Mosquitto with TLS, password accounts and the project ACL.

A correct setup passes every check; each broken setup fails exactly its own check (checks that
depend on it are skipped, never failed) and names the fix.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import oss2
import pytest
import trustme
from pydantic import SecretStr

from cloud.console.passwords import hash_password
from cloud.doctor import (
    DoctorSettings,
    Report,
    Status,
    load_console_doctor_settings,
    load_doctor_settings,
    run_checks,
    run_console_checks,
)
from cloud.registry import open_registry
from cloud.registry.secrets import new_master_key
from cloud.settings import RegistrySettings
from simulator.broker import MosquittoProcess, PasswordEntry, project_acl
from simulator.broker.acl import AclFile, AclRule, AclSection
from simulator.emulator.config import EmulatorConfig
from simulator.emulator.handle import EmulatorHandle, running_emulator
from tests.fixtures.aliyun_kit import (
    BUCKET,
    CONSOLE_KEY,
    RESPONDER_KEY,
    ROLE_ARN,
    ROOT_KEY,
    kit_config,
    kit_policy,
)
from tests.fixtures.broker import BrokerTls, MosquittoFactory

RESPONDER_USER = "svc.responder"
CAMERA_USER = "cam-doctor"
PASSWORDS = {RESPONDER_USER: "pw-responder-0123456789", CAMERA_USER: "pw-camera-0123456789"}
OPERATOR_HASH = hash_password("operator-password", log2_n=10)
ALL_CHECKS = {
    "clock",
    "sts.assume_role",
    "bucket.exists",
    "bucket.block_public_access",
    "camera.grant",
    "camera.role_scope",
    "broker.tls",
    "broker.login",
    "broker.acl",
    "registry",
    "quarantine.admin",
}
NOT_CONFIGURED = {"quarantine.admin"}  # optional; tests/cloud/doctor/test_quarantine_doctor.py


def _broker(factory: MosquittoFactory, tls: BrokerTls, acl: AclFile) -> MosquittoProcess:
    return factory(
        auth="password",
        passwords=tuple(
            PasswordEntry(username=u, password=SecretStr(p)) for u, p in PASSWORDS.items()
        ),
        acl=acl,
        tls=tls.server_settings(),
    )


@pytest.fixture(scope="module")
def tls_broker(
    mosquitto_module_factory: MosquittoFactory, broker_tls: BrokerTls
) -> MosquittoProcess:
    """A TLS broker with the project's ACL, shared by the module."""
    return _broker(mosquitto_module_factory, broker_tls, project_acl())


@dataclass
class Setup:
    """Files of one deployment under test."""

    root: Path
    emulator: EmulatorHandle
    broker: MosquittoProcess
    ca_file: Path
    sts_secret: str = RESPONDER_KEY[1]
    role_arn: str = ROLE_ARN
    bucket: str = BUCKET
    broker_password: str = PASSWORDS[RESPONDER_USER]

    def write(self) -> dict[str, Path]:
        """Write the responder's and console's files; return the doctor's arguments."""
        r = self.root
        (r / "sts-secret").write_text(self.sts_secret)
        (r / "broker-password").write_text(self.broker_password)
        (r / "camera-password").write_text(PASSWORDS[CAMERA_USER])
        (r / "console-secret").write_text(CONSOLE_KEY[1])
        endpoint = self.emulator.oss_endpoint
        (r / "responder.toml").write_text(
            f"""
[broker]
url = "mqtts://127.0.0.1:{self.broker.port}"
ca_file = "{self.ca_file}"
username = "{RESPONDER_USER}"
password_file = "{r / "broker-password"}"

[sts]
endpoint = "{endpoint}"
region = "cn-hangzhou"
access_key_id = "{RESPONDER_KEY[0]}"
access_key_secret_file = "{r / "sts-secret"}"
role_arn = "{self.role_arn}"

[grant]
bucket = "{self.bucket}"
oss_endpoint = "{endpoint}"
region = "cn-hangzhou"

[registry]
url = "sqlite:///{r / "registry.db"}"
master_key_file = "{r / "master-key"}"
"""
        )
        (r / "console.toml").write_text(
            f"""

[[operators]]
username = "admin"
password_hash = "{OPERATOR_HASH}"

[oss]
endpoint = "{endpoint}"
bucket = "{self.bucket}"
region = "cn-hangzhou"
access_key_id = "{CONSOLE_KEY[0]}"
access_key_secret_file = "{r / "console-secret"}"

[ledger]
path = "{r / "ledger.sqlite3"}"
"""
        )
        return {"responder": r / "responder.toml", "console": r / "console.toml"}

    def settings(self) -> DoctorSettings:
        files = self.write()
        settings = load_doctor_settings(
            files["responder"],
            {},
            console=files["console"],
            camera_user=CAMERA_USER,
            camera_password_file=self.root / "camera-password",
            timeout_s=15.0,
        )
        return replace(settings, probe_id="t0")

    def run(self) -> Report:
        return run_checks(self.settings())


def _prepare_emulator(handle: EmulatorHandle, *, block: bool = True) -> None:
    root = oss2.Bucket(oss2.Auth(*ROOT_KEY), handle.oss_endpoint, BUCKET)
    root.put_bucket_public_access_block(block)


def _registry(root: Path) -> None:
    key = new_master_key()
    (root / "master-key").write_text(key)
    registry = open_registry(
        RegistrySettings(url=f"sqlite:///{root / 'registry.db'}", master_key=SecretStr(key))
    )
    registry.add("cam-0001")
    registry.close()


@pytest.fixture
def make_setup(
    tmp_path: Path, tls_broker: MosquittoProcess, broker_tls: BrokerTls
) -> Iterator[Any]:
    """``make_setup(config=..., block=...)``: a correct deployment unless told otherwise."""
    with contextlib.ExitStack() as stack:

        def make(
            config: EmulatorConfig | None = None,
            *,
            block: bool = True,
            broker: MosquittoProcess | None = None,
        ) -> Setup:
            handle = stack.enter_context(
                running_emulator(port=0, access_log=False, config=config or kit_config())
            )
            if BUCKET in (b.name for b in (config or kit_config()).buckets):
                _prepare_emulator(handle, block=block)
            _registry(tmp_path)
            return Setup(tmp_path, handle, broker or tls_broker, broker_tls.ca_file)

        yield make


def _statuses(report: Report) -> dict[str, Status]:
    return {r.name: r.status for r in report.results}


def _only_failure(report: Report, name: str) -> str:
    statuses = _statuses(report)
    assert set(statuses) == ALL_CHECKS
    failures = {n for n, s in statuses.items() if s is Status.FAIL}
    assert failures == {name}, report.render()
    assert not report.ready
    result = report.by_name()[name]
    assert result.fix
    return f"{result.reason} | {result.fix}"


def test_a_correct_setup_passes_every_check(make_setup: Any) -> None:
    report = make_setup().run()
    expected = {n: Status.SKIP if n in NOT_CONFIGURED else Status.PASS for n in ALL_CHECKS}
    assert _statuses(report) == expected, report.render()
    assert report.ready


def test_the_probe_leaves_nothing_behind(make_setup: Any) -> None:
    setup = make_setup()
    assert setup.run().ready
    root = oss2.Bucket(oss2.Auth(*ROOT_KEY), setup.emulator.oss_endpoint, BUCKET)
    assert [o.key for o in oss2.ObjectIterator(root)] == []


def test_wrong_access_key_secret(make_setup: Any) -> None:
    setup = make_setup()
    setup.sts_secret = "not-the-secret-0000000000"
    text = _only_failure(setup.run(), "sts.assume_role")
    assert "secret" in text
    assert "access_key_secret_file" in text


def test_role_arn_typo(make_setup: Any) -> None:
    setup = make_setup()
    setup.role_arn = ROLE_ARN.replace("ossmedia-camera", "ossmedia-camrea")
    text = _only_failure(setup.run(), "sts.assume_role")
    assert "does not exist" in text
    assert "role_arn" in text


def test_trust_policy_without_the_responder(make_setup: Any) -> None:
    trust = kit_policy("camera-role-trust-policy")
    trust["Statement"][0]["Principal"]["RAM"] = ["acs:ram::1234567890123456:user/someone-else"]
    text = _only_failure(make_setup(kit_config(trust_policy=trust)).run(), "sts.assume_role")
    assert "may not assume" in text
    assert "camera-role-trust-policy.json" in text


def test_role_policy_without_put_object(make_setup: Any) -> None:
    policy = kit_policy("camera-role-policy")
    policy["Statement"][0]["Action"] = ["oss:GetObject"]
    text = _only_failure(make_setup(kit_config(role_policy=policy)).run(), "camera.grant")
    assert "cannot append" in text
    assert "oss:PutObject" in text


@pytest.mark.parametrize("action", ["oss:ListObjects", "oss:DeleteObject"])
def test_over_broad_role_policy(make_setup: Any, action: str) -> None:
    policy = kit_policy("camera-role-policy")
    policy["Statement"].append(
        {"Effect": "Allow", "Action": action, "Resource": "acs:oss:*:*:ossmedia-videos*"}
    )
    text = _only_failure(make_setup(kit_config(role_policy=policy)).run(), "camera.role_scope")
    assert "broader" in text
    assert "camera-role-policy.json" in text


def test_missing_bucket(make_setup: Any) -> None:
    setup = make_setup()
    setup.bucket = "ossmedia-missing"
    report = setup.run()
    text = _only_failure(report, "bucket.exists")
    assert "does not exist" in text
    assert _statuses(report)["camera.grant"] is Status.SKIP


def test_block_public_access_off(make_setup: Any) -> None:
    text = _only_failure(make_setup(block=False).run(), "bucket.block_public_access")
    assert "off" in text
    assert "put-bucket-public-access-block" in text


def test_clock_moved_twenty_minutes(make_setup: Any) -> None:
    setup = make_setup()
    setup.emulator.advance_clock(20 * 60)
    report = setup.run()
    text = _only_failure(report, "clock")
    behind = re.search(r"clock is (\d+) s behind STS's", text)
    assert behind is not None, text
    assert 1190 <= int(behind.group(1)) <= 1210, text
    assert "timedatectl" in text
    assert _statuses(report)["sts.assume_role"] is Status.SKIP
    assert _statuses(report)["broker.acl"] is Status.PASS


def test_ca_file_that_does_not_sign_the_broker(make_setup: Any, tmp_path: Path) -> None:
    setup = make_setup()
    stranger = tmp_path / "stranger-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(stranger))
    setup.ca_file = stranger
    text = _only_failure(setup.run(), "broker.tls")
    assert "does not verify" in text
    assert "ca_file" in text


def test_wrong_broker_password(make_setup: Any) -> None:
    setup = make_setup()
    setup.broker_password = "not-the-password-0000"
    report = setup.run()
    text = _only_failure(report, "broker.login")
    assert "cannot log in" in text
    assert "password_file" in text
    assert _statuses(report)["broker.acl"] is Status.SKIP


def test_acl_that_lets_a_camera_read_another_cameras_replies(
    make_setup: Any, mosquitto_factory: MosquittoFactory, broker_tls: BrokerTls
) -> None:
    base = project_acl()
    leaky = AclFile(
        header=base.header,
        sections=(
            AclSection(
                rules=(AclRule(access="read", topic="ossmedia/v1/+/creds/res", pattern=True),)
            ),
            *base.sections,
        ),
    )
    broker = _broker(mosquitto_factory, broker_tls, leaky)
    text = _only_failure(make_setup(broker=broker).run(), "broker.acl")
    assert "another camera's credential replies" in text
    assert "deploy/mosquitto/acl" in text


def test_cli_json_and_exit_status(make_setup: Any) -> None:
    setup = make_setup(block=False)
    files = setup.write()
    command = [
        sys.executable, "-m", "ossmedia_cli", "doctor", "--json",
        "--config", str(files["responder"]), "--console-config", str(files["console"]),
        "--camera-user", CAMERA_USER, "--camera-password-file", str(setup.root / "camera-password"),
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSSMEDIA_")}
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=120, env=env, check=False
    )
    assert done.returncode == 1, done.stderr
    document = json.loads(done.stdout)
    assert document["ready"] is False
    failing = [c["name"] for c in document["checks"] if c["status"] == "fail"]
    assert failing == ["bucket.block_public_access"]
    assert RESPONDER_KEY[1] not in done.stdout
    assert CONSOLE_KEY[1] not in done.stdout


def test_cli_names_an_unreadable_configuration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cloud.doctor.cli import main

    assert main(["--config", str(tmp_path / "absent.toml")]) == 2
    assert "absent.toml" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["0", "-5", "soon", "301"])
def test_cli_refuses_a_bad_timeout(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    from cloud.doctor.cli import main

    with pytest.raises(SystemExit) as stopped:
        main(["--config", "responder.toml", "--timeout", value])
    assert stopped.value.code == 2
    assert "seconds" in capsys.readouterr().err


def test_another_master_key(make_setup: Any) -> None:
    setup = make_setup()
    (setup.root / "master-key").write_text(new_master_key())
    text = _only_failure(setup.run(), "registry")
    assert "master key" in text


CONSOLE_CHECKS = {
    "bucket.exists",
    "bucket.block_public_access",
    "console.rights",
    "broker.tls",
    "broker.login",
    "registry",
}


def _console_only(setup: Setup) -> Report:
    """The doctor from the console's file alone: its own broker account and the registry."""
    files = setup.write()
    r = setup.root
    text = files["console"].read_text() + (
        f"""
[mqtt]
url = "mqtts://127.0.0.1:{setup.broker.port}"
ca_file = "{setup.ca_file}"
username = "{RESPONDER_USER}"
password_file = "{r / "broker-password"}"

[registry]
url = "sqlite:///{r / "registry.db"}"
master_key_file = "{r / "master-key"}"
"""
    )
    files["console"].write_text(text)
    settings = load_console_doctor_settings(files["console"], {}, timeout_s=15.0)
    return run_console_checks(replace(settings, probe_id="t1"))


def test_a_console_only_run_passes_on_a_correct_setup(make_setup: Any) -> None:
    report = _console_only(make_setup())
    assert _statuses(report) == dict.fromkeys(CONSOLE_CHECKS, Status.PASS), report.render()
    assert "under videos/" in report.by_name()["console.rights"].reason


def test_a_console_only_run_fails_its_bucket_check_on_a_missing_bucket(make_setup: Any) -> None:
    setup = make_setup()
    setup.bucket = "ossmedia-missing"
    report = _console_only(setup)
    statuses = _statuses(report)
    assert set(statuses) == CONSOLE_CHECKS
    assert {n for n, s in statuses.items() if s is Status.FAIL} == {"bucket.exists"}
    result = report.by_name()["bucket.exists"]
    assert "does not exist" in result.reason
    assert "[oss] bucket" in result.fix
    assert statuses["console.rights"] is Status.SKIP
