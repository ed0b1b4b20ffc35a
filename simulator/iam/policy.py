"""RAM policy documents: parse and validate once, then evaluate requests quickly.

Evaluation follows RAM: a matching ``Deny`` statement wins over everything; otherwise a
matching ``Allow`` allows; otherwise the policy says nothing (implicit deny). Across policies,
:func:`is_allowed` intersects the identity's policies with an optional STS session policy.
Action names match case-insensitively, resources case-sensitively; both take ``*``/``?`` globs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from simulator.iam.conditions import ConditionClause, Context, parse_condition
from simulator.iam.errors import PolicyGrammarError
from simulator.iam.wildcard import glob_match

Decision = Literal["allow", "deny", "none"]

_STATEMENT_KEYS = frozenset(
    {"Effect", "Action", "NotAction", "Resource", "NotResource", "Condition", "Sid"}
)


def _patterns(value: object, where: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise PolicyGrammarError(f"{where} must not be empty")
    out: list[str] = []
    for item in items:
        if not isinstance(item, str) or not item:
            raise PolicyGrammarError(f"{where} must hold non-empty strings")
        out.append(item)
    return tuple(out)


def _one_of(
    raw: Mapping[str, object], positive: str, negative: str, where: str
) -> tuple[str, bool]:
    has_pos, has_neg = positive in raw, negative in raw
    if has_pos == has_neg:
        raise PolicyGrammarError(f"{where} needs exactly one of {positive} or {negative}")
    return (positive, False) if has_pos else (negative, True)


@dataclass(frozen=True)
class Statement:
    """One parsed statement of a policy."""

    effect: Literal["Allow", "Deny"]
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[str, ...]
    not_resource: bool
    conditions: tuple[ConditionClause, ...]

    @classmethod
    def parse(cls, raw: object, where: str) -> Statement:
        """Validate one statement object.

        Raises:
            PolicyGrammarError: the statement breaks the grammar.
        """
        if not isinstance(raw, Mapping):
            raise PolicyGrammarError(f"{where} must be an object")
        unknown = set(raw) - _STATEMENT_KEYS
        if unknown:
            raise PolicyGrammarError(f"{where} has unknown fields {sorted(unknown)}")
        effect = raw.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise PolicyGrammarError(f"{where}.Effect must be Allow or Deny")
        action_key, not_action = _one_of(raw, "Action", "NotAction", where)
        actions = _patterns(raw[action_key], f"{where}.{action_key}")
        for action in actions:
            if action != "*" and ":" not in action:
                raise PolicyGrammarError(f"{where}.{action_key} {action!r} is not service:Action")
        resource_key, not_resource = _one_of(raw, "Resource", "NotResource", where)
        resources = _patterns(raw[resource_key], f"{where}.{resource_key}")
        conditions: tuple[ConditionClause, ...] = ()
        if "Condition" in raw:
            conditions = parse_condition(raw["Condition"], f"{where}.Condition")
        return cls(effect, actions, not_action, resources, not_resource, conditions)

    def applies(self, action: str, resource: str, context: Context) -> bool:
        """Tell whether this statement covers the request (its effect aside)."""
        hit = any(glob_match(p, action, ignore_case=True) for p in self.actions)
        if hit == self.not_action:
            return False
        hit = any(glob_match(p, resource) for p in self.resources)
        if hit == self.not_resource:
            return False
        return all(clause.holds(context) for clause in self.conditions)


@dataclass(frozen=True)
class Policy:
    """A parsed and validated RAM policy document.

    Build with :meth:`parse`; :attr:`document` keeps the canonical JSON text for persistence.
    """

    statements: tuple[Statement, ...]
    document: str

    @classmethod
    def parse(cls, doc: str | Mapping[str, object]) -> Policy:
        """Parse a policy from JSON text or an already decoded mapping.

        Args:
            doc: the policy document.

        Returns:
            The validated policy.

        Raises:
            PolicyGrammarError: not JSON, not an object, wrong ``Version`` or a bad statement.
        """
        if isinstance(doc, str):
            try:
                raw: object = json.loads(doc)
            except ValueError:
                raise PolicyGrammarError("not valid JSON") from None
        else:
            raw = doc
        if not isinstance(raw, Mapping):
            raise PolicyGrammarError("the document must be a JSON object")
        unknown = set(raw) - {"Version", "Statement"}
        if unknown:
            raise PolicyGrammarError(f"unknown top-level fields {sorted(unknown)}")
        if raw.get("Version") != "1":
            raise PolicyGrammarError('Version must be "1"')
        items = raw.get("Statement")
        if isinstance(items, Mapping):
            items = [items]
        if not isinstance(items, list):
            raise PolicyGrammarError("Statement must be a list of objects")
        statements = tuple(Statement.parse(s, f"Statement[{i}]") for i, s in enumerate(items))
        text = json.dumps(raw, separators=(",", ":"), sort_keys=True)
        return cls(statements, text)

    def evaluate(self, action: str, resource: str, context: Context) -> Decision:
        """Evaluate one request against this policy alone.

        Args:
            action: e.g. ``"oss:PutObject"``.
            resource: e.g. ``"acs:oss:*:1000000000000001:bucket/key"``.
            context: condition keys, e.g. ``{"acs:SourceIp": "127.0.0.1"}``.

        Returns:
            ``"deny"`` if a Deny statement applies, else ``"allow"`` if an Allow applies,
            else ``"none"``.
        """
        allowed = False
        for statement in self.statements:
            if statement.applies(action, resource, context):
                if statement.effect == "Deny":
                    return "deny"
                allowed = True
        return "allow" if allowed else "none"

    def __repr__(self) -> str:
        return f"Policy({len(self.statements)} statements)"


ALLOW_ALL = Policy.parse(
    {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)


def is_allowed(
    identity_policies: Sequence[Policy],
    session_policy: Policy | None,
    action: str,
    resource: str,
    context: Context,
) -> bool:
    """Decide a request the way RAM does for a user or an STS session.

    Args:
        identity_policies: the policies attached to the user or role.
        session_policy: the ``Policy`` passed to AssumeRole, if any.
        action: the RAM action.
        resource: the resource ARN.
        context: condition keys of the request.

    Returns:
        True when no policy denies explicitly, an identity policy allows, and the session
        policy (when present) allows too.
    """
    identity_allows = False
    for policy in identity_policies:
        decision = policy.evaluate(action, resource, context)
        if decision == "deny":
            return False
        identity_allows = identity_allows or decision == "allow"
    if not identity_allows:
        return False
    return session_policy is None or session_policy.evaluate(action, resource, context) == "allow"
