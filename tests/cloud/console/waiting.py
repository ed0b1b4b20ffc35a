"""Waiting for something another thread or process makes true."""

from __future__ import annotations

import threading
from collections.abc import Callable


def wait_until(predicate: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    """Check ``predicate`` every 20 ms until it holds or ``timeout_s`` passes.

    Returns:
        Whether it held.
    """
    pause = threading.Event()
    for _ in range(int(timeout_s / 0.02)):
        if predicate():
            return True
        pause.wait(0.02)
    return predicate()
