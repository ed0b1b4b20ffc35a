"""Service-manager notifications: systemd's ``NOTIFY_SOCKET`` protocol, written by hand.

Under a ``Type=notify`` unit, systemd passes a datagram socket's address in
``NOTIFY_SOCKET`` (a path, or ``@name`` for the abstract namespace) and, with
``WatchdogSec=``, the period in ``WATCHDOG_USEC`` (and the watched process in
``WATCHDOG_PID``). Each datagram holds newline-separated ``KEY=VALUE`` assignments:
``READY=1`` once the service works, ``WATCHDOG=1`` as a keep-alive, ``STOPPING=1`` on the
way out, ``STATUS=...`` as free text for ``systemctl status``.

The camera sends ``READY=1`` after its spool is open and its threads run, and
``WATCHDOG=1`` from its main loop at half the watchdog period. The main loop keeps turning
while uploads wait out an OSS outage (the spool absorbs the recording), so the keep-alives
continue then; if the loop itself hangs they stop, and systemd restarts the camera.

Without ``NOTIFY_SOCKET`` (SysV init, a shell) every call does nothing. A failed send is
logged once and never stops the camera: the watchdog, not the camera, decides what a
missing keep-alive means.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Mapping

__all__ = ["ServiceNotifier"]

log = logging.getLogger(__name__)


class ServiceNotifier:
    """Send ``READY``/``WATCHDOG``/``STOPPING`` to the service manager, if there is one.

    Args:
        address: the ``NOTIFY_SOCKET`` value; None disables every notification.
        watchdog_s: the watchdog period; None (or no address) sends no keep-alives.
        clock: a monotonic clock in seconds.
    """

    def __init__(
        self, address: str | None, watchdog_s: float | None, clock: Callable[[], float]
    ) -> None:
        self._address = _socket_address(address) if address else None
        self._interval = watchdog_s / 2 if watchdog_s and self._address else None
        self._clock = clock
        self._next = clock()
        self._warned = False

    @classmethod
    def from_environ(
        cls, environ: Mapping[str, str], clock: Callable[[], float], pid: int
    ) -> ServiceNotifier:
        """Build from the variables systemd sets (``NOTIFY_SOCKET``, ``WATCHDOG_USEC``/``_PID``).

        A ``WATCHDOG_PID`` naming another process means the watchdog is not this process's.
        """
        watchdog_s: float | None = None
        usec = environ.get("WATCHDOG_USEC", "")
        watched = environ.get("WATCHDOG_PID", "")
        if usec.isdigit() and int(usec) > 0 and (not watched or watched == str(pid)):
            watchdog_s = int(usec) / 1e6
        return cls(environ.get("NOTIFY_SOCKET") or None, watchdog_s, clock)

    @property
    def enabled(self) -> bool:
        """Whether a service manager listens."""
        return self._address is not None

    @property
    def watchdog_interval_s(self) -> float | None:
        """Seconds between keep-alives, or None when no watchdog is configured."""
        return self._interval

    def ready(self, status: str = "") -> None:
        """Tell the manager the service is up (``READY=1``)."""
        self._send("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def heartbeat(self) -> None:
        """Send ``WATCHDOG=1`` when half the watchdog period has passed since the last one.

        Call it from the loop whose progress the watchdog should vouch for, as often as it
        likes: it sends at most one datagram per half period.
        """
        if self._interval is None:
            return
        now = self._clock()
        if now < self._next:
            return
        self._next = now + self._interval
        self._send("WATCHDOG=1")

    def stopping(self) -> None:
        """Tell the manager the service is shutting down (``STOPPING=1``)."""
        self._send("STOPPING=1")

    def _send(self, message: str) -> None:
        if self._address is None:
            return
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto(message.encode(), self._address)
        except OSError as exc:
            if not self._warned:
                self._warned = True
                log.warning("cannot notify the service manager: %s", exc.strerror or exc)

    def __repr__(self) -> str:
        return f"ServiceNotifier(enabled={self.enabled}, watchdog_interval_s={self._interval})"


def _socket_address(value: str) -> str | bytes:
    # "@name" is Linux's abstract namespace, spelled with a leading NUL byte on the wire.
    if value.startswith("@"):
        return b"\0" + os.fsencode(value[1:])
    return value
