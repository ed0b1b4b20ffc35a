"""RAM ``Condition`` operators: parsed once, evaluated against a request context.

A condition block is ``{"<Operator>": {"<key>": value | [values]}}``. Every operator and every
key in one block must hold (AND); several values for one key are alternatives (OR). A context
value may itself be a list (for example several source addresses): a positive operator holds
when any context value matches any policy value; a negated operator (``StringNotEquals``,
``NotIpAddress`` ...) holds when none does. A key missing from the context makes a positive
operator false and a negated one true, the way AWS-style policy engines treat absent keys.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from simulator.iam.errors import PolicyGrammarError
from simulator.iam.wildcard import glob_match

ContextValue = str | Sequence[str]
Context = Mapping[str, ContextValue]

# (policy value, context value) -> match
_Matcher = Callable[[object, str], bool]


def _parse_number(raw: str) -> float:
    value = float(raw)
    if math.isnan(value):
        raise ValueError("NaN")
    return value


def _parse_date(raw: str) -> float:
    """Seconds since the epoch from ISO 8601 (``2024-01-01T00:00:00Z``) or a plain number."""
    try:
        return float(raw)
    except ValueError:
        pass
    text = raw.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _parse_bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered not in {"true", "false"}:
        raise ValueError(raw)
    return lowered == "true"


def _parse_network(raw: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(raw.strip(), strict=False)


def _safe(parse: Callable[[str], object], raw: str) -> object | None:
    try:
        return parse(raw)
    except ValueError:
        return None


def _ip_in(network: object, raw: str) -> bool:
    try:
        address = ipaddress.ip_address(raw.strip())
    except ValueError:
        return False
    if not isinstance(network, ipaddress.IPv4Network | ipaddress.IPv6Network):
        return False
    return address.version == network.version and address in network


def _numeric(compare: Callable[[float, float], bool]) -> _Matcher:
    def match(policy: object, raw: str) -> bool:
        actual = _safe(_parse_number, raw)
        return isinstance(actual, float) and compare(actual, float(str(policy)))

    return match


def _dated(compare: Callable[[float, float], bool]) -> _Matcher:
    def match(policy: object, raw: str) -> bool:
        actual = _safe(_parse_date, raw)
        return isinstance(actual, float) and compare(actual, float(str(policy)))

    return match


@dataclass(frozen=True)
class _Operator:
    parse: Callable[[str], object]
    match: _Matcher
    negated: bool = False


def _identity(raw: str) -> str:
    return raw


def _lower(raw: str) -> str:
    return raw.lower()


def _eq(a: float, b: float) -> bool:
    return a == b


def _lt(a: float, b: float) -> bool:
    return a < b


def _le(a: float, b: float) -> bool:
    return a <= b


def _gt(a: float, b: float) -> bool:
    return a > b


def _ge(a: float, b: float) -> bool:
    return a >= b


def _string_eq(policy: object, raw: str) -> bool:
    return policy == raw


def _string_eq_ci(policy: object, raw: str) -> bool:
    return policy == raw.lower()


def _string_like(policy: object, raw: str) -> bool:
    return glob_match(str(policy), raw)


def _bool(policy: object, raw: str) -> bool:
    return _safe(_parse_bool, raw) == policy


OPERATORS: dict[str, _Operator] = {
    "StringEquals": _Operator(_identity, _string_eq),
    "StringNotEquals": _Operator(_identity, _string_eq, negated=True),
    "StringEqualsIgnoreCase": _Operator(_lower, _string_eq_ci),
    "StringNotEqualsIgnoreCase": _Operator(_lower, _string_eq_ci, negated=True),
    "StringLike": _Operator(_identity, _string_like),
    "StringNotLike": _Operator(_identity, _string_like, negated=True),
    "NumericEquals": _Operator(_parse_number, _numeric(_eq)),
    "NumericNotEquals": _Operator(_parse_number, _numeric(_eq), negated=True),
    "NumericLessThan": _Operator(_parse_number, _numeric(_lt)),
    "NumericLessThanEquals": _Operator(_parse_number, _numeric(_le)),
    "NumericGreaterThan": _Operator(_parse_number, _numeric(_gt)),
    "NumericGreaterThanEquals": _Operator(_parse_number, _numeric(_ge)),
    "DateEquals": _Operator(_parse_date, _dated(_eq)),
    "DateNotEquals": _Operator(_parse_date, _dated(_eq), negated=True),
    "DateLessThan": _Operator(_parse_date, _dated(_lt)),
    "DateLessThanEquals": _Operator(_parse_date, _dated(_le)),
    "DateGreaterThan": _Operator(_parse_date, _dated(_gt)),
    "DateGreaterThanEquals": _Operator(_parse_date, _dated(_ge)),
    "Bool": _Operator(_parse_bool, _bool),
    "IpAddress": _Operator(_parse_network, _ip_in),
    "NotIpAddress": _Operator(_parse_network, _ip_in, negated=True),
}


@dataclass(frozen=True)
class ConditionClause:
    """One ``operator`` / ``key`` pair with its alternative values, parsed."""

    operator: str
    key: str
    values: tuple[object, ...]

    def holds(self, context: Context) -> bool:
        """Evaluate the clause against a request context (see the module docstring)."""
        op = OPERATORS[self.operator]
        raw = _lookup(context, self.key)
        if raw is None:
            return op.negated
        hit = any(op.match(policy, actual) for actual in raw for policy in self.values)
        return not hit if op.negated else hit


def _lookup(context: Context, key: str) -> tuple[str, ...] | None:
    value = context.get(key)
    if value is None:
        # Condition keys are case-insensitive in RAM.
        lowered = key.lower()
        for name, candidate in context.items():
            if name.lower() == lowered:
                value = candidate
                break
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def _scalar(value: object, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise PolicyGrammarError(f"{where} must be a string, number or boolean")


def parse_condition(block: object, where: str) -> tuple[ConditionClause, ...]:
    """Parse and validate a statement's ``Condition`` block.

    Args:
        block: the decoded JSON value of ``Condition``.
        where: location for error messages, e.g. ``"Statement[0].Condition"``.

    Returns:
        The clauses, all of which must hold.

    Raises:
        PolicyGrammarError: unknown operator, wrong shape or an unparsable value.
    """
    if not isinstance(block, Mapping):
        raise PolicyGrammarError(f"{where} must be an object")
    clauses: list[ConditionClause] = []
    for operator, keys in block.items():
        op = OPERATORS.get(operator)
        if op is None:
            raise PolicyGrammarError(f"{where} has an unknown operator {operator!r}")
        if not isinstance(keys, Mapping) or not keys:
            raise PolicyGrammarError(f"{where}.{operator} must be a non-empty object")
        for key, raw_values in keys.items():
            at = f"{where}.{operator}.{key}"
            items = raw_values if isinstance(raw_values, list) else [raw_values]
            if not items:
                raise PolicyGrammarError(f"{at} needs at least one value")
            values: list[object] = []
            for item in items:
                text = _scalar(item, at)
                try:
                    values.append(op.parse(text))
                except ValueError:
                    raise PolicyGrammarError(f"{at} has an invalid value {text!r}") from None
            clauses.append(ConditionClause(operator, key, tuple(values)))
    return tuple(clauses)
