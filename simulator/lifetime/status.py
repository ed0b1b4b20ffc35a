"""Exit statuses of the long-running commands, declared once for ``--help`` and the docs.

Every command's epilog is built from :data:`EXIT_STATUSES` (with the command's own meaning
of 1), and ``docs/lifetime.md`` lists the same table.
"""

from __future__ import annotations

import signal
import textwrap
from dataclasses import dataclass

__all__ = ["EXIT_STATUSES", "ExitStatus", "exit_status_help", "signal_status"]


@dataclass(frozen=True)
class ExitStatus:
    """One exit status and what it means."""

    code: int
    meaning: str


def signal_status(signum: int) -> int:
    """The status of a run stopped early by signal ``signum``: 128 plus its number."""
    return 128 + signum


EXIT_STATUSES: tuple[ExitStatus, ...] = (
    ExitStatus(0, "the run completed and met its goal"),
    ExitStatus(1, "the run completed and missed its goal"),
    ExitStatus(2, "bad arguments or input files"),
    ExitStatus(
        signal_status(signal.SIGINT),
        "stopped early by SIGINT (Ctrl-C), with a report of what was run",
    ),
    ExitStatus(
        signal_status(signal.SIGTERM), "stopped early by SIGTERM, with a report of what was run"
    ),
)


def exit_status_help(goal_met: str, goal_missed: str, *, signal_ends: bool = False) -> str:
    """The ``Exit status:`` paragraph of a command's ``--help``.

    Args:
        goal_met: what 0 means for this command.
        goal_missed: what 1 means for this command.
        signal_ends: SIGINT or SIGTERM is the command's normal end (``demo``): the first one
            ends it with 0 or 1 like a completed run, only a second one gives 130 or 143.
    """
    met, missed, usage, by_int, by_term = EXIT_STATUSES
    lines = [
        f"{met.code} {goal_met}",
        f"{missed.code} {goal_missed}",
        f"{usage.code} {usage.meaning}",
    ]
    if signal_ends:
        lines.append(
            f"{by_int.code} or {by_term.code}: a second SIGINT or SIGTERM skipped the drain "
            "(no report)"
        )
    else:
        lines += [f"{by_int.code} {by_int.meaning}", f"{by_term.code} {by_term.meaning}"]
    text = "Exit status: " + "; ".join(lines) + "."
    if not signal_ends:
        text += " A second SIGINT or SIGTERM skips the drain and the report."
    return textwrap.fill(text, width=79)
