"""AssumeRole through the unmodified aliyunsdkcore + aliyunsdksts against the emulator."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.auth.credentials import StsTokenCredential
from aliyunsdkcore.client import AcsClient
from aliyunsdksts.request.v20150401.AssumeRoleRequest import AssumeRoleRequest

from simulator.emulator.handle import EmulatorHandle

NO_PROXY = {"http": None, "https": None}


def client(handle: EmulatorHandle, key: str | None = None, secret: str | None = None) -> AcsClient:
    return AcsClient(
        key or handle.access_key_id,
        secret or handle.access_key_secret,
        handle.region,
        proxy=NO_PROXY,
    )


def request(
    handle: EmulatorHandle,
    *,
    role_arn: str | None = None,
    session: str = "cam-0001",
    duration: int | None = 900,
    policy: str | None = None,
    method: str = "POST",
) -> AssumeRoleRequest:
    req = AssumeRoleRequest()
    req.set_RoleArn(role_arn or handle.role_arn)
    req.set_RoleSessionName(session)
    if duration is not None:
        req.set_DurationSeconds(duration)
    if policy is not None:
        req.set_Policy(policy)
    req.set_method(method)
    req.set_endpoint(handle.sts_endpoint)
    return req


def call(acs: AcsClient, req: AssumeRoleRequest) -> dict[str, Any]:
    reply: dict[str, Any] = json.loads(acs.do_action_with_exception(req))
    return reply


def server_error(acs: AcsClient, req: AssumeRoleRequest) -> ServerException:
    with pytest.raises(ServerException) as info:
        acs.do_action_with_exception(req)
    return info.value


def cam_policy(prefix: str) -> str:
    return json.dumps(
        {
            "Version": "1",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["oss:PutObject"],
                    "Resource": [f"acs:oss:*:*:ossmedia/{prefix}*"],
                }
            ],
        }
    )


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_success_reply_shape_and_usable_restricted_credentials(
    emulator: EmulatorHandle, method: str
) -> None:
    acs = client(emulator)
    now = emulator.emulator.clock() if emulator.emulator else 0.0
    reply = call(acs, request(emulator, policy=cam_policy("videos/cam-0001/"), method=method))
    assert set(reply) == {"RequestId", "AssumedRoleUser", "Credentials"}
    assert set(reply["Credentials"]) == {
        "AccessKeyId",
        "AccessKeySecret",
        "SecurityToken",
        "Expiration",
    }
    assert reply["AssumedRoleUser"]["Arn"] == f"{emulator.role_arn}/cam-0001"
    assert reply["AssumedRoleUser"]["AssumedRoleId"].endswith(":cam-0001")
    creds = reply["Credentials"]
    assert creds["AccessKeyId"].startswith("STS.")
    assert all(c in creds["SecurityToken"] for c in "+/=")
    from datetime import UTC, datetime

    expiration = datetime.strptime(creds["Expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs(expiration.timestamp() - (now + 900)) < 5
    # The minted session is the role's permissions narrowed by the session policy.
    secret, principal = emulator.iam.resolve(creds["AccessKeyId"], creds["SecurityToken"])
    assert secret == creds["AccessKeySecret"]
    allowed = emulator.iam.is_allowed
    assert allowed(principal, "oss:PutObject", "acs:oss:*:*:ossmedia/videos/cam-0001/a.ts", {})
    assert not allowed(principal, "oss:PutObject", "acs:oss:*:*:ossmedia/videos/cam-0002/a.ts", {})
    assert not allowed(principal, "oss:GetObject", "acs:oss:*:*:ossmedia/videos/cam-0001/a.ts", {})


def test_parameters_in_a_form_body(emulator: EmulatorHandle) -> None:
    req = AssumeRoleRequest()
    req.set_endpoint(emulator.sts_endpoint)
    req.add_body_params("RoleArn", emulator.role_arn)
    req.add_body_params("RoleSessionName", "cam-body")
    req.add_body_params("Policy", cam_policy("videos/cam body/"))  # a space: form-encoded as +
    reply = call(client(emulator), req)
    assert reply["AssumedRoleUser"]["Arn"].endswith("/cam-body")
    _, principal = emulator.iam.resolve(
        reply["Credentials"]["AccessKeyId"], reply["Credentials"]["SecurityToken"]
    )
    assert emulator.iam.is_allowed(
        principal, "oss:PutObject", "acs:oss:*:*:ossmedia/videos/cam body/x", {}
    )


def test_default_duration_is_an_hour(emulator: EmulatorHandle) -> None:
    reply = call(client(emulator), request(emulator, duration=None))
    _, principal = emulator.iam.resolve(
        reply["Credentials"]["AccessKeyId"], reply["Credentials"]["SecurityToken"]
    )
    assert principal.kind == "assumed_role"
    assert emulator.emulator is not None
    sessions = emulator.iam.snapshot()["sessions"]
    assert sessions[0]["expiration"] - emulator.emulator.clock() > 3590


def test_wrong_secret_is_reported_as_invalid_secret_by_the_sdk(emulator: EmulatorHandle) -> None:
    error = server_error(client(emulator, secret="not-the-secret"), request(emulator))
    # The SDK recognises its own string to sign in our message and renames the code.
    assert error.get_error_code() == "InvalidAccessKeySecret"
    assert error.get_http_status() == 400


def test_tampered_request_gets_signature_does_not_match(emulator: EmulatorHandle) -> None:
    req = request(emulator)
    url = req.get_url(emulator.region, emulator.access_key_id, emulator.access_key_secret)
    tampered = url.replace("RoleSessionName=cam-0001", "RoleSessionName=cam-9999")
    reply = httpx.post(f"{emulator.sts_endpoint}{tampered}")
    body = reply.json()
    assert reply.status_code == 400
    assert body["Code"] == "SignatureDoesNotMatch"
    prefix, _, server_string = body["Message"].partition(":")
    assert (
        prefix
        == "Specified signature is not matched with our calculation. server string to sign is"
    )
    assert server_string.startswith("POST&%2F&AccessKeyId%3D")
    assert "cam-9999" in server_string
    assert set(body) == {"RequestId", "HostId", "Code", "Message", "Recommend"}
    assert reply.headers["content-type"].startswith("application/json")


def test_unknown_access_key(emulator: EmulatorHandle) -> None:
    error = server_error(client(emulator, key="LTAInobody"), request(emulator))
    assert (error.get_error_code(), error.get_http_status()) == ("InvalidAccessKeyId.NotFound", 404)
    assert error.get_error_msg() == "Specified access key is not found."


def test_expired_timestamp(emulator: EmulatorHandle) -> None:
    emulator.advance_clock(16 * 60)
    error = server_error(client(emulator), request(emulator))
    assert (error.get_error_code(), error.get_http_status()) == ("InvalidTimeStamp.Expired", 400)
    emulator.advance_clock(-16 * 60 + 14 * 60)  # 14 minutes off is still accepted
    assert call(client(emulator), request(emulator))["Credentials"]


def test_nonce_reuse(emulator: EmulatorHandle) -> None:
    url = request(emulator).get_url(
        emulator.region, emulator.access_key_id, emulator.access_key_secret
    )
    first = httpx.post(f"{emulator.sts_endpoint}{url}")
    again = httpx.post(f"{emulator.sts_endpoint}{url}")
    assert first.status_code == 200
    assert (again.status_code, again.json()["Code"]) == (400, "SignatureNonceUsed")


def test_a_bad_signature_does_not_burn_the_nonce(emulator: EmulatorHandle) -> None:
    url = request(emulator).get_url(
        emulator.region, emulator.access_key_id, emulator.access_key_secret
    )
    forged = url.replace("Signature=", "Signature=AAAA")
    assert httpx.post(f"{emulator.sts_endpoint}{forged}").json()["Code"] == "SignatureDoesNotMatch"
    assert httpx.post(f"{emulator.sts_endpoint}{url}").status_code == 200


@pytest.mark.parametrize(
    ("change", "code", "status"),
    [
        ({"role_arn": "acs:ram::1000000000000001:role/nope"}, "EntityNotExist.Role", 404),
        ({"role_arn": "arn:aws:iam::1:role/x"}, "InvalidParameter.RoleArn", 400),
        ({"session": "a"}, "InvalidParameter.RoleSessionName", 400),
        ({"session": "cam/0001"}, "InvalidParameter.RoleSessionName", 400),
        ({"duration": 899}, "InvalidParameter.DurationSeconds", 400),
        ({"duration": 7200}, "InvalidParameter.DurationSeconds", 400),
        (
            {"policy": '{"Version":"1","Statement":[{"Effect":"Allow"}]}'},
            "InvalidParameter.PolicyGrammar",
            400,
        ),
        ({"policy": "{not json"}, "InvalidParameter.PolicyGrammar", 400),
        ({"policy": cam_policy("x" * 1100)}, "InvalidParameter.PolicySize", 400),
    ],
)
def test_parameter_errors(
    emulator: EmulatorHandle, change: dict[str, Any], code: str, status: int
) -> None:
    error = server_error(client(emulator), request(emulator, **change))
    assert (error.get_error_code(), error.get_http_status()) == (code, status)


def test_user_without_permission_and_untrusted_account(emulator: EmulatorHandle) -> None:
    emulator.add_access_key("LTAIuserNoRights0001", "user-secret", user="alice", policies=[])
    error = server_error(client(emulator, "LTAIuserNoRights0001", "user-secret"), request(emulator))
    assert (error.get_error_code(), error.get_http_status()) == ("NoPermission", 403)
    emulator.add_access_key("LTAIotherAccount0001", "other-secret", account_id="2000000000000002")
    error = server_error(
        client(emulator, "LTAIotherAccount0001", "other-secret"), request(emulator)
    )
    assert error.get_error_code() == "NoPermission"


def test_user_with_sts_permission(emulator: EmulatorHandle) -> None:
    grant = {
        "Version": "1",
        "Statement": [
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": emulator.role_arn}
        ],
    }
    emulator.add_access_key("LTAIuserMayAssume001", "user-secret", user="bob", policies=[grant])
    assert call(client(emulator, "LTAIuserMayAssume001", "user-secret"), request(emulator))[
        "Credentials"
    ]


def test_sts_credentials_as_caller(emulator: EmulatorHandle) -> None:
    chain = {
        "Version": "1",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}],
    }
    arn = emulator.create_role("chainer", [chain])
    # Mint in the past so the token can expire while request timestamps stay within 15 min.
    emulator.advance_clock(-500)
    creds = call(client(emulator), request(emulator, role_arn=arn))["Credentials"]
    token_credential = StsTokenCredential(
        creds["AccessKeyId"], creds["AccessKeySecret"], creds["SecurityToken"]
    )
    chained = AcsClient(region_id=emulator.region, credential=token_credential, proxy=NO_PROXY)
    assert call(chained, request(emulator))["AssumedRoleUser"]["Arn"].startswith(emulator.role_arn)
    emulator.advance_clock(950)  # 450 s ahead of real time, 50 s past the token's expiry
    error = server_error(chained, request(emulator))
    assert error.get_error_code() == "InvalidSecurityToken.Expired"


def test_throttling_per_account(make_emulator: Callable[..., EmulatorHandle]) -> None:
    handle = make_emulator(sts_rate=2)
    acs = client(handle)
    codes = []
    for _ in range(4):
        try:
            call(acs, request(handle))
            codes.append("ok")
        except ServerException as exc:
            codes.append(f"{exc.get_error_code()}/{exc.get_http_status()}")
    assert codes[:2] == ["ok", "ok"]
    assert "Throttling.User/400" in codes[2:]
    assert handle.stats()["requests"]["AssumeRole"]["400"] >= 1


@pytest.mark.parametrize(
    ("query", "code", "status"),
    [
        ("Action=GetCallerIdentity&Version=2015-04-01", "InvalidAction.NotFound", 404),
        ("Action=AssumeRole", "MissingVersion", 400),
        ("Action=AssumeRole&Version=2014-01-01", "InvalidVersion", 400),
        ("Action=AssumeRole&Version=2015-04-01", "MissingAccessKeyId", 400),
        (
            "Action=AssumeRole&Version=2015-04-01&AccessKeyId=x&Signature=x&SignatureMethod=HMAC-SHA1"
            "&SignatureNonce=1&Timestamp=yesterday",
            "InvalidTimeStamp.Format",
            400,
        ),
    ],
)
def test_malformed_rpc_requests(
    emulator: EmulatorHandle, query: str, code: str, status: int
) -> None:
    reply = httpx.get(f"{emulator.sts_endpoint}/?{query}")
    assert (reply.json()["Code"], reply.status_code) == (code, status)


def test_missing_role_arn_after_a_valid_signature(emulator: EmulatorHandle) -> None:
    req = AssumeRoleRequest()
    req.set_RoleSessionName("cam-0001")
    req.set_endpoint(emulator.sts_endpoint)
    error = server_error(client(emulator), req)
    assert error.get_error_code() == "MissingRoleArn"


def test_every_parameter_in_the_form_body(emulator: EmulatorHandle) -> None:
    url = request(emulator).get_url(
        emulator.region, emulator.access_key_id, emulator.access_key_secret
    )
    query = url.split("?", 1)[1]
    reply = httpx.post(
        f"{emulator.sts_endpoint}/",
        content=query.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["AssumedRoleUser"]["Arn"].endswith("/cam-0001")
    assert emulator.stats()["requests"] == {"AssumeRole": {"200": 1}}


def test_a_signature_made_for_post_fails_on_get(emulator: EmulatorHandle) -> None:
    url = request(emulator).get_url(
        emulator.region, emulator.access_key_id, emulator.access_key_secret
    )
    reply = httpx.get(f"{emulator.sts_endpoint}{url}")
    assert reply.json()["Code"] == "SignatureDoesNotMatch"
    assert reply.json()["Message"].split(":", 1)[1].startswith("GET&%2F&")
