"""The verdict of a fleet run: why it failed, and the exit status each reason maps to.

A run is OK only when every configured camera was audited, every produced byte is stored
exactly once (or was dropped by a spool policy the scenario forced), nothing is left in a
spool, every scenario step was applied as written, and something was produced. Anything else
is a failing run with one or more :class:`Failure` entries. The exit status of a failing run
is the first of its reasons in :data:`EXIT_STATUS` order: a run that lost data exits 1 even if
it was also incomplete.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["EXIT_STATUS", "Failure", "Reason", "exit_status", "exit_status_help"]


class Reason(StrEnum):
    """Why a run failed."""

    INTEGRITY = "integrity"
    """A byte was lost, duplicated or corrupted, or an object disagrees with its report."""
    INVALID_INPUT = "invalid_input"
    """An argument, setting or scenario step was refused before any service started."""
    INCOMPLETE = "incomplete"
    """Not everything was proven: a camera not audited or not drained, a scenario step not
    applied, or nothing produced."""
    INFRASTRUCTURE = "infrastructure"
    """A service could not be started, reached or used."""


# In order of precedence when a run fails for several reasons.
EXIT_STATUS: dict[Reason, int] = {
    Reason.INTEGRITY: 1,
    Reason.INVALID_INPUT: 2,
    Reason.INFRASTRUCTURE: 4,
    Reason.INCOMPLETE: 3,
}


@dataclass(frozen=True)
class Failure:
    """One reason a run failed, with what it concerns."""

    reason: Reason
    detail: str


def exit_status(failures: list[Failure]) -> int:
    """0 for a run without failures, else the status of its most important reason."""
    reasons = {failure.reason for failure in failures}
    for reason, status in EXIT_STATUS.items():
        if reason in reasons:
            return status
    return 0


def exit_status_help() -> str:
    """The exit statuses as one paragraph for ``--help``."""
    parts = ", ".join(
        f"{status} {reason.value.replace('_', ' ')}"
        for reason, status in sorted(EXIT_STATUS.items(), key=lambda item: item[1])
    )
    return f"Exit status: 0 when every byte was proven; otherwise {parts}."
