"""The ``camera_kill`` step: SIGKILL camera processes mid-run and start them again.

A fleet run's cameras live in group processes (:func:`~simulator.fleet.group.run_group`).
:class:`GroupProcesses` starts them and, when the scenario says so, kills a share of them
with SIGKILL (no shutdown code runs: what a power cut does to a camera) and starts a
replacement for each over the same spools, joining the run where it stands
(``GroupSpec.elapsed_s``). Each replacement's cameras resume their recording from the
source marks their spools committed, so the end-of-run audit must still find every byte
stored exactly once.

The runner treats a group process's death as a failure unless :meth:`GroupProcesses.expected`
says the run caused it: the kills made here are the only expected ones.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import random
import signal
import threading
from collections.abc import Callable
from typing import Any

from simulator.fleet.group import GroupSpec

__all__ = ["GroupProcesses"]

log = logging.getLogger(__name__)


class GroupProcesses:
    """The group processes of a run, each in a slot that a replacement can take over.

    Args:
        specs: one group per slot.
        spawn: starts a group process; returns it and the queue it reports on.
        seed: the run's seed (which slots a kill picks).
    """

    def __init__(
        self,
        specs: list[GroupSpec],
        spawn: Callable[[GroupSpec], tuple[Any, Any]],
        *,
        seed: int,
    ) -> None:
        self._specs = specs
        self._spawn = spawn
        self._rng = random.Random(seed + 2)  # noqa: S311 - a reproducible choice of groups
        self._lock = threading.Lock()
        self._killing: set[int] = set()
        self._slots: list[tuple[Any, Any]] = [spawn(spec) for spec in specs]

    def __len__(self) -> int:
        return len(self._slots)

    def current(self, index: int) -> tuple[Any, Any]:
        """The process and result queue now serving slot ``index``."""
        with self._lock:
            return self._slots[index]

    def expected(self, index: int, proc: Any) -> bool:
        """Whether ``proc``'s death in slot ``index`` was caused by the run (a kill step):
        it is being replaced or has been, so its relay should move on to the new process."""
        with self._lock:
            return index in self._killing or self._slots[index][0] is not proc

    def kill_share(self, share: float, elapsed_s: float) -> int:
        """SIGKILL ``share`` of the group processes (at least one) and replace each.

        Returns:
            How many processes were killed.
        """
        count = max(1, round(share * len(self._slots)))
        chosen = self._rng.sample(range(len(self._slots)), min(count, len(self._slots)))
        killed = 0
        for index in chosen:
            with self._lock:
                proc, _ = self._slots[index]
                if proc.pid is None or not proc.is_alive():
                    continue  # its cameras are done: nothing to kill, nothing to restart
                self._killing.add(index)
            try:
                os.kill(proc.pid, signal.SIGKILL)
                proc.join(30)
                spec = dataclasses.replace(self._specs[index], elapsed_s=elapsed_s)
                replacement = self._spawn(spec)
                with self._lock:
                    self._slots[index] = replacement
                killed += 1
                log.info("camera process %d killed at %.1f s and restarted", index, elapsed_s)
            finally:
                with self._lock:
                    self._killing.discard(index)
        return killed

    def join(self, timeout_s: float) -> None:
        """Wait for every current process to end."""
        for index in range(len(self._slots)):
            self.current(index)[0].join(timeout_s)
