"""Role trust policies: who may assume a role, as RAM writes it.

A trust policy is a policy document whose statements name a ``Principal`` instead of a
``Resource``::

    {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
      "Principal": {"RAM": ["acs:ram::1234567890123456:user/ossmedia-responder"]}}]}

A ``RAM`` principal is an account id, ``acs:ram::<account>:root`` (any identity of that account
its own policies allow), a user ``acs:ram::<account>:user/<name>`` or a role
``acs:ram::<account>:role/<name>``. ``Service`` principals are parsed and never match (the
emulator has no cloud services assuming roles). A matching ``Deny`` wins, as in every policy.
Trust only lets a caller in: its own policies must still allow ``sts:AssumeRole`` on the role.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from simulator.iam.errors import PolicyGrammarError
from simulator.iam.wildcard import glob_match

_STATEMENT_KEYS = frozenset({"Effect", "Action", "Principal", "Sid"})
_PRINCIPAL_KINDS = frozenset({"RAM", "Service", "Federated"})


def _strings(value: object, where: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(i, str) and i for i in items):
        raise PolicyGrammarError(f"{where} must hold non-empty strings")
    return tuple(str(i) for i in items)


@dataclass(frozen=True)
class TrustStatement:
    """One statement of a trust policy."""

    effect: Literal["Allow", "Deny"]
    actions: tuple[str, ...]
    ram: tuple[str, ...]

    def applies(self, names: frozenset[str]) -> bool:
        """Whether this statement covers an AssumeRole by a caller with these names."""
        if not any(glob_match(a, "sts:AssumeRole", ignore_case=True) for a in self.actions):
            return False
        return any(glob_match(p.lower(), n) for p in self.ram for n in names)


@dataclass(frozen=True)
class TrustPolicy:
    """A parsed role trust policy; :attr:`document` keeps the canonical JSON for persistence."""

    statements: tuple[TrustStatement, ...]
    document: str

    @classmethod
    def parse(cls, doc: str | Mapping[str, object]) -> TrustPolicy:
        """Parse a trust policy from JSON text or a decoded mapping.

        Raises:
            PolicyGrammarError: not JSON, wrong ``Version``, or a statement without a
                ``Principal`` or with fields a trust policy does not take.
        """
        raw: object = doc
        if isinstance(doc, str):
            try:
                raw = json.loads(doc)
            except ValueError:
                raise PolicyGrammarError("not valid JSON") from None
        if not isinstance(raw, Mapping) or raw.get("Version") != "1":
            raise PolicyGrammarError('a trust policy is an object with Version "1"')
        items = raw.get("Statement")
        if isinstance(items, Mapping):
            items = [items]
        if not isinstance(items, list) or not items:
            raise PolicyGrammarError("Statement must be a non-empty list of objects")
        statements = tuple(_statement(s, f"Statement[{i}]") for i, s in enumerate(items))
        return cls(statements, json.dumps(raw, separators=(",", ":"), sort_keys=True))

    def trusts(self, names: frozenset[str]) -> bool:
        """Whether a caller known by ``names`` (lower-case ``Principal.RAM`` values, see
        :meth:`simulator.iam.entities.Principal.ram_names`) may assume the role (its own
        permission aside)."""
        allowed = False
        for statement in self.statements:
            if statement.applies(names):
                if statement.effect == "Deny":
                    return False
                allowed = True
        return allowed

    def __repr__(self) -> str:
        return f"TrustPolicy({len(self.statements)} statements)"


def _statement(raw: object, where: str) -> TrustStatement:
    if not isinstance(raw, Mapping):
        raise PolicyGrammarError(f"{where} must be an object")
    unknown = set(raw) - _STATEMENT_KEYS
    if unknown:
        raise PolicyGrammarError(
            f"{where} has fields a trust policy does not take {sorted(unknown)}"
        )
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyGrammarError(f"{where}.Effect must be Allow or Deny")
    actions = _strings(raw.get("Action"), f"{where}.Action")
    principal = raw.get("Principal")
    if not isinstance(principal, Mapping) or not principal:
        raise PolicyGrammarError(f"{where}.Principal must name RAM or Service principals")
    kinds = set(principal) - _PRINCIPAL_KINDS
    if kinds:
        raise PolicyGrammarError(f"{where}.Principal has unknown kinds {sorted(kinds)}")
    ram: tuple[str, ...] = ()
    for kind, value in principal.items():
        names = _strings(value, f"{where}.Principal.{kind}")
        if kind == "RAM":
            ram = names
    return TrustStatement(effect, actions, ram)
