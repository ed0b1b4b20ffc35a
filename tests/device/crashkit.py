"""Crash tests: a camera process that SIGKILLs itself at a chosen point, and its restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


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


def kill_camera_at(config: Path, point: str, nth: int) -> None:
    """Run the camera of ``config`` in a child that SIGKILLs itself at ``point`` the ``nth``
    time (see ``tests.device.agent_crash_child``); fail unless it died that way."""
    child = subprocess.run(
        [sys.executable, "-m", "tests.device.agent_crash_child", str(config), point, str(nth)],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert child.returncode == -9, child.stdout + child.stderr


def restart_camera(config: Path) -> None:
    """Run ``ossmedia camera --config CONFIG --until-drained`` to the end; fail unless it exits 0."""
    restart = subprocess.run(
        [sys.executable, "-m", "ossmedia_cli", "camera", "--config", str(config),
         "--until-drained", "--progress-interval", "1"],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert restart.returncode == 0, restart.stderr[-3000:]
