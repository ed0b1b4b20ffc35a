"""RAM policy grammar and evaluation."""

from __future__ import annotations

from typing import Any

import pytest

from simulator.iam import Policy, PolicyGrammarError, is_allowed

BUCKET_OBJECTS = "acs:oss:*:*:ossmedia/*"


def policy(*statements: dict[str, Any]) -> Policy:
    return Policy.parse({"Version": "1", "Statement": list(statements)})


def allow(action: Any, resource: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any, resource: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def test_allow_matches_wildcard_resource_and_says_nothing_otherwise() -> None:
    p = policy(allow("oss:PutObject", BUCKET_OBJECTS))
    assert p.evaluate("oss:PutObject", "acs:oss:*:*:ossmedia/videos/a.ts", {}) == "allow"
    assert p.evaluate("oss:GetObject", "acs:oss:*:*:ossmedia/videos/a.ts", {}) == "none"
    assert p.evaluate("oss:PutObject", "acs:oss:*:*:other/videos/a.ts", {}) == "none"


def test_object_wildcard_does_not_cover_the_bucket_itself() -> None:
    p = policy(allow("oss:ListObjects", BUCKET_OBJECTS))
    assert p.evaluate("oss:ListObjects", "acs:oss:*:*:ossmedia", {}) == "none"


def test_action_names_match_case_insensitively_resources_case_sensitively() -> None:
    p = policy(allow("oss:putobject", "acs:oss:*:*:ossmedia/Cam/*"))
    assert p.evaluate("oss:PutObject", "acs:oss:*:*:ossmedia/Cam/x", {}) == "allow"
    assert p.evaluate("oss:PutObject", "acs:oss:*:*:ossmedia/cam/x", {}) == "none"


def test_question_mark_and_star_globs_in_actions_and_resources() -> None:
    p = policy(allow("oss:Get*", "acs:oss:*:*:ossmedia/cam-?/*"))
    assert p.evaluate("oss:GetObjectAcl", "acs:oss:*:*:ossmedia/cam-1/x", {}) == "allow"
    assert p.evaluate("oss:GetObject", "acs:oss:*:*:ossmedia/cam-12/x", {}) == "none"
    assert p.evaluate("oss:PutObject", "acs:oss:*:*:ossmedia/cam-1/x", {}) == "none"


def test_explicit_deny_wins_within_a_policy_and_across_policies() -> None:
    p = policy(allow("oss:*", "*"), deny("oss:DeleteObject", BUCKET_OBJECTS))
    assert p.evaluate("oss:DeleteObject", "acs:oss:*:*:ossmedia/a", {}) == "deny"
    assert p.evaluate("oss:PutObject", "acs:oss:*:*:ossmedia/a", {}) == "allow"
    denier = policy(deny("oss:PutObject", "*"))
    assert not is_allowed([policy(allow("*", "*")), denier], None, "oss:PutObject", "x", {})


def test_session_policy_intersects_with_identity_policies() -> None:
    role = [policy(allow(["oss:PutObject", "oss:GetObject"], BUCKET_OBJECTS))]
    session = policy(allow("oss:PutObject", "acs:oss:*:*:ossmedia/videos/cam-1/*"))
    own = "acs:oss:*:*:ossmedia/videos/cam-1/a.ts"
    other = "acs:oss:*:*:ossmedia/videos/cam-2/a.ts"
    assert is_allowed(role, session, "oss:PutObject", own, {})
    assert not is_allowed(role, session, "oss:PutObject", other, {})
    assert not is_allowed(role, session, "oss:GetObject", own, {})  # role yes, session no
    wide_session = policy(allow("oss:*", "*"))
    assert not is_allowed(role, wide_session, "oss:DeleteObject", own, {})  # session yes, role no
    assert is_allowed(role, None, "oss:GetObject", other, {})


def test_deny_in_session_policy_wins() -> None:
    role = [policy(allow("oss:*", "*"))]
    session = policy(allow("oss:*", "*"), deny("oss:PutObject", "*"))
    assert not is_allowed(role, session, "oss:PutObject", "acs:oss:*:*:b/k", {})
    assert is_allowed(role, session, "oss:GetObject", "acs:oss:*:*:b/k", {})


def test_no_policies_means_implicit_deny() -> None:
    assert not is_allowed([], None, "oss:GetObject", "acs:oss:*:*:b/k", {})


def test_not_action_and_not_resource() -> None:
    p = policy(
        {"Effect": "Allow", "NotAction": "oss:Delete*", "Resource": "*"},
        {"Effect": "Deny", "Action": "oss:*", "NotResource": "acs:oss:*:*:ossmedia/*"},
    )
    assert p.evaluate("oss:PutObject", "acs:oss:*:*:ossmedia/k", {}) == "allow"
    assert p.evaluate("oss:DeleteObject", "acs:oss:*:*:ossmedia/k", {}) == "none"
    assert p.evaluate("oss:PutObject", "acs:oss:*:*:elsewhere/k", {}) == "deny"


LIST = "acs:oss:*:*:myphotos"


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ({"oss:Prefix": "hangzhou/", "oss:Delimiter": "/"}, "allow"),
        ({"oss:Prefix": "hangzhou/2015/05", "oss:Delimiter": "/"}, "allow"),
        ({"oss:Prefix": "", "oss:Delimiter": "/"}, "allow"),
        ({"oss:Prefix": "beijing/", "oss:Delimiter": "/"}, "none"),
        ({"oss:Prefix": "hangzhou/", "oss:Delimiter": ""}, "none"),
        ({"oss:Prefix": "hangzhou/"}, "none"),  # missing key: a positive operator fails
    ],
)
def test_string_like_conditions_on_listing(context: dict[str, str], expected: str) -> None:
    p = policy(
        allow(
            "oss:ListObjects",
            LIST,
            Condition={
                "StringLike": {
                    "oss:Delimiter": "/",
                    "oss:Prefix": ["", "hangzhou/", "hangzhou/2015/*"],
                }
            },
        )
    )
    assert p.evaluate("oss:ListObjects", LIST, context) == expected


@pytest.mark.parametrize(
    ("operator", "values", "context", "expected"),
    [
        ("StringEquals", ["a", "b"], "b", "allow"),
        ("StringEquals", "a", "A", "none"),
        ("StringNotEquals", "a", "b", "allow"),
        ("StringNotEquals", "a", "a", "none"),
        ("StringEqualsIgnoreCase", "Hello", "hELLO", "allow"),
        ("StringNotEqualsIgnoreCase", "Hello", "hello", "none"),
        ("StringNotLike", "cam-*", "cam-7", "none"),
        ("StringNotLike", "cam-*", "dog-7", "allow"),
        ("IpAddress", ["10.0.0.0/8", "192.168.1.0/24"], "192.168.1.9", "allow"),
        ("IpAddress", "10.0.0.0/8", "11.0.0.1", "none"),
        ("IpAddress", "10.0.0.0/8", "not-an-ip", "none"),
        ("IpAddress", "::1/128", "::1", "allow"),
        ("NotIpAddress", "127.0.0.0/8", "127.0.0.1", "none"),
        ("NotIpAddress", "127.0.0.0/8", "10.1.1.1", "allow"),
        ("Bool", "false", "false", "allow"),
        ("Bool", True, "true", "allow"),
        ("Bool", "true", "false", "none"),
        ("NumericLessThan", 100, "99", "allow"),
        ("NumericLessThan", 100, "100", "none"),
        ("NumericLessThanEquals", "100", "100", "allow"),
        ("NumericGreaterThan", 5, "5.5", "allow"),
        ("NumericGreaterThanEquals", 5, "4", "none"),
        ("NumericEquals", 5, "five", "none"),
        ("NumericNotEquals", 5, "6", "allow"),
        ("DateLessThan", "2030-01-01T00:00:00Z", "2029-12-31T23:59:59Z", "allow"),
        ("DateLessThan", "2030-01-01T00:00:00Z", "2030-01-01T00:00:00Z", "none"),
        ("DateGreaterThanEquals", "2030-01-01T00:00:00Z", "2030-01-01T00:00:00Z", "allow"),
        ("DateGreaterThan", "2030-01-01T00:00:00Z", "1893456001", "allow"),
    ],
)
def test_condition_operators(operator: str, values: Any, context: str, expected: str) -> None:
    p = policy(allow("oss:GetObject", "*", Condition={operator: {"test:Key": values}}))
    assert p.evaluate("oss:GetObject", "acs:oss:*:*:b/k", {"test:Key": context}) == expected


def test_negated_operators_hold_when_the_key_is_missing() -> None:
    p = policy(
        allow("oss:GetObject", "*", Condition={"NotIpAddress": {"acs:SourceIp": "10.0.0.0/8"}})
    )
    assert p.evaluate("oss:GetObject", "acs:oss:*:*:b/k", {}) == "allow"


def test_conditions_are_anded_values_ored_and_keys_case_insensitive() -> None:
    p = policy(
        allow(
            "oss:GetObject",
            "*",
            Condition={
                "IpAddress": {"acs:SourceIp": ["127.0.0.0/8", "10.0.0.0/8"]},
                "Bool": {"acs:SecureTransport": "false"},
            },
        )
    )
    resource = "acs:oss:*:*:b/k"
    assert (
        p.evaluate(
            "oss:GetObject", resource, {"ACS:SourceIp": "10.2.3.4", "acs:SecureTransport": "false"}
        )
        == "allow"
    )
    assert (
        p.evaluate(
            "oss:GetObject", resource, {"acs:SourceIp": "10.2.3.4", "acs:SecureTransport": "true"}
        )
        == "none"
    )


def test_multi_valued_context() -> None:
    p = policy(allow("oss:GetObject", "*", Condition={"StringEquals": {"k": "b"}}))
    n = policy(allow("oss:GetObject", "*", Condition={"StringNotEquals": {"k": "b"}}))
    assert p.evaluate("oss:GetObject", "r", {"k": ["a", "b"]}) == "allow"
    assert n.evaluate("oss:GetObject", "r", {"k": ["a", "b"]}) == "none"
    assert n.evaluate("oss:GetObject", "r", {"k": ["a", "c"]}) == "allow"


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ("not json", "not valid JSON"),
        ("[]", "JSON object"),
        ({"Version": "2", "Statement": []}, "Version"),
        ({"Version": 1, "Statement": []}, "Version"),
        ({"Version": "1"}, "Statement"),
        ({"Version": "1", "Statement": [], "Extra": 1}, "unknown top-level"),
        ({"Version": "1", "Statement": ["x"]}, "must be an object"),
        (
            {"Version": "1", "Statement": [{"Effect": "Maybe", "Action": "*", "Resource": "*"}]},
            "Effect",
        ),
        (
            {"Version": "1", "Statement": [{"Effect": "Allow", "Resource": "*"}]},
            "Action or NotAction",
        ),
        (
            {
                "Version": "1",
                "Statement": [
                    {"Effect": "Allow", "Action": "*", "NotAction": "*", "Resource": "*"}
                ],
            },
            "exactly one",
        ),
        (
            {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*"}]},
            "Resource or NotResource",
        ),
        (
            {"Version": "1", "Statement": [{"Effect": "Allow", "Action": [], "Resource": "*"}]},
            "must not be empty",
        ),
        (
            {
                "Version": "1",
                "Statement": [{"Effect": "Allow", "Action": "PutObject", "Resource": "*"}],
            },
            "service:Action",
        ),
        (
            {"Version": "1", "Statement": [{"Effect": "Allow", "Action": [3], "Resource": "*"}]},
            "non-empty strings",
        ),
        ({"Version": "1", "Statement": [allow("*", "*", Principal="*")]}, "unknown fields"),
        (
            {"Version": "1", "Statement": [allow("*", "*", Condition={"Sometimes": {"k": "v"}})]},
            "unknown operator",
        ),
        (
            {
                "Version": "1",
                "Statement": [
                    allow("*", "*", Condition={"IpAddress": {"acs:SourceIp": "300.1.1.1"}})
                ],
            },
            "invalid value",
        ),
        (
            {
                "Version": "1",
                "Statement": [allow("*", "*", Condition={"NumericEquals": {"k": "x"}})],
            },
            "invalid value",
        ),
        (
            {"Version": "1", "Statement": [allow("*", "*", Condition={"Bool": {"k": "maybe"}})]},
            "invalid value",
        ),
        (
            {
                "Version": "1",
                "Statement": [allow("*", "*", Condition={"DateLessThan": {"k": "soon"}})],
            },
            "invalid value",
        ),
        (
            {"Version": "1", "Statement": [allow("*", "*", Condition={"StringEquals": {"k": []}})]},
            "at least one",
        ),
        (
            {
                "Version": "1",
                "Statement": [allow("*", "*", Condition={"StringEquals": {"k": {"a": 1}}})],
            },
            "string, number",
        ),
        (
            {"Version": "1", "Statement": [allow("*", "*", Condition={"StringEquals": {}})]},
            "non-empty object",
        ),
        ({"Version": "1", "Statement": [allow("*", "*", Condition=[])]}, "must be an object"),
    ],
)
def test_grammar_errors_name_the_problem(document: Any, reason: str) -> None:
    with pytest.raises(PolicyGrammarError) as info:
        Policy.parse(document)
    assert reason in info.value.reason
    assert info.value.http_status == 400


def test_text_and_mapping_parse_to_the_same_canonical_document() -> None:
    text = (
        '{"Statement":[{"Resource":"*","Effect":"Allow","Action":"oss:GetObject"}],"Version":"1"}'
    )
    a = Policy.parse(text)
    b = Policy.parse({"Version": "1", "Statement": [allow("oss:GetObject", "*")]})
    assert a.document == b.document
    assert Policy.parse(a.document) == a
    assert "Statement" not in repr(a)
