"""The emulator's control surface, declared once: what a test or script may do to an emulator.

:class:`Control` is the one definition (names, parameters, replies). Three things conform to
it and ``tests/simulator/emulator/test_control.py`` keeps them equal to it, parameter kinds
included: :class:`~simulator.emulator.server.Emulator` (the implementation, in process),
:class:`~simulator.emulator.handle.EmulatorHandle` (the same calls over the admin API, for an
emulator in this or another process), and :data:`ENDPOINTS`, the admin API routes that
:class:`~simulator.emulator.admin.AdminApp` serves them on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from schemas.durations import DEFAULT_SESSION_DURATION_S
from simulator.emulator.faults import FaultConfig


class Control(Protocol):
    """What can be done to a running emulator."""

    def info(self) -> dict[str, Any]:
        """What a client needs: endpoints, region, root key, role ARN, bucket, admin token."""
        ...

    def set_faults(self, faults: FaultConfig | Mapping[str, Any]) -> dict[str, Any]:
        """Replace the injected faults; returns the faults in force and the counters."""
        ...

    def clear_faults(self) -> None:
        """Stop injecting faults."""
        ...

    def faults(self) -> dict[str, Any]:
        """The faults in force and what was injected so far."""
        ...

    def advance_clock(self, seconds: float) -> float:
        """Move the emulator clock forward and apply lifecycle rules; returns the new offset."""
        ...

    def sweep_lifecycle(self) -> int:
        """Apply OSS lifecycle rules at the emulator clock; returns how many objects expired."""
        ...

    def stats(self) -> dict[str, Any]:
        """Requests per operation and outcome (``requests``) and injected faults (``faults``)."""
        ...

    def reset_stats(self) -> None:
        """Zero the request and fault counters."""
        ...

    def create_bucket(self, name: str, account_id: str | None = None) -> None:
        """Create a bucket owned by ``account_id`` (default: the first account)."""
        ...

    def create_role(
        self,
        name: str,
        policies: list[Any],
        *,
        account_id: str | None = None,
        trusted_accounts: list[str] | None = None,
        trust_policy: dict[str, Any] | str | None = None,
        max_session_duration: int = DEFAULT_SESSION_DURATION_S,
    ) -> str:
        """Create or replace a role; returns its ARN. ``trust_policy`` (a RAM trust policy
        document) says who may assume it; without one, any identity of ``trusted_accounts``."""
        ...

    def add_access_key(
        self,
        access_key_id: str,
        secret: str,
        *,
        account_id: str | None = None,
        user: str | None = None,
        policies: list[Any] | None = None,
    ) -> None:
        """Add a long-term key (``user`` None makes it a root key of the account)."""
        ...


ENDPOINTS: Mapping[str, tuple[str, str]] = {
    "info": ("GET", "/info"),
    "set_faults": ("PUT", "/faults"),
    "clear_faults": ("DELETE", "/faults"),
    "faults": ("GET", "/faults"),
    "advance_clock": ("POST", "/clock"),
    "sweep_lifecycle": ("POST", "/lifecycle/sweep"),
    "stats": ("GET", "/stats"),
    "reset_stats": ("DELETE", "/stats"),
    "create_bucket": ("PUT", "/buckets/{name}"),
    "create_role": ("PUT", "/roles"),
    "add_access_key": ("PUT", "/access-keys"),
}
"""Each :class:`Control` method's admin route: ``(HTTP method, path under /__admin)``."""
