"""The ACL model: validation, rendering and the project's rules."""

from __future__ import annotations

import io
from contextlib import redirect_stdout

import pytest
from pydantic import ValidationError

from simulator.broker import AclFile, AclRule, AclSection, BrokerConfigError, project_acl
from simulator.broker.__main__ import main
from simulator.broker.acl import check_prefix, check_username


def _rule_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_project_acl_confines_cameras_and_services() -> None:
    lines = _rule_lines(project_acl().render())
    assert lines == [
        "pattern write ossmedia/v1/%u/creds/req",
        "pattern write ossmedia/v1/%u/events",
        "pattern write ossmedia/v1/%u/status",
        "pattern read ossmedia/v1/%u/creds/res",
        "user svc.responder",
        "topic read ossmedia/v1/+/creds/req",
        "topic write ossmedia/v1/+/creds/res",
        "user svc.console",
        "topic read ossmedia/v1/+/events",
        "topic read ossmedia/v1/+/status",
    ]


def test_project_acl_custom_prefix_and_several_responders() -> None:
    acl = project_acl("acme/cams", responder_users=("svc.r1", "svc.r2"), console_users=())
    lines = _rule_lines(acl.render())
    assert "pattern read acme/cams/v1/%u/creds/res" in lines
    assert lines.count("topic read acme/cams/v1/+/creds/req") == 2
    assert "user svc.r1" in lines
    assert "user svc.r2" in lines
    assert not any("events" in line and line.startswith("topic") for line in lines)


@pytest.mark.parametrize("prefix", ["", "a//b", "a/+", "#", "$SYS", "a%u", "a b", "a\nb", "/a"])
def test_bad_prefixes_are_refused(prefix: str) -> None:
    with pytest.raises(BrokerConfigError, match="invalid topic prefix"):
        check_prefix(prefix)


@pytest.mark.parametrize("name", ["responder", "cam-0001", "ab"])
def test_service_account_that_could_be_a_device_id_is_refused(name: str) -> None:
    with pytest.raises(BrokerConfigError, match="valid device_id"):
        project_acl(responder_users=(name,))


@pytest.mark.parametrize("name", ["", "a b", "a:b", "a+", "a#", "a/b", "a\tb", "a\x00"])
def test_bad_usernames_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="username"):
        check_username(name)


def test_bad_service_account_name_is_a_config_error() -> None:
    with pytest.raises(BrokerConfigError, match="invalid service account"):
        project_acl(console_users=("svc:console",))


@pytest.mark.parametrize("topic", ["", "a/#/b", "a/b#", "a+/b", " a", "a\n"])
def test_bad_rule_topics_are_refused(topic: str) -> None:
    with pytest.raises(ValidationError, match="bad ACL topic"):
        AclRule(access="read", topic=topic)


def test_pattern_under_a_user_is_refused() -> None:
    with pytest.raises(ValidationError, match="pattern rules must not be placed under user"):
        AclSection(user="svc.x", rules=(AclRule(access="read", topic="a/%u", pattern=True),))


def test_userless_section_after_a_user_section_is_refused() -> None:
    user = AclSection(user="svc.x", rules=(AclRule(access="read", topic="a"),))
    anonymous = AclSection(rules=(AclRule(access="read", topic="b"),))
    with pytest.raises(ValidationError, match="user-less sections must come before"):
        AclFile(sections=(user, anonymous))


def test_render_layout() -> None:
    acl = AclFile(
        header=("top",),
        sections=(
            AclSection(rules=(AclRule(access="deny", topic="x/#"),)),
            AclSection(
                comment=("why", ""), user="u1", rules=(AclRule(access="readwrite", topic="y/+"),)
            ),
        ),
    )
    assert acl.render() == "# top\n\ntopic deny x/#\n\n# why\n#\nuser u1\ntopic readwrite y/+\n"


def test_cli_prints_the_acl() -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        status = main(["acl", "--prefix", "p", "--responder", "svc.a", "--console", "svc.b"])
    assert status == 0
    assert (
        out.getvalue()
        == project_acl("p", responder_users=("svc.a",), console_users=("svc.b",)).render()
    )


def test_cli_rejects_a_bad_prefix() -> None:
    assert main(["acl", "--prefix", "a/+"]) == 2
