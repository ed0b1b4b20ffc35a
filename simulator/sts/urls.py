"""Which requests are STS requests: ``/`` with an ``Action`` parameter (query or form body).

OSS never sends a form-encoded POST to ``/`` (path-style requests name a bucket; ``GET /`` is
ListBuckets), so a POST there with a form body is treated as RPC without reading the body.
"""

from __future__ import annotations

from simulator.base.asgi import ASGIReceive, ASGISend, Scope, query_has

__all__ = ["ASGIReceive", "ASGISend", "Scope", "is_sts_request"]

_FORM = b"application/x-www-form-urlencoded"


def is_sts_request(scope: Scope) -> bool:
    """True for an RPC request meant for the STS endpoint."""
    if scope["path"] != "/":
        return False
    if query_has(scope["query_string"], b"Action"):
        return True
    if scope["method"] != "POST":
        return False
    for name, value in scope["headers"]:
        if name == b"content-type":
            return bool(value.split(b";", 1)[0].strip().lower() == _FORM)
    return False
