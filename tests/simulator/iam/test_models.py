"""The IAM model: keys, roles, sessions, resolve/assume_role errors, persistence."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from simulator.base.errors import EmulatorConfigError
from simulator.iam import Iam, IamError, IamStore
from simulator.sts.assume_role import assume_role
from simulator.sts.errors import StsError

ACCOUNT = "1000000000000001"
OTHER = "2000000000000002"
WRITER = {
    "Version": "1",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["oss:PutObject", "oss:GetObject"],
            "Resource": "acs:oss:*:*:ossmedia/*",
        }
    ],
}


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_iam(clock: FakeClock, store: IamStore | None = None) -> Iam:
    iam = Iam(clock=clock, rng=random.Random(7), store=store)
    if not iam.accounts:
        iam.add_account(ACCOUNT)
        iam.add_account(OTHER)
        iam.add_access_key(ACCOUNT, "LTAIroot", "root-secret")
        iam.add_access_key(OTHER, "LTAIother", "other-secret")
        iam.add_role(ACCOUNT, "Camera-Writer", policies=[WRITER])
    return iam


@pytest.fixture
def iam(clock: FakeClock) -> Iam:
    return make_iam(clock)


ARN = f"acs:ram::{ACCOUNT}:role/camera-writer"


def assume(iam: Iam, access_key_id: str = "LTAIroot", **kwargs: Any) -> Any:
    _, caller = iam.resolve(access_key_id, None)
    args: dict[str, Any] = {
        "role_arn": ARN,
        "session_name": "cam-01",
        "duration_s": 900,
        "policy": None,
    }
    args.update(kwargs)
    return assume_role(iam, caller, **args)


def test_root_key_resolves_to_a_root_principal_allowed_everything(iam: Iam) -> None:
    secret, principal = iam.resolve("LTAIroot", None)
    assert secret == "root-secret"
    assert principal.kind == "root"
    assert principal.account_id == ACCOUNT
    assert iam.is_allowed(principal, "oss:DeleteBucket", "acs:oss:*:*:anything", {})


def test_temporary_credentials_look_real_and_resolve(iam: Iam, clock: FakeClock) -> None:
    creds = assume(iam)
    assert creds.access_key_id.startswith("STS.")
    assert creds.security_token.startswith("CAIS")
    assert all(c in creds.security_token for c in "+/=")
    assert len(creds.security_token) > 300
    assert creds.expiration == clock.now + 900
    assert creds.assumed_role_arn == f"{ARN}/cam-01"
    assert creds.assumed_role_id.endswith(":cam-01")
    assert creds.access_key_secret not in repr(creds)
    assert creds.security_token not in repr(creds)
    secret, principal = iam.resolve(creds.access_key_id, creds.security_token)
    assert secret == creds.access_key_secret
    assert principal.kind == "assumed_role"
    assert principal.role_arn == ARN
    assert principal.session_name == "cam-01"
    assert iam.is_allowed(principal, "oss:PutObject", "acs:oss:*:*:ossmedia/x", {})
    assert not iam.is_allowed(principal, "oss:DeleteObject", "acs:oss:*:*:ossmedia/x", {})


def test_role_lookup_is_case_insensitive(iam: Iam) -> None:
    creds = assume(iam, role_arn=f"acs:ram::{ACCOUNT}:role/CAMERA-writer")
    assert creds.principal.role_arn == ARN


def test_session_policy_narrows_the_role(iam: Iam) -> None:
    session = {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "oss:PutObject",
                                              "Resource": "acs:oss:*:*:ossmedia/videos/cam-01/*"}]}  # fmt: skip
    creds = assume(iam, policy=json.dumps(session))
    _, principal = iam.resolve(creds.access_key_id, creds.security_token)
    assert iam.is_allowed(principal, "oss:PutObject", "acs:oss:*:*:ossmedia/videos/cam-01/a", {})
    assert not iam.is_allowed(
        principal, "oss:PutObject", "acs:oss:*:*:ossmedia/videos/cam-02/a", {}
    )
    assert not iam.is_allowed(
        principal, "oss:GetObject", "acs:oss:*:*:ossmedia/videos/cam-01/a", {}
    )


@pytest.mark.parametrize(
    ("key", "token_of", "code"),
    [
        ("LTAInobody", None, "InvalidAccessKeyId"),
        ("LTAIroot", "own", "InvalidSecurityToken"),  # a token with a long-term key
        ("STS", None, "InvalidSecurityToken"),  # STS key without its token
        ("STS", "garbage", "InvalidSecurityToken"),
        ("STS", "other", "AccessKeyIdAndSecurityTokenNotMatch"),
        ("STS.unknown", "own", "AccessKeyIdAndSecurityTokenNotMatch"),
        ("STS.unknown", None, "InvalidAccessKeyId"),
    ],
)
def test_resolve_errors(iam: Iam, key: str, token_of: str | None, code: str) -> None:
    own, other = assume(iam), assume(iam, session_name="cam-02")
    tokens = {
        None: None,
        "own": own.security_token,
        "other": other.security_token,
        "garbage": "CAISxyz",
    }
    access_key_id = own.access_key_id if key == "STS" else key
    with pytest.raises(IamError) as info:
        iam.resolve(access_key_id, tokens[token_of])
    assert info.value.code == code
    assert info.value.http_status == 403
    assert own.security_token not in str(info.value) + repr(info.value)


def test_expired_token(iam: Iam, clock: FakeClock) -> None:
    creds = assume(iam)
    clock.now += 900
    iam.resolve(creds.access_key_id, creds.security_token)  # the last valid second
    clock.now += 1
    with pytest.raises(IamError) as info:
        iam.resolve(creds.access_key_id, creds.security_token)
    assert info.value.code == "SecurityTokenExpired"
    assert info.value.message == "The security token you provided has expired."


@pytest.mark.parametrize(
    ("kwargs", "code", "status"),
    [
        ({"role_arn": "acs:ram::x:role/camera-writer"}, "InvalidParameter.RoleArn", 400),
        ({"role_arn": "camera-writer"}, "InvalidParameter.RoleArn", 400),
        ({"role_arn": f"acs:ram::{ACCOUNT}:role/nope"}, "EntityNotExist.Role", 404),
        ({"session_name": "a"}, "InvalidParameter.RoleSessionName", 400),
        ({"session_name": "has space"}, "InvalidParameter.RoleSessionName", 400),
        ({"session_name": "x" * 65}, "InvalidParameter.RoleSessionName", 400),
        ({"duration_s": 899}, "InvalidParameter.DurationSeconds", 400),
        ({"duration_s": 3601}, "InvalidParameter.DurationSeconds", 400),
        ({"policy": "{"}, "InvalidParameter.PolicyGrammar", 400),
        (
            {"policy": json.dumps({"Version": "1", "Statement": [{"Effect": "Allow"}]})},
            "InvalidParameter.PolicyGrammar",
            400,
        ),
        ({"policy": "x" * 1025}, "InvalidParameter.PolicySize", 400),
    ],
)
def test_assume_role_parameter_errors(
    iam: Iam, kwargs: dict[str, Any], code: str, status: int
) -> None:
    with pytest.raises(StsError) as info:
        assume(iam, **kwargs)
    assert (info.value.code, info.value.http_status) == (code, status)


def test_duration_limits_follow_the_role(iam: Iam) -> None:
    iam.add_role(ACCOUNT, "long", policies=[WRITER], max_session_duration=43200)
    arn = f"acs:ram::{ACCOUNT}:role/long"
    assert assume(iam, role_arn=arn, duration_s=43200).expiration > 0
    with pytest.raises(StsError) as info:
        assume(iam, role_arn=arn, duration_s=43201)
    assert info.value.message == "The Min/Max value of DurationSeconds is 15min/12hr."
    assert assume(iam, session_name="x" * 64, duration_s=900)


def test_untrusted_account_and_unpermitted_user_get_no_permission(iam: Iam) -> None:
    with pytest.raises(StsError) as info:
        assume(iam, access_key_id="LTAIother")
    assert (info.value.code, info.value.http_status) == ("NoPermission", 403)
    iam.add_access_key(ACCOUNT, "LTAIuser", "s", user="alice", policies=[WRITER])
    with pytest.raises(StsError) as info:
        assume(iam, access_key_id="LTAIuser")
    assert info.value.code == "NoPermission"


def test_cross_account_trust_and_user_permission(iam: Iam) -> None:
    iam.add_role(ACCOUNT, "shared", policies=[WRITER], trusted_accounts=[ACCOUNT, OTHER])
    arn = f"acs:ram::{ACCOUNT}:role/shared"
    assert assume(iam, access_key_id="LTAIother", role_arn=arn).principal.account_id == ACCOUNT
    may_assume = {
        "Version": "1",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": arn}],
    }
    iam.add_access_key(ACCOUNT, "LTAIuser", "s", user="bob", policies=[may_assume])
    assert assume(iam, access_key_id="LTAIuser", role_arn=arn)
    with pytest.raises(StsError):
        assume(iam, access_key_id="LTAIuser")  # permission names only the shared role


def test_configuration_errors(iam: Iam) -> None:
    with pytest.raises(EmulatorConfigError):
        iam.add_account("abc")
    with pytest.raises(EmulatorConfigError):
        iam.add_access_key("3000000000000003", "LTAInew", "s")
    with pytest.raises(EmulatorConfigError):
        iam.add_access_key(ACCOUNT, "LTAIroot", "again")
    with pytest.raises(EmulatorConfigError):
        iam.add_access_key(ACCOUNT, "STS.reserved", "s")
    with pytest.raises(EmulatorConfigError):
        iam.add_role(ACCOUNT, "bad name", policies=[])
    with pytest.raises(EmulatorConfigError):
        iam.add_role(ACCOUNT, "short", policies=[], max_session_duration=60)


def test_snapshot_round_trip_keeps_keys_roles_and_sessions(iam: Iam, clock: FakeClock) -> None:
    creds = assume(iam)
    snapshot = json.loads(json.dumps(iam.snapshot()))
    copy = Iam(clock=clock)
    copy.restore(snapshot)
    assert copy.resolve("LTAIroot", None)[0] == "root-secret"
    secret, principal = copy.resolve(creds.access_key_id, creds.security_token)
    assert secret == creds.access_key_secret
    assert copy.is_allowed(principal, "oss:PutObject", "acs:oss:*:*:ossmedia/a", {})


def test_durable_store_survives_a_restart(tmp_path: Path, clock: FakeClock) -> None:
    first = make_iam(clock, IamStore(tmp_path))
    creds = assume(first)
    assert (tmp_path / "iam.json").exists()
    assert (tmp_path / "iam-sessions.jsonl").read_text().count("\n") == 1
    # The second instance reads snapshot + journal without first.flush().
    second = make_iam(clock, IamStore(tmp_path))
    assert second.resolve(creds.access_key_id, creds.security_token)[0] == creds.access_key_secret
    assert (tmp_path / "iam-sessions.jsonl").read_text() == ""  # compacted on load
    assert oct((tmp_path / "iam.json").stat().st_mode & 0o777) == "0o600"


def test_the_session_journal_is_owner_only(tmp_path: Path, clock: FakeClock) -> None:
    journal = tmp_path / "iam-sessions.jsonl"
    journal.write_text("")
    journal.chmod(0o644)  # as an earlier version left it
    iam = make_iam(clock, IamStore(tmp_path))  # compacts: snapshot written, journal emptied
    assert oct(journal.stat().st_mode & 0o777) == "0o600"
    journal.chmod(0o644)
    assume(iam)  # appends a minted session (secret and token)
    assert journal.read_text().count("\n") == 1
    assert oct(journal.stat().st_mode & 0o777) == "0o600"


def test_torn_journal_line_is_ignored(tmp_path: Path, clock: FakeClock) -> None:
    first = make_iam(clock, IamStore(tmp_path, fsync=True))
    creds = assume(first)
    with open(tmp_path / "iam-sessions.jsonl", "a") as journal:
        journal.write('{"access_key_id": "STS.torn", "sec')
    second = make_iam(clock, IamStore(tmp_path))
    assert second.resolve(creds.access_key_id, creds.security_token)


def test_long_expired_sessions_are_forgotten(clock: FakeClock) -> None:
    iam = Iam(clock=clock, rng=random.Random(1), retain_expired_s=60)
    iam.add_account(ACCOUNT)
    iam.add_access_key(ACCOUNT, "LTAIroot", "s")
    iam.add_role(ACCOUNT, "camera-writer", policies=[WRITER])
    old = assume(iam)
    clock.now += 900 + 61
    for _ in range(256):  # pruning is amortised over mints
        assume(iam)
    with pytest.raises(IamError) as info:
        iam.resolve(old.access_key_id, old.security_token)
    assert info.value.code == "InvalidAccessKeyId"
