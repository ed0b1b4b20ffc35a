"""What the responder depends on, and whether each dependency works right now.

Three dependencies decide whether a responder can answer anything but errors: the shared
state backend, the device registry (reachable, and opened by this master key) and STS (the
responder's AccessKey and role accepted). :class:`Dependencies` holds their status: a failure
seen by a request (a state call that raised, STS refusing the AccessKey) marks a dependency
down at once, and :class:`HealthMonitor` probes the state backend and the registry every few
seconds, so a dependency that comes back is seen without a restart. ``/healthz`` answers 503
while any of them is down.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from cloud.errors import CloudError

_log = logging.getLogger("ossmedia.responder.health")


class Dependency(StrEnum):
    """A service the responder cannot answer without."""

    STATE = "state"
    REGISTRY = "registry"
    STS = "sts"


@dataclass(frozen=True, slots=True)
class DependencyStatus:
    """One dependency's status.

    Attributes:
        ok: whether it works (as far as the last probe or request saw).
        reason: why not, when it does not (no secret, no third-party message).
    """

    ok: bool
    reason: str = ""


class DependencyObserver(Protocol):
    """Told about dependency errors and status changes (metrics)."""

    def dependency_error(self, dependency: str) -> None:
        """One failed call to ``dependency``."""

    def dependency_up(self, dependency: str, up: bool) -> None:
        """``dependency`` is now up (or down)."""


class Dependencies:
    """The status of every :class:`Dependency`; thread-safe.

    Args:
        observer: told about errors and changes (metrics); optional.
    """

    def __init__(self, observer: DependencyObserver | None = None) -> None:
        self._observer = observer
        self._lock = threading.Lock()
        self._status = {dep: DependencyStatus(ok=True) for dep in Dependency}
        if observer is not None:
            for dep in Dependency:
                observer.dependency_up(dep.value, True)

    def failed(self, dependency: Dependency, reason: str) -> None:
        """Record a failure of ``dependency`` (counted, and logged when it was up)."""
        with self._lock:
            was = self._status[dependency]
            self._status[dependency] = DependencyStatus(ok=False, reason=reason)
        if self._observer is not None:
            self._observer.dependency_error(dependency.value)
            self._observer.dependency_up(dependency.value, False)
        if was.ok:
            _log.error(
                "dependency down",
                extra={"fields": {"dependency": dependency.value, "reason": reason}},
            )

    def recovered(self, dependency: Dependency) -> None:
        """Record that ``dependency`` works (logged when it was down)."""
        with self._lock:
            was = self._status[dependency]
            if was.ok:
                return
            self._status[dependency] = DependencyStatus(ok=True)
        if self._observer is not None:
            self._observer.dependency_up(dependency.value, True)
        _log.info("dependency recovered", extra={"fields": {"dependency": dependency.value}})

    def status(self, dependency: Dependency) -> DependencyStatus:
        """The current status of one dependency."""
        with self._lock:
            return self._status[dependency]

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Whether all dependencies work, with a per-dependency view for ``/healthz``."""
        with self._lock:
            status = dict(self._status)
        details = {
            dep.value: {"ok": s.ok, **({"reason": s.reason} if s.reason else {})}
            for dep, s in status.items()
        }
        return all(s.ok for s in status.values()), details


Probe = Callable[[], None]
"""Raises :class:`~cloud.errors.CloudError` when its dependency does not work."""


class HealthMonitor:
    """Probe dependencies every ``interval_s`` seconds in a daemon thread.

    Args:
        dependencies: where results go.
        probes: one probe per dependency it covers.
        interval_s: time between rounds.
    """

    def __init__(
        self,
        dependencies: Dependencies,
        probes: dict[Dependency, Probe],
        *,
        interval_s: float,
    ) -> None:
        self._dependencies = dependencies
        self._probes = probes
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="responder-health", daemon=True)

    def probe_once(self) -> None:
        """Run every probe now."""
        for dependency, probe in self._probes.items():
            try:
                probe()
            except CloudError as exc:
                self._dependencies.failed(dependency, exc.message)
            except Exception as exc:  # a probe must not kill the monitor
                self._dependencies.failed(dependency, type(exc).__name__)
            else:
                self._dependencies.recovered(dependency)

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self.probe_once()

    def start(self) -> None:
        """Start probing in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop probing."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
