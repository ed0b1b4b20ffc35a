"""SIGTERM and SIGINT as one shutdown request: the first drains, the second skips the drain.

A long-running command (``demo``, ``fleet``, ``bench ...``) runs inside
:func:`shutdown_signals`. The first SIGINT (Ctrl-C) or SIGTERM (what CI runners, systemd and
container runtimes send) sets :attr:`Shutdown.stop`: the command stops recording, lets its
cameras drain within the configured time, and reports what was run. A second one raises
:class:`DrainSkipped` in the main thread, which unwinds the command through its cleanup
(children stopped, work directory removed) without waiting for the drain. A third ends the
process at once; its lifeline (:mod:`simulator.lifetime.lifeline`) then stops the children
and removes the work directory.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

from simulator.lifetime.status import signal_status

__all__ = ["DrainSkipped", "Shutdown", "shutdown_signals"]

SIGNALS = (signal.SIGINT, signal.SIGTERM)
DRAINING = "finishing the work in progress"


class DrainSkipped(BaseException):
    """A second stop signal arrived: unwind now, cleaning up but not draining.

    A :class:`BaseException`, like :class:`KeyboardInterrupt`, so that ``except Exception``
    blocks on the way do not swallow it.

    Attributes:
        signum: the signal that arrived.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(f"{signal.Signals(signum).name} again: the drain is skipped")
        self.signum = signum


class Shutdown:
    """What the command learns from the signals.

    Args:
        name: the command, for messages (``ossmedia fleet``).
        draining: what the command does after the first signal, for the message.
        write: where messages go (a raw write: it runs inside a signal handler).
    """

    def __init__(
        self,
        name: str,
        *,
        draining: str = DRAINING,
        write: Callable[[str], None] | None = None,
    ) -> None:
        self.name = name
        self.draining = draining
        self.stop = threading.Event()
        self.signum: int | None = None
        self._count = 0
        self._write = write or _stderr

    @property
    def requested(self) -> bool:
        """Whether a stop signal arrived."""
        return self.signum is not None

    @property
    def signal_name(self) -> str | None:
        """``SIGTERM`` or ``SIGINT``, once one arrived."""
        return signal.Signals(self.signum).name if self.signum is not None else None

    def deliver(self, signum: int) -> None:
        """Act on one stop signal (what the installed handler calls).

        Raises:
            DrainSkipped: on the second signal.
        """
        self._count += 1
        name = signal.Signals(signum).name
        if self._count == 1:
            self.signum = signum
            self._write(
                f"{self.name}: {name}: stopping; {self.draining} (send it again to skip that)\n"
            )
            self.stop.set()
            return
        if self._count == 2:
            self._write(f"{self.name}: {name} again: skipping the drain, cleaning up\n")
            raise DrainSkipped(signum)
        self._write(f"{self.name}: {name} a third time: exiting now\n")
        os._exit(signal_status(signum))


def _stderr(text: str) -> None:
    with contextlib.suppress(OSError):
        os.write(2, text.encode())


@contextlib.contextmanager
def shutdown_signals(name: str, *, draining: str = DRAINING) -> Iterator[Shutdown]:
    """Route SIGINT and SIGTERM to a :class:`Shutdown` while the block runs.

    Off the main thread (a test calling a command's ``main``) no handler can be installed;
    the block then runs with a ``Shutdown`` that only a caller's ``deliver`` sets.

    Args:
        name: the command, for messages.
        draining: what the command does after the first signal, for the message.
    """
    shutdown = Shutdown(name, draining=draining)
    if threading.current_thread() is not threading.main_thread():
        yield shutdown
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        del frame
        shutdown.deliver(signum)

    previous: dict[int, Any] = {sig: signal.signal(sig, handler) for sig in SIGNALS}
    try:
        yield shutdown
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
