"""Process lifetime of the long-running commands: clean stops, and nothing left behind.

- :mod:`~simulator.lifetime.signals`: SIGINT and SIGTERM as one shutdown request; the first
  drains, the second skips the drain (:class:`DrainSkipped`), the third exits at once.
- :mod:`~simulator.lifetime.lifeline`: a watcher process whose process group the command's
  children join; when the command ends, even by SIGKILL, it ends them and removes the
  command's work directories.
- :mod:`~simulator.lifetime.workdirs`: work directories marked with their owner, so the next
  run removes those of dead owners.
- :mod:`~simulator.lifetime.status`: the exit statuses, declared once.

A command wraps its body in :func:`command_lifetime` and makes its scratch space with
:func:`workdir`::

    with command_lifetime("ossmedia fleet") as shutdown:
        with workdir("ossmedia-fleet-") as path:
            run(stop=shutdown.stop)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from simulator.lifetime.lifeline import (
    Lifeline,
    active_lifeline,
    child_process_group,
    join_group,
    running_lifeline,
    tied,
)
from simulator.lifetime.signals import DRAINING, DrainSkipped, Shutdown, shutdown_signals
from simulator.lifetime.status import (
    EXIT_STATUSES,
    exit_status_help,
    signal_help,
    signal_status,
)
from simulator.lifetime.workdirs import owned_workdir, scratch_roots, sweep_stale

__all__ = [
    "EXIT_STATUSES",
    "DrainSkipped",
    "Lifeline",
    "Shutdown",
    "active_lifeline",
    "child_process_group",
    "command_lifetime",
    "exit_status_help",
    "join_group",
    "owned_workdir",
    "running_lifeline",
    "scratch_roots",
    "shutdown_signals",
    "signal_help",
    "signal_status",
    "sweep_stale",
    "tied",
    "workdir",
]


@contextlib.contextmanager
def command_lifetime(name: str, *, draining: str = DRAINING) -> Iterator[Shutdown]:
    """Run a command's body with a lifeline and the stop signals routed to a :class:`Shutdown`.

    Stale work directories of dead runs are removed first.

    Args:
        name: the command, for messages (``ossmedia fleet``).
        draining: what the command does after the first signal, for the message.
    """
    sweep_stale()
    with running_lifeline(), shutdown_signals(name, draining=draining) as shutdown:
        yield shutdown


@contextlib.contextmanager
def workdir(prefix: str, *, root: str | Path | None = None) -> Iterator[Path]:
    """A marked work directory, also held by the lifeline when there is one.

    Args:
        prefix: the name's start (``ossmedia-fleet-``).
        root: where to make it (default: the system's temporary directory).
    """
    lifeline = active_lifeline()
    with owned_workdir(
        prefix,
        root=root,
        on_create=lifeline.hold if lifeline is not None else None,
        on_remove=lifeline.release if lifeline is not None else None,
    ) as path:
        yield path
