"""Crash-point hooks for crash tests: the process kills itself with SIGKILL at a chosen point."""

from __future__ import annotations

import os
import signal
import sys


class KillAt:
    """Kill the current process with SIGKILL the ``nth`` time crash point ``name`` is passed.

    Every point passed is also printed (``point <name>``) so the parent can tell how far the
    child got.
    """

    def __init__(self, name: str, nth: int = 1) -> None:
        self.name = name
        self.nth = nth
        self.count = 0

    def reached(self, name: str) -> None:
        print(f"point {name}", flush=True)
        if name != self.name:
            return
        self.count += 1
        if self.count == self.nth:
            sys.stdout.flush()
            os.kill(os.getpid(), signal.SIGKILL)
