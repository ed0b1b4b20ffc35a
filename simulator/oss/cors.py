"""Bucket CORS as OSS does it: the rules (``PutBucketCors``), preflights and response headers.

A bucket has no CORS until rules are put; then a request that carries ``Origin`` is checked
against the rules in order and the first one that matches decides:

- an ``OPTIONS`` preflight (no signature needed) matches when the origin, the
  ``Access-Control-Request-Method`` and every name in ``Access-Control-Request-Headers`` are
  allowed; it is answered ``200`` with ``Access-Control-Allow-*``, or ``403 AccessForbidden``
  when no rule matches;
- any other request matches on origin and method and gets ``Access-Control-Allow-Origin``,
  ``-Allow-Methods``, ``-Expose-Headers`` and ``-Max-Age`` added (its own outcome unchanged).

``ResponseVary`` adds ``Vary: Origin`` to every answer of the bucket, matched or not, so
caches never serve one origin's answer to another.

An ``AllowedOrigin`` or ``AllowedHeader`` may hold at most one ``*``, which matches any run of
characters; header names compare case-insensitively; a bucket holds at most 10 rules.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from simulator.oss.errors import InvalidArgument, MalformedXML, OssError
from simulator.oss.xmldoc import parse_document

MAX_RULES = 10
METHODS = ("GET", "PUT", "DELETE", "POST", "HEAD")
_RULE_ELEMENTS = {
    "AllowedOrigin",
    "AllowedMethod",
    "AllowedHeader",
    "ExposeHeader",
    "MaxAgeSeconds",
}
_NOT_ENABLED = "CORSResponse: CORS is not enabled for this bucket."
_NOT_ALLOWED = (
    "CORSResponse: This CORS request is not allowed. This is usually because the evalution "
    "of Origin, request method / Access-Control-Request-Method or "
    "Access-Control-Request-Headers are not whitelisted by the resource's CORS spec."
)


class AccessForbidden(OssError):
    """403 AccessForbidden: a preflight no CORS rule allows."""

    def __init__(self, message: str) -> None:
        super().__init__("AccessForbidden", message, 403)


class NoSuchCORSConfiguration(OssError):
    """404 NoSuchCORSConfiguration: the bucket has no CORS rules."""

    def __init__(self, bucket: str) -> None:
        super().__init__(
            "NoSuchCORSConfiguration",
            "The CORS Configuration does not exist.",
            404,
            elements={"BucketName": bucket},
        )


@dataclass(frozen=True, slots=True)
class CorsRule:
    """One ``CORSRule``.

    Attributes:
        origins: ``AllowedOrigin`` patterns (``*`` = any run of characters).
        methods: ``AllowedMethod`` values (GET, PUT, DELETE, POST, HEAD).
        headers: ``AllowedHeader`` patterns for preflight request headers, lower-case.
        expose: ``ExposeHeader`` names a browser script may read.
        max_age: ``MaxAgeSeconds``, or ``None``.
    """

    origins: tuple[str, ...]
    methods: tuple[str, ...]
    headers: tuple[str, ...] = ()
    expose: tuple[str, ...] = ()
    max_age: int | None = None

    def allows(self, origin: str, method: str, request_headers: Sequence[str] = ()) -> bool:
        """Whether this rule lets ``origin`` send ``method`` with ``request_headers``."""
        return (
            method in self.methods
            and any(_wildcard(p, origin) for p in self.origins)
            and all(any(_wildcard(p, h.lower()) for p in self.headers) for h in request_headers)
        )


@dataclass(frozen=True, slots=True)
class CorsConfiguration:
    """A bucket's ``CORSConfiguration``: its rules in order, and ``ResponseVary``."""

    rules: tuple[CorsRule, ...]
    response_vary: bool = False

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (part of the durable store's bucket file)."""
        return {
            "rules": [
                {
                    "origins": list(r.origins),
                    "methods": list(r.methods),
                    "headers": list(r.headers),
                    "expose": list(r.expose),
                    "max_age": r.max_age,
                }
                for r in self.rules
            ],
            "response_vary": self.response_vary,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CorsConfiguration:
        """Rebuild a configuration written by :meth:`to_json`."""
        return cls(
            rules=tuple(
                CorsRule(
                    origins=tuple(str(v) for v in r["origins"]),
                    methods=tuple(str(v) for v in r["methods"]),
                    headers=tuple(str(v) for v in r.get("headers", ())),
                    expose=tuple(str(v) for v in r.get("expose", ())),
                    max_age=None if r.get("max_age") is None else int(r["max_age"]),
                )
                for r in data["rules"]
            ),
            response_vary=bool(data.get("response_vary", False)),
        )


def _wildcard(pattern: str, value: str) -> bool:
    if "*" not in pattern:
        return pattern == value
    head, _, tail = pattern.partition("*")
    return len(value) >= len(head) + len(tail) and value.startswith(head) and value.endswith(tail)


def _one_star(values: Sequence[str], element: str) -> None:
    for value in values:
        if value.count("*") > 1:
            raise InvalidArgument(
                f"{element} can contain at most one * wildcard.", name=element, value=value
            )


def parse(body: bytes) -> CorsConfiguration:
    """Parse a PutBucketCors body.

    Raises:
        MalformedXML: not a ``<CORSConfiguration>`` of 1 to 10 well-formed ``CORSRule``.
        InvalidArgument: a value OSS refuses (an unknown method, two ``*``, a ``*`` in an
            ExposeHeader, a negative or non-numeric MaxAgeSeconds).
    """
    root = parse_document(body, "CORSConfiguration")
    nodes = root.findall("CORSRule")
    if not nodes or len(nodes) > MAX_RULES:
        raise MalformedXML(f"a CORS configuration holds 1 to {MAX_RULES} CORSRule elements")
    unknown = {child.tag for child in root} - {"CORSRule", "ResponseVary"}
    if unknown:
        raise MalformedXML(f"unexpected element <{sorted(unknown)[0]}>")
    vary = (root.findtext("ResponseVary") or "false").strip().lower()
    if vary not in ("true", "false"):
        raise MalformedXML("ResponseVary must be true or false")
    return CorsConfiguration(tuple(_parse_rule(n) for n in nodes), response_vary=vary == "true")


def _parse_rule(node: ET.Element) -> CorsRule:
    unknown = {child.tag for child in node} - _RULE_ELEMENTS
    if unknown:
        raise MalformedXML(f"unexpected element <{sorted(unknown)[0]}> in CORSRule")

    def texts(tag: str) -> tuple[str, ...]:
        return tuple((n.text or "").strip() for n in node.findall(tag))

    origins, methods = texts("AllowedOrigin"), texts("AllowedMethod")
    if not origins or not methods or "" in origins or "" in methods:
        raise MalformedXML("every CORSRule needs AllowedOrigin and AllowedMethod")
    for method in methods:
        if method not in METHODS:
            raise InvalidArgument(
                f"Unsupported method {method}.", name="AllowedMethod", value=method
            )
    headers = tuple(h.lower() for h in texts("AllowedHeader") if h)
    expose = tuple(h for h in texts("ExposeHeader") if h)
    _one_star(origins, "AllowedOrigin")
    _one_star(headers, "AllowedHeader")
    for name in expose:
        if "*" in name:
            raise InvalidArgument(
                "ExposeHeader can not contain wildcard.", name="ExposeHeader", value=name
            )
    max_age: int | None = None
    age_text = node.findtext("MaxAgeSeconds")
    if age_text is not None:
        age_text = age_text.strip()
        if not age_text.isdigit() or int(age_text) > 2**31 - 1:
            raise InvalidArgument(
                "MaxAgeSeconds must be a non-negative integer.",
                name="MaxAgeSeconds",
                value=age_text,
            )
        max_age = int(age_text)
    return CorsRule(origins, methods, headers, expose, max_age)


def render(config: CorsConfiguration) -> str:
    """The GetBucketCors document (without the XML declaration)."""

    def elements(tag: str, values: Sequence[str]) -> str:
        return "".join(f"<{tag}>{escape(v)}</{tag}>" for v in values)

    parts = ["<CORSConfiguration>"]
    for rule in config.rules:
        parts.append("<CORSRule>")
        parts.append(elements("AllowedOrigin", rule.origins))
        parts.append(elements("AllowedMethod", rule.methods))
        parts.append(elements("AllowedHeader", rule.headers))
        parts.append(elements("ExposeHeader", rule.expose))
        if rule.max_age is not None:
            parts.append(f"<MaxAgeSeconds>{rule.max_age}</MaxAgeSeconds>")
        parts.append("</CORSRule>")
    parts.append(f"<ResponseVary>{'true' if config.response_vary else 'false'}</ResponseVary>")
    parts.append("</CORSConfiguration>")
    return "".join(parts)


def _first(
    config: CorsConfiguration | None, origin: str, method: str, headers: Sequence[str] = ()
) -> CorsRule | None:
    if config is None:
        return None
    return next((r for r in config.rules if r.allows(origin, method, headers)), None)


def _allow_headers(rule: CorsRule, origin: str) -> list[tuple[bytes, bytes]]:
    # A rule open to any origin answers "*"; otherwise the one origin asked about.
    allow = "*" if "*" in rule.origins else origin
    out = [
        (b"access-control-allow-origin", allow.encode("latin-1")),
        (b"access-control-allow-methods", ", ".join(rule.methods).encode("latin-1")),
    ]
    if rule.expose:
        out.append((b"access-control-expose-headers", ", ".join(rule.expose).encode("latin-1")))
    if rule.max_age is not None:
        out.append((b"access-control-max-age", str(rule.max_age).encode("ascii")))
    return out


def _vary(config: CorsConfiguration | None) -> list[tuple[bytes, bytes]]:
    return [(b"vary", b"Origin")] if config is not None and config.response_vary else []


def preflight(
    config: CorsConfiguration | None, headers: Mapping[str, str]
) -> list[tuple[bytes, bytes]]:
    """The headers of a ``200`` answer to an ``OPTIONS`` preflight.

    Args:
        config: the bucket's CORS configuration, or ``None`` when it has none.
        headers: the request headers, lower-case names.

    Raises:
        InvalidArgument: ``Origin`` or ``Access-Control-Request-Method`` is missing.
        AccessForbidden: no rule allows the request.
    """
    origin = headers.get("origin")
    method = headers.get("access-control-request-method")
    if not origin:
        raise InvalidArgument(
            "Insufficient information. Origin request header needed.", name="Origin", value=""
        )
    if not method:
        raise InvalidArgument(
            "Invalid Access-Control-Request-Method: null",
            name="Access-Control-Request-Method",
            value="",
        )
    requested = [
        h.strip() for h in headers.get("access-control-request-headers", "").split(",") if h.strip()
    ]
    if config is None:
        raise AccessForbidden(_NOT_ENABLED)
    rule = _first(config, origin, method, requested)
    if rule is None:
        raise AccessForbidden(_NOT_ALLOWED)
    out = _allow_headers(rule, origin)
    if requested:
        out.append(
            (b"access-control-allow-headers", ", ".join(h.lower() for h in requested).encode())
        )
    return out + _vary(config)


def response_headers(
    config: CorsConfiguration | None, origin: str | None, method: str
) -> list[tuple[bytes, bytes]]:
    """The CORS headers to add to an ordinary answer (none when no rule matches)."""
    if config is None:
        return []
    rule = None if origin is None else _first(config, origin, method)
    if rule is None or origin is None:
        return _vary(config)
    return _allow_headers(rule, origin) + _vary(config)
