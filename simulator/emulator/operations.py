"""Name the OSS or STS operation a request performs, for fault rules and statistics.

The names and how requests select them are the services' own declarations
(:data:`simulator.oss.operations.OPERATIONS`, :data:`simulator.sts.urls.ACTIONS`); addressing
(path or virtual-host style) is the OSS :class:`~simulator.oss.urls.Router`'s. This module only
adapts a raw ASGI scope to them, before the request reaches a service, and never raises.
"""

from __future__ import annotations

from functools import lru_cache

from simulator.base.asgi import Scope
from simulator.oss.errors import OssError
from simulator.oss.operations import classify
from simulator.oss.settings import OssSettings
from simulator.oss.urls import Router
from simulator.sts.urls import classify as classify_sts

__all__ = ["classify_oss", "classify_sts", "is_path_style"]

DEFAULT_BASE_HOST = OssSettings().base_host


@lru_cache(maxsize=8)
def _router(base_host: str) -> Router:
    return Router(OssSettings(base_host=base_host))


def _host(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"host":
            return str(value.decode("latin-1"))
    return ""


def _query(raw: bytes) -> dict[str, str]:
    # Names and values undecoded: sub-resource names and the values operations are selected
    # by (list-type=2) are plain ASCII, and this runs before every OSS request.
    query: dict[str, str] = {}
    for part in raw.split(b"&"):
        if part:
            name, _, value = part.partition(b"=")
            query.setdefault(name.decode("latin-1"), value.decode("latin-1"))
    return query


def is_path_style(scope: Scope, base_host: str) -> bool:
    """Whether the request addresses buckets in the path (IP, ``localhost`` or the base host)."""
    try:
        return _router(base_host).host_bucket(_host(scope)) is None
    except OssError:
        return False


def classify_oss(scope: Scope, base_host: str = DEFAULT_BASE_HOST) -> str:
    """The OSS operation name of a request.

    Args:
        scope: the ASGI HTTP scope.
        base_host: the OSS endpoint host; ``<bucket>.<base_host>`` is virtual-host addressing.

    Returns:
        An operation name; ``"Unknown"`` for requests no declared operation matches.
    """
    raw: bytes | None = scope.get("raw_path")
    path = raw.decode("latin-1").partition("?")[0] if raw is not None else scope["path"]
    query = _query(scope["query_string"])
    level = _router(base_host).level(_host(scope), path)
    headers = frozenset(name.decode("latin-1") for name, _ in scope["headers"])
    return classify(level, scope["method"], query, headers)
