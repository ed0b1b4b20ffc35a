"""Check family ``sts``: the responder's AccessKey works and may assume the camera role.

One AssumeRole call answers both: STS names a bad key, a bad signature (wrong secret), a role
that does not exist, or a caller the role does not trust / whose policy does not allow it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aliyunsdkcore.acs_exception.exceptions import ClientException, ServerException
from aliyunsdkcore.client import AcsClient
from aliyunsdksts.request.v20150401.AssumeRoleRequest import AssumeRoleRequest

from cloud.doctor.report import CheckResult, failed, passed
from cloud.doctor.settings import DoctorSettings
from cloud.errors import CloudError
from cloud.responder.policy import session_policy
from schemas.durations import MIN_SESSION_DURATION_S

NAME = "sts.assume_role"


@dataclass(frozen=True)
class Minted:
    """Temporary credentials the doctor minted (secrets kept out of the repr)."""

    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str = field(repr=False)


class AssumeRoleFailed(CloudError):
    """AssumeRole was refused or STS could not be reached.

    Args:
        code: STS's error code (``NoPermission``, ``EntityNotExist.Role`` ...) or the SDK's
            client-side code for a network failure.
        network: the call never got an answer.
    """

    def __init__(self, code: str, message: str, *, network: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.network = network


def probe_prefix(s: DoctorSettings) -> str:
    """The throw-away device's key prefix."""
    return s.responder.grant.prefix_for(s.probe_device)


def probe_policy(s: DoctorSettings) -> str:
    """The production session policy (``append`` access) for the throw-away device."""
    return session_policy(bucket=s.responder.grant.bucket, prefix=probe_prefix(s), access="append")


def assume(s: DoctorSettings, *, policy: str | None, session_name: str) -> Minted:
    """AssumeRole with the responder's key, as the responder does (no retries).

    Args:
        s: the doctor's settings.
        policy: the session policy, or None for the role's own permissions.
        session_name: the RoleSessionName.

    Raises:
        AssumeRoleFailed: refused or unreachable.
    """
    sts = s.responder.sts
    client = AcsClient(
        sts.access_key_id,
        sts.access_key_secret.get_secret_value(),
        sts.region,
        auto_retry=False,
        connect_timeout=s.timeout_s,
        timeout=s.timeout_s,
        proxy={"http": None, "https": None},
    )
    request = AssumeRoleRequest()
    request.set_endpoint(sts.endpoint)
    request.set_RoleArn(sts.role_arn)
    request.set_RoleSessionName(session_name)
    request.set_DurationSeconds(MIN_SESSION_DURATION_S)
    if policy is not None:
        request.set_Policy(policy)
    try:
        body: Any = client.do_action_with_exception(request)
    except ServerException as exc:
        code = str(exc.get_error_code())
        raise AssumeRoleFailed(code, f"STS refused AssumeRole: {code}") from None
    except ClientException as exc:
        code = str(exc.get_error_code())
        raise AssumeRoleFailed(code, f"STS not reachable ({code})", network=True) from None
    creds = json.loads(body)["Credentials"]
    return Minted(
        str(creds["AccessKeyId"]), str(creds["AccessKeySecret"]), str(creds["SecurityToken"])
    )


def explain(exc: AssumeRoleFailed, s: DoctorSettings) -> tuple[str, str]:
    """Reason and fix for a failed AssumeRole, in the operator's terms."""
    key = s.responder.sts.access_key_id
    role = s.responder.sts.role_arn
    code = exc.code
    if exc.network:
        return (
            f"STS at {s.responder.sts.endpoint} cannot be reached ({code})",
            "check [sts] endpoint and that this host can reach it (firewall, DNS, proxy)",
        )
    if code.startswith("InvalidAccessKeyId"):
        return (
            f"STS does not know the AccessKey {key}",
            "set [sts] access_key_id to the responder RAM user's AccessKey id "
            "(deploy/aliyun/README.md, step 'responder user')",
        )
    if code in {"SignatureDoesNotMatch", "InvalidAccessKeySecret", "IncompleteSignature"}:
        return (
            f"STS rejected the signature: the AccessKey secret does not belong to {key}",
            "put the secret of that AccessKey in the file named by [sts] access_key_secret_file "
            "(or OSSMEDIA_STS_ACCESS_KEY_SECRET)",
        )
    if code in {"EntityNotExist.Role", "InvalidParameter.RoleArn"}:
        return (
            f"the role {role} does not exist ({code})",
            "set [sts] role_arn to the camera role's ARN exactly as RAM shows it "
            "(acs:ram::<account id>:role/<name>)",
        )
    if code == "NoPermission":
        return (
            f"the AccessKey {key} may not assume {role}",
            "make the role's trust policy name the responder's RAM user "
            "(deploy/aliyun/camera-role-trust-policy.json) and attach "
            "deploy/aliyun/responder-user-policy.json to that user",
        )
    return (f"STS refused AssumeRole: {code}", "see the STS error code in the RAM documentation")


def check_sts(s: DoctorSettings) -> CheckResult:
    """AssumeRole with the responder's key and the production session policy."""
    try:
        assume(s, policy=probe_policy(s), session_name=s.probe_device)
    except AssumeRoleFailed as exc:
        return failed(NAME, *explain(exc, s))
    return passed(NAME, f"{s.responder.sts.access_key_id} assumed {s.responder.sts.role_arn}")
