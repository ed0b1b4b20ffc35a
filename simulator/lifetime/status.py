"""Exit statuses of the long-running commands, declared once for ``--help`` and the docs.

A first SIGINT or SIGTERM does not change what a status means: the command reports what was
run and that report decides the status, as for a run that went to its end. Only a second
signal, which skips the drain and the report, gives a status of its own: 128 plus the
signal's number, as a shell shows for a process a signal ended. Every command's ``--help``
is built from :data:`EXIT_STATUSES` (with the command's own meaning of 0 and 1), and
``docs/lifetime.md`` lists the same table.
"""

from __future__ import annotations

import signal
import textwrap
from dataclasses import dataclass

__all__ = ["EXIT_STATUSES", "ExitStatus", "exit_status_help", "signal_help", "signal_status"]


@dataclass(frozen=True)
class ExitStatus:
    """One exit status and what it means."""

    code: int
    meaning: str


def signal_status(signum: int) -> int:
    """The status of a run a second signal ended without a report: 128 plus its number."""
    return 128 + signum


EXIT_STATUSES: tuple[ExitStatus, ...] = (
    ExitStatus(0, "the run met its goal"),
    ExitStatus(1, "the run missed its goal"),
    ExitStatus(2, "bad arguments or input files"),
    ExitStatus(
        signal_status(signal.SIGINT), "a second SIGINT (Ctrl-C) skipped the drain: no report"
    ),
    ExitStatus(signal_status(signal.SIGTERM), "a second SIGTERM skipped the drain: no report"),
)


def signal_help() -> str:
    """What a stop signal does to the exit status, one sentence for ``--help``."""
    _, _, _, by_int, by_term = EXIT_STATUSES
    return (
        "A first Ctrl-C or SIGTERM ends the run early; the report of what was run decides "
        f"the status. A second one skips the drain and the report: {by_int.code} (SIGINT) or "
        f"{by_term.code} (SIGTERM)."
    )


def exit_status_help(goal_met: str, goal_missed: str) -> str:
    """The ``Exit status:`` paragraph of a command's ``--help``.

    Args:
        goal_met: what 0 means for this command.
        goal_missed: what 1 means for this command.
    """
    met, missed, usage, _, _ = EXIT_STATUSES
    lines = [
        f"{met.code} {goal_met}",
        f"{missed.code} {goal_missed}",
        f"{usage.code} {usage.meaning}",
    ]
    return textwrap.fill("Exit status: " + "; ".join(lines) + ". " + signal_help(), width=79)
