"""What a shaped link does to the bytes that cross it."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class LinkProfile:
    """Faults applied to each direction of every proxied connection.

    Attributes:
        bandwidth_bytes_per_s: cap per direction and connection; ``None`` for unlimited.
        latency_s: one-way delay added to every chunk.
        jitter_s: extra delay drawn uniformly from ``[0, jitter_s]`` per chunk. Order is kept:
            a chunk is never delivered before the one read ahead of it.
        reset_probability: chance, per forwarded chunk, that the connection is reset (RST) instead.
        data_limit_bytes: total bytes per direction after which the connection is reset, as a
            metered mobile link or a middlebox cutting long transfers would.
    """

    bandwidth_bytes_per_s: int | None = None
    latency_s: float = 0.0
    jitter_s: float = 0.0
    reset_probability: float = 0.0
    data_limit_bytes: int | None = None

    def __post_init__(self) -> None:
        if self.bandwidth_bytes_per_s is not None and self.bandwidth_bytes_per_s <= 0:
            raise ValueError("bandwidth_bytes_per_s must be positive or None")
        if self.latency_s < 0 or self.jitter_s < 0:
            raise ValueError("latency_s and jitter_s must not be negative")
        if not 0.0 <= self.reset_probability <= 1.0:
            raise ValueError("reset_probability must be within [0, 1]")
        if self.data_limit_bytes is not None and self.data_limit_bytes < 0:
            raise ValueError("data_limit_bytes must not be negative")

    def serialisation_s(self, size: int) -> float:
        """Seconds the link is busy sending ``size`` bytes at the bandwidth cap."""
        if self.bandwidth_bytes_per_s is None:
            return 0.0
        return size / self.bandwidth_bytes_per_s

    def travel_s(self, rng: random.Random) -> float:
        """One-way delay of a chunk once sent: latency plus a jitter draw."""
        if self.jitter_s:
            return self.latency_s + rng.uniform(0.0, self.jitter_s)
        return self.latency_s


PASS_THROUGH = LinkProfile()
