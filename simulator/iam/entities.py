"""Value objects of the identity layer: principals, keys, roles, sessions, credentials."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from simulator.iam.policy import ALLOW_ALL, Policy
from simulator.iam.trust import TrustPolicy

PrincipalKind = Literal["root", "user", "assumed_role"]


@dataclass(frozen=True)
class Principal:
    """Who signed a request, with everything needed to authorise it."""

    account_id: str
    access_key_id: str
    kind: PrincipalKind
    role_arn: str | None
    session_name: str | None
    identity_policies: tuple[Policy, ...]
    session_policy: Policy | None
    user: str | None = None

    def ram_names(self) -> frozenset[str]:
        """The trust-policy ``Principal.RAM`` values that name this principal, lower-cased."""
        account = self.account_id
        names = {account, f"acs:ram::{account}:root"}
        if self.kind == "user" and self.user:
            names.add(f"acs:ram::{account}:user/{self.user}")
        if self.kind == "assumed_role" and self.role_arn:
            names.add(self.role_arn)
        return frozenset(n.lower() for n in names)


@dataclass(frozen=True)
class TemporaryCredentials:
    """What AssumeRole hands out. Secret and token are kept out of ``repr``."""

    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str = field(repr=False)
    expiration: float
    principal: Principal
    assumed_role_arn: str
    assumed_role_id: str


@dataclass(frozen=True)
class AccessKey:
    """A long-term key: a root key (``user`` None) or a RAM user's key."""

    access_key_id: str
    secret: str = field(repr=False)
    account_id: str
    user: str | None
    policies: tuple[Policy, ...]

    def principal(self) -> Principal:
        kind: PrincipalKind = "root" if self.user is None else "user"
        policies = (ALLOW_ALL,) if self.user is None else self.policies
        return Principal(
            self.account_id, self.access_key_id, kind, None, None, policies, None, self.user
        )


@dataclass(frozen=True)
class Role:
    """A RAM role that STS callers may assume.

    Who may assume it is the trust policy when it has one, else any identity of
    ``trusted_accounts`` (the caller's own policies must allow ``sts:AssumeRole`` either way).
    """

    account_id: str
    name: str
    role_id: str
    policies: tuple[Policy, ...]
    trusted_accounts: frozenset[str]
    max_session_duration: int
    trust_policy: TrustPolicy | None = None

    def trusts(self, caller: Principal) -> bool:
        """Whether the role's trust lets ``caller`` in."""
        if self.trust_policy is not None:
            return self.trust_policy.trusts(caller.ram_names())
        return caller.account_id in self.trusted_accounts

    @property
    def arn(self) -> str:
        return f"acs:ram::{self.account_id}:role/{self.name.lower()}"


@dataclass(frozen=True)
class Session:
    access_key_id: str
    secret: str = field(repr=False)
    token: str = field(repr=False)
    expiration: float
    account_id: str
    role_name: str
    session_name: str
    session_policy: Policy | None

    def record(self) -> dict[str, Any]:
        return {
            "access_key_id": self.access_key_id,
            "secret": self.secret,
            "token": self.token,
            "expiration": self.expiration,
            "account_id": self.account_id,
            "role_name": self.role_name,
            "session_name": self.session_name,
            "session_policy": self.session_policy.document if self.session_policy else None,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> Session:
        doc = r.get("session_policy")
        return cls(
            r["access_key_id"], r["secret"], r["token"], float(r["expiration"]), r["account_id"],
            r["role_name"], r["session_name"], Policy.parse(doc) if doc else None,
        )  # fmt: skip
