"""The admin API, in-process and against a separate ``ossmedia emulator`` process."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.client import AcsClient
from aliyunsdksts.request.v20150401.AssumeRoleRequest import AssumeRoleRequest

from simulator.base.errors import EmulatorError
from simulator.emulator.handle import AdminClient, EmulatorHandle


def assume(
    handle: EmulatorHandle, role_arn: str | None = None, session: str = "cam-0001"
) -> dict[str, str]:
    client = AcsClient(handle.access_key_id, handle.access_key_secret, handle.region,
                       proxy={"http": None, "https": None})  # fmt: skip
    request = AssumeRoleRequest()
    request.set_RoleArn(role_arn or handle.role_arn)
    request.set_RoleSessionName(session)
    request.set_endpoint(handle.sts_endpoint)
    credentials: dict[str, str] = json.loads(client.do_action_with_exception(request))[
        "Credentials"
    ]
    return credentials


def test_health_needs_no_token(any_emulator: EmulatorHandle) -> None:
    assert httpx.get(f"{any_emulator.oss_endpoint}/__admin/health").json() == {"status": "ok"}


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "Basic abc", "Bearer"])
def test_everything_else_needs_the_token(
    any_emulator: EmulatorHandle, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    for method, path in [
        ("GET", "/faults"),
        ("PUT", "/faults"),
        ("POST", "/clock"),
        ("GET", "/info"),
    ]:
        reply = httpx.request(
            method, f"{any_emulator.oss_endpoint}/__admin{path}", headers=headers, json={}
        )
        assert reply.status_code == 401
        assert any_emulator.admin_token not in reply.text


def test_faults_at_run_time_with_counters(any_emulator: EmulatorHandle) -> None:
    reply = any_emulator.set_faults(
        {"seed": 9, "rules": [{"operations": ["AssumeRole"], "error_rate": 1}]}
    )
    assert reply["config"]["seed"] == 9
    with pytest.raises(ServerException) as info:
        assume(any_emulator)
    assert info.value.get_error_code() == "ServiceUnavailable"
    assert any_emulator.faults()["injected"] == {"AssumeRole": {"error": 1}}
    any_emulator.clear_faults()
    assert assume(any_emulator)["AccessKeyId"].startswith("STS.")
    stats = any_emulator.stats()
    assert stats["requests"]["AssumeRole"] == {"error": 1, "200": 1}
    any_emulator.reset_stats()
    assert any_emulator.stats() == {"requests": {}, "faults": {}}


def test_invalid_faults_are_rejected_and_keep_the_old_ones(any_emulator: EmulatorHandle) -> None:
    any_emulator.set_faults({"rules": [{"latency_ms": 1}]})
    with pytest.raises(EmulatorError, match="400"):
        any_emulator.set_faults({"rules": [{"error_rate": 2}]})
    assert any_emulator.faults()["config"]["rules"][0]["latency_ms"] == 1


def test_clock_advance_expires_tokens(emulator: EmulatorHandle) -> None:
    creds = assume(emulator)
    emulator.iam.resolve(creds["AccessKeyId"], creds["SecurityToken"])
    assert emulator.advance_clock(3601) == 3601
    reply = emulator.admin.call("GET", "/clock")
    assert reply["offset_s"] == 3601
    from simulator.iam import IamError

    with pytest.raises(IamError, match="expired"):
        emulator.iam.resolve(creds["AccessKeyId"], creds["SecurityToken"])


def test_create_role_and_key_through_the_admin_api(any_emulator: EmulatorHandle) -> None:
    policy = {
        "Version": "1",
        "Statement": [{"Effect": "Allow", "Action": "oss:GetObject", "Resource": "*"}],
    }
    arn = any_emulator.create_role("Reader", [policy], max_session_duration=7200)
    assert arn == "acs:ram::1000000000000001:role/reader"
    assert assume(any_emulator, arn)["AccessKeyId"].startswith("STS.")
    any_emulator.add_access_key("LTAIsecondRootKey001", "second-secret")
    second = AdminClient(any_emulator.oss_endpoint, any_emulator.admin_token)
    with pytest.raises(EmulatorError, match="400"):
        second.call("PUT", "/roles", {"name": "bad name", "policies": []})
    with pytest.raises(EmulatorError, match="missing field"):
        second.call("PUT", "/access-keys", {"secret": "x"})
    with pytest.raises(EmulatorError, match="404"):
        second.call("GET", "/nothing")


def test_info_matches_the_handle(any_emulator: EmulatorHandle) -> None:
    info = any_emulator.admin.call("GET", "/info")
    assert info["access_key_id"] == any_emulator.access_key_id
    assert info["role_arn"] == "acs:ram::1000000000000001:role/camera-writer"
    assert info["bucket"] == "ossmedia"
    assert info["region"] == "cn-hangzhou"
    assert info["sts_endpoint"] == info["oss_endpoint"] == any_emulator.oss_endpoint


def test_every_response_has_one_date_from_the_emulator_clock(emulator: EmulatorHandle) -> None:
    from email.utils import parsedate_to_datetime

    emulator.advance_clock(10 * 86_400)  # ten days ahead: the real time would show
    emulator.set_faults({"rules": [{"operations": ["GetObject"], "error_rate": 1.0}]})
    replies = [
        httpx.get(f"{emulator.oss_endpoint}/{emulator.bucket}/anything"),  # OSS, injected 5xx
        httpx.get(f"{emulator.oss_endpoint}/{emulator.bucket}/?acl"),  # OSS, its own refusal
        httpx.post(emulator.sts_endpoint, params={"Action": "AssumeRole"}),  # STS error
        httpx.get(f"{emulator.oss_endpoint}/__admin/health"),  # admin
    ]
    for reply in replies:
        dates = reply.headers.get_list("date")
        assert len(dates) == 1, (reply.request.url, dates)
        ahead = parsedate_to_datetime(dates[0]).timestamp() - time.time()
        assert 10 * 86_400 - 60 < ahead < 10 * 86_400 + 60, (reply.request.url, dates)
