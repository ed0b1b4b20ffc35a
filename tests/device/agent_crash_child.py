"""Child process for the agent crash test: run the agent and SIGKILL it at a chosen point.

Usage: ``python -m tests.device.agent_crash_child CONFIG POINT NTH``. ``POINT`` is a crash
point name, or ``inflight``: the process is killed 0.3 s after the NTH append was sent, while
the request is still with the store.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

from device.agent.agent import Agent
from device.agent.config import load_settings
from tests.device.crashkit import KillAt


class KillWhileInFlight:
    """SIGKILL shortly after the NTH append leaves, before its answer comes back."""

    def __init__(self, nth: int, delay_s: float = 0.3) -> None:
        self.nth = nth
        self.delay_s = delay_s
        self.count = 0

    def reached(self, name: str) -> None:
        if name != "upload.appending":
            return
        self.count += 1
        if self.count == self.nth:
            print("point inflight", flush=True)
            threading.Timer(self.delay_s, os.kill, (os.getpid(), signal.SIGKILL)).start()


def main() -> None:
    config, point, nth = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    crash = KillWhileInFlight(nth) if point == "inflight" else KillAt(point, nth)
    agent = Agent(load_settings(config), crash=crash)
    agent.run(until_drained=True)
    print("finished without crashing", flush=True)


if __name__ == "__main__":
    main()
