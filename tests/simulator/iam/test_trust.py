"""Role trust policies: grammar, and who they let in."""

from __future__ import annotations

import pytest

from simulator.iam import PolicyGrammarError
from simulator.iam.entities import AccessKey
from simulator.iam.trust import TrustPolicy

ACCOUNT = "1234567890123456"


def _user(name: str | None, account: str = ACCOUNT) -> frozenset[str]:
    return AccessKey("LTAI5tTrust0001", "s", account, name, ()).principal().ram_names()


def _trust(*statements: dict[str, object]) -> TrustPolicy:
    return TrustPolicy.parse({"Version": "1", "Statement": list(statements)})


def _allow(*ram: str) -> dict[str, object]:
    return {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"RAM": list(ram)}}


def test_a_named_user_is_trusted_and_no_one_else() -> None:
    trust = _trust(_allow(f"acs:ram::{ACCOUNT}:user/ossmedia-responder"))
    assert trust.trusts(_user("ossmedia-responder"))
    assert not trust.trusts(_user("ossmedia-console"))
    assert not trust.trusts(_user(None))  # not even the account's root key
    assert not trust.trusts(_user("ossmedia-responder", "6543210987654321"))


def test_the_account_root_trusts_every_identity_of_the_account() -> None:
    trust = _trust(_allow(f"acs:ram::{ACCOUNT}:root"))
    assert trust.trusts(_user("anyone"))
    assert trust.trusts(_user(None))
    assert not trust.trusts(_user("anyone", "6543210987654321"))


def test_deny_wins() -> None:
    trust = _trust(
        _allow(ACCOUNT),
        {**_allow(f"acs:ram::{ACCOUNT}:user/intruder"), "Effect": "Deny"},
    )
    assert trust.trusts(_user("responder"))
    assert not trust.trusts(_user("intruder"))


def test_other_actions_do_not_let_anyone_in() -> None:
    trust = _trust({**_allow(ACCOUNT), "Action": "sts:GetCallerIdentity"})
    assert not trust.trusts(_user("responder"))


@pytest.mark.parametrize(
    "statement",
    [
        {"Effect": "Allow", "Action": "sts:AssumeRole"},
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Users": ["x"]}},
        {**_allow(ACCOUNT), "Resource": "*"},
        {**_allow(ACCOUNT), "Condition": {"Bool": {"acs:MFAPresent": "true"}}},
        {**_allow(ACCOUNT), "Effect": "Maybe"},
    ],
)
def test_a_malformed_trust_policy_is_refused(statement: dict[str, object]) -> None:
    with pytest.raises(PolicyGrammarError):
        _trust(statement)


def test_a_role_keeps_its_trust_policy_across_a_snapshot() -> None:
    from simulator.iam import Iam

    iam = Iam()
    iam.add_account(ACCOUNT)
    arn = iam.add_role(
        ACCOUNT,
        "ossmedia-camera",
        policies=[],
        trust_policy=_trust(_allow(f"acs:ram::{ACCOUNT}:user/ossmedia-responder")).document,
    )
    restored = Iam()
    restored.restore(iam.snapshot())
    role = restored.role(arn)
    assert role is not None
    assert role.trusts(AccessKey("LTAI5tT", "s", ACCOUNT, "ossmedia-responder", ()).principal())
    assert not role.trusts(AccessKey("LTAI5tU", "s", ACCOUNT, "other", ()).principal())
