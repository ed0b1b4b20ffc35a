"""Shared responder state: rate limits, nonce memory, reply cache, credential cache.

``memory`` keeps it in the process; ``redis://`` shares it between processes so the rules
hold for the whole deployment.
"""

from __future__ import annotations

from cloud.settings import StateSettings
from cloud.state.memory import MemoryState
from cloud.state.protocols import (
    BlobState,
    Claim,
    ClaimState,
    RateState,
    ReplyState,
    Reservation,
    SharedState,
)

__all__ = [
    "BlobState",
    "Claim",
    "ClaimState",
    "MemoryState",
    "RateState",
    "ReplyState",
    "Reservation",
    "SharedState",
    "open_state",
]


def open_state(settings: StateSettings) -> SharedState:
    """Open the backend named by ``settings.url`` (``memory`` or a Redis URL)."""
    if settings.url == "memory":
        return MemoryState()
    from cloud.state.redis import RedisState

    return RedisState.from_url(settings.url, key_prefix=settings.key_prefix)
