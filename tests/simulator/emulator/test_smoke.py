"""The emulator starts, answers health and AssumeRole, in-process and as a process."""

from __future__ import annotations

import json

import pytest
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.client import AcsClient
from aliyunsdksts.request.v20150401.AssumeRoleRequest import AssumeRoleRequest

from simulator.emulator.handle import EmulatorHandle


def test_assume_role_with_default_role(any_emulator: EmulatorHandle) -> None:
    client = AcsClient(
        any_emulator.access_key_id,
        any_emulator.access_key_secret,
        any_emulator.region,
        proxy={"http": None, "https": None},
    )
    request = AssumeRoleRequest()
    request.set_RoleArn(any_emulator.role_arn)
    request.set_RoleSessionName("cam-0001")
    request.set_DurationSeconds(900)
    request.set_endpoint(any_emulator.sts_endpoint)
    reply = json.loads(client.do_action_with_exception(request))
    assert reply["Credentials"]["AccessKeyId"].startswith("STS.")
    assert reply["AssumedRoleUser"]["Arn"] == f"{any_emulator.role_arn}/cam-0001"
    assert any_emulator.stats()["requests"]["AssumeRole"] == {"200": 1}


def test_wrong_secret_is_refused(any_emulator: EmulatorHandle) -> None:
    client = AcsClient(any_emulator.access_key_id, "wrong-secret", any_emulator.region,
                       proxy={"http": None, "https": None})  # fmt: skip
    request = AssumeRoleRequest()
    request.set_RoleArn(any_emulator.role_arn)
    request.set_RoleSessionName("cam-0001")
    request.set_endpoint(any_emulator.sts_endpoint)
    with pytest.raises(ServerException) as info:
        client.do_action_with_exception(request)
    assert (info.value.get_error_code(), info.value.get_http_status()) == (
        "InvalidAccessKeySecret",
        400,
    )
    assert any_emulator.stats()["requests"]["AssumeRole"] == {"400": 1}


def test_public_surface() -> None:
    import simulator.emulator as package

    assert package.__all__ == [
        "AdminClient",
        "Emulator",
        "EmulatorConfigError",
        "EmulatorError",
        "EmulatorHandle",
        "EmulatorSettings",
        "FaultConfig",
        "FaultRule",
        "Outage",
        "running_emulator",
        "spawned_emulator",
    ]
    for name in package.__all__:
        assert getattr(package, name).__name__ == name


def test_importing_the_error_root_does_not_load_the_server() -> None:
    import subprocess
    import sys

    code = "import sys, simulator.iam, simulator.base.errors; print('uvicorn' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
