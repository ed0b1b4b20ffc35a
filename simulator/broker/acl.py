"""The Mosquitto ACL model and the project's access rules for protocol v1.

Who may do what (``P`` is the topic prefix, default ``ossmedia``):

==============  ===============================  ================================
account         may publish                      may receive
==============  ===============================  ================================
camera ``%u``   ``P/v1/%u/creds/req``,           ``P/v1/%u/creds/res``
                ``P/v1/%u/events``,
                ``P/v1/%u/status`` (also its will)
responder       ``P/v1/+/creds/res``             ``P/v1/+/creds/req``
console         nothing                          ``P/v1/+/events``, ``P/v1/+/status``
==============  ===============================  ================================

A camera's MQTT username is its ``device_id``; Mosquitto substitutes ``%u`` in ``pattern``
lines with the connecting client's username, so one pattern pins every camera to its own
topics. Service accounts get names containing a character that no ``device_id`` may contain
(``svc.responder``), so no device can ever be provisioned under a service account's name.

How Mosquitto 2.0 enforces these rules (checked against 2.0.11, and the reason an
``acl_file`` alone is not enough where cameras connect):

* SUBSCRIBE is never refused by the built-in ``acl_file`` check: it returns success for
  subscribe and unsubscribe, so a camera subscribing to another camera's ``creds/res`` gets a
  granted QoS.
* Read access is checked per message at delivery time, against the *published topic*. A
  camera subscribed to ``P/v1/+/creds/res`` therefore only ever receives its own replies.
* Shared subscriptions are where that breaks: a camera may join
  ``$share/{group}/P/v1/+/creds/req``, the broker then picks it for every Nth request of the
  group and drops that message at the read check, so the request is never answered. Camera
  accounts must therefore live in the dynamic-security plugin, which refuses such a
  SUBSCRIBE (:mod:`cloud.registry.broker_accounts`); the deployed ``acl_file`` only governs
  the service listener, which camera accounts cannot log in to.
* A refused PUBLISH is dropped silently. MQTT 3.1.1 has no way to say "not authorised" in a
  PUBACK, so the publisher still gets a normal PUBACK; MQTT 5 clients get reason code 0x87.
* A last will is accepted at CONNECT whatever its topic and checked when the broker
  publishes it, so a will on another camera's status topic is dropped, not refused.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from simulator.broker.errors import BrokerConfigError

AclAccess = Literal["read", "write", "readwrite", "deny"]

DEFAULT_PREFIX = "ossmedia"
DEFAULT_RESPONDER_USER = "svc.responder"
DEFAULT_CONSOLE_USER = "svc.console"

# The protocol's device_id alphabet; a service account name must fall outside it.
_DEVICE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{1,31}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_username(username: str) -> str:
    """Validate a name usable both in a Mosquitto password file and an ACL ``user`` line.

    Args:
        username: the MQTT username.

    Returns:
        The username unchanged.

    Raises:
        ValueError: empty, contains whitespace, control characters or ``:`` (the password
            file's separator), or an MQTT wildcard / level separator (which would turn ``%u``
            substitution into a wildcard).
    """
    if not username:
        raise ValueError("username must not be empty")
    if _CONTROL.search(username) or any(ch.isspace() for ch in username):
        raise ValueError("username must not contain whitespace or control characters")
    if any(ch in username for ch in ":+#/"):
        raise ValueError("username must not contain ':', '+', '#' or '/'")
    return username


def _check_topic_filter(topic: str) -> str:
    if not topic or _CONTROL.search(topic) or topic != topic.strip():
        raise ValueError(f"bad ACL topic {topic!r}: empty, control characters or padding")
    levels = topic.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            raise ValueError(f"bad ACL topic {topic!r}: '#' must be a whole, last level")
        if "+" in level and level != "+":
            raise ValueError(f"bad ACL topic {topic!r}: '+' must be a whole level")
    return topic


class AclRule(BaseModel):
    """One ``topic`` or ``pattern`` line.

    Args:
        access: ``read``, ``write``, ``readwrite`` or ``deny``.
        topic: a topic filter; in a pattern, ``%u`` / ``%c`` stand for username / client id.
        pattern: render as a ``pattern`` line (applies to every client, with substitution)
            instead of a ``topic`` line (applies to the section's user).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    access: AclAccess
    topic: str
    pattern: bool = False

    @field_validator("topic")
    @classmethod
    def _topic(cls, value: str) -> str:
        return _check_topic_filter(value)

    def render(self) -> str:
        """Return the rule as one acl_file line (no newline)."""
        return f"{'pattern' if self.pattern else 'topic'} {self.access} {self.topic}"


class AclSection(BaseModel):
    """A group of rules, optionally headed by a ``user`` line and explained by comments.

    Args:
        rules: the lines of the section.
        user: the username the ``topic`` rules apply to; ``None`` for the leading part of the
            file (patterns, and topic rules that Mosquitto applies to anonymous clients).
        comment: comment lines written above the section (without ``#``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    rules: tuple[AclRule, ...]
    user: str | None = None
    comment: tuple[str, ...] = ()

    @field_validator("user")
    @classmethod
    def _user(cls, value: str | None) -> str | None:
        return None if value is None else check_username(value)

    @field_validator("comment")
    @classmethod
    def _comment(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(_CONTROL.search(line) for line in value):
            raise ValueError("comment lines must not contain control characters or newlines")
        return value

    @model_validator(mode="after")
    def _patterns_outside_users(self) -> AclSection:
        # Mosquitto applies a pattern to everyone wherever it appears; under a user line it
        # would read as if it were scoped to that user, so it is not allowed there.
        if self.user is not None and any(rule.pattern for rule in self.rules):
            raise ValueError(f"pattern rules must not be placed under user {self.user!r}")
        return self


class AclFile(BaseModel):
    """A whole Mosquitto ``acl_file``; everything not allowed by a rule is denied.

    Args:
        sections: the sections in file order; user-less sections must come first, because
            Mosquitto attributes every line after a ``user`` line to that user.
        header: comment lines at the top of the file (without ``#``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    sections: tuple[AclSection, ...]
    header: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _ordering(self) -> AclFile:
        seen_user = False
        for section in self.sections:
            if section.user is None and seen_user:
                raise ValueError("user-less sections must come before every user section")
            seen_user = seen_user or section.user is not None
        if any(_CONTROL.search(line) for line in self.header):
            raise ValueError("header lines must not contain control characters or newlines")
        return self

    def render(self) -> str:
        """Return the file's text, ending with a newline."""
        blocks: list[list[str]] = []
        if self.header:
            blocks.append([_comment_line(line) for line in self.header])
        for section in self.sections:
            lines = [_comment_line(line) for line in section.comment]
            if section.user is not None:
                lines.append(f"user {section.user}")
            lines.extend(rule.render() for rule in section.rules)
            blocks.append(lines)
        return "\n\n".join("\n".join(block) for block in blocks) + "\n"


def _comment_line(text: str) -> str:
    return f"# {text}" if text else "#"


def check_prefix(prefix: str) -> str:
    """Validate a protocol topic prefix (``P`` in ``P/v1/{device_id}/...``).

    Args:
        prefix: one or more non-empty topic levels.

    Returns:
        The prefix unchanged.

    Raises:
        BrokerConfigError: empty levels, wildcards, ``%`` (ACL substitution), a leading
            ``$`` (reserved topics) or whitespace/control characters.
    """
    bad = (
        not prefix
        or prefix.startswith("$")
        or any(not level for level in prefix.split("/"))
        or any(ch in prefix for ch in "+#%")
        or _CONTROL.search(prefix) is not None
        or any(ch.isspace() for ch in prefix)
    )
    if bad:
        raise BrokerConfigError(f"invalid topic prefix {prefix!r}")
    return prefix


def _service_user(name: str) -> str:
    try:
        check_username(name)
    except ValueError as exc:
        raise BrokerConfigError(f"invalid service account name {name!r}: {exc}") from None
    if _DEVICE_ID.fullmatch(name):
        raise BrokerConfigError(
            f"service account name {name!r} is a valid device_id; use a name a device can "
            "never have, e.g. with a '.' in it ('svc.responder')"
        )
    return name


def project_acl(
    prefix: str = DEFAULT_PREFIX,
    *,
    responder_users: tuple[str, ...] = (DEFAULT_RESPONDER_USER,),
    console_users: tuple[str, ...] = (DEFAULT_CONSOLE_USER,),
    cameras: bool = True,
) -> AclFile:
    """Build the ACL that protocol v1 needs.

    Args:
        prefix: the topic prefix ``P``.
        responder_users: accounts of the credential responders (one shared account or one per
            process); each may read every request and answer every camera.
        console_users: accounts of the web console / ledger; each may read every camera's
            events and status.
        cameras: include the camera ``pattern`` rules. Off for a listener that only service
            accounts can log in to (the deployed service listener); on for a single-listener
            test or simulator broker without shared-group attackers.

    Returns:
        The ACL; ``render()`` gives the text of ``deploy/mosquitto/acl`` for the default prefix.

    Raises:
        BrokerConfigError: an invalid prefix, or a service account name that is not a valid
            username or that a device could also have.
    """
    base = f"{check_prefix(prefix)}/v1"
    responders = tuple(_service_user(name) for name in responder_users)
    consoles = tuple(_service_user(name) for name in console_users)
    camera_rules = AclSection(
        comment=(
            "Cameras: the MQTT username is the device_id, and %u stands for the username,",
            "so each camera may only send on, and only receive from, its own topics.",
        ),
        rules=(
            AclRule(pattern=True, access="write", topic=f"{base}/%u/creds/req"),
            AclRule(pattern=True, access="write", topic=f"{base}/%u/events"),
            AclRule(pattern=True, access="write", topic=f"{base}/%u/status"),
            AclRule(pattern=True, access="read", topic=f"{base}/%u/creds/res"),
        ),
    )
    sections = [camera_rules] if cameras else []
    for name in responders:
        sections.append(
            AclSection(
                comment=(
                    "Credential responder: reads every request (it subscribes through",
                    f"$share/<group>/{base}/+/creds/req) and may answer any camera.",
                ),
                user=name,
                rules=(
                    AclRule(access="read", topic=f"{base}/+/creds/req"),
                    AclRule(access="write", topic=f"{base}/+/creds/res"),
                ),
            )
        )
    for name in consoles:
        sections.append(
            AclSection(
                comment=("Console: reads every camera's events and retained status.",),
                user=name,
                rules=(
                    AclRule(access="read", topic=f"{base}/+/events"),
                    AclRule(access="read", topic=f"{base}/+/status"),
                ),
            )
        )
    return AclFile(
        header=(
            f'Mosquitto acl_file for ossmedia protocol v1, topic prefix "{prefix}".',
            "Generated by `python -m simulator.broker acl"
            + ("`;" if cameras else " --services-only`;")
            + " edit the generator, not this file.",
            "Everything not allowed below is denied. Credentials never travel on a topic that",
            "another camera may read.",
            *(
                ()
                if cameras
                else (
                    "Service accounts only: camera accounts live in the dynamic-security plugin",
                    "on the camera listener, which also refuses their SUBSCRIBEs outside their",
                    "own reply topic.",
                )
            ),
        ),
        sections=tuple(sections),
    )
