"""Which requests are STS requests: ``/`` with an ``Action`` parameter (query or form body).

OSS never sends a form-encoded POST to ``/`` (path-style requests name a bucket; ``GET /`` is
ListBuckets), so a POST there with a form body is treated as RPC without reading the body.
"""

from __future__ import annotations

from simulator.base.asgi import ASGIReceive, ASGISend, Scope, query_has

__all__ = ["ACTIONS", "ASGIReceive", "ASGISend", "Scope", "classify", "is_sts_request"]

_FORM = b"application/x-www-form-urlencoded"

# The STS actions the emulator serves; fault rules and statistics use these names.
ACTIONS = frozenset({"AssumeRole"})


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


def classify(query_string: bytes) -> str:
    """The STS operation from the ``Action`` query value (``AssumeRole`` when it is in the body).

    Unknown actions are all named ``"Unknown"`` so statistics stay bounded.
    """
    for part in query_string.split(b"&"):
        if part.startswith(b"Action="):
            action = part[7:].decode("latin-1")
            return action if action in ACTIONS else "Unknown"
    return "AssumeRole"
