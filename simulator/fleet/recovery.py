"""How long the fleet took to recover from what a scenario step disrupted.

The runner samples every camera about once a second (:class:`CameraPoint`). A camera was
disrupted by a step when it went offline while the step was in force, or when its backlog
(produced minus stored) grew by more than ``slack_bytes`` (the ordinary rise and fall of one
chunk period is not a disruption). The fleet recovered at the first sample after the step's
end at which every disrupted camera is online again and has stored everything it had produced
by the step's end. A step that disrupted no camera had no effect, which is reported as such,
not as a recovery time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["CameraPoint", "History", "Recovery", "measure_recovery"]


@dataclass(frozen=True, slots=True)
class CameraPoint:
    """One camera at one sample."""

    uploaded: int
    produced: int
    connected: bool

    @property
    def backlog(self) -> int:
        return self.produced - self.uploaded


History = Sequence[tuple[float, Mapping[str, CameraPoint]]]


@dataclass(frozen=True)
class Recovery:
    """The effect of one step.

    Attributes:
        disrupted: cameras the step disrupted.
        recovery_s: seconds from the step's end until they had all recovered (``None``: no
            camera was disrupted, or they had not recovered when the run ended).
    """

    disrupted: int
    recovery_s: float | None

    def describe(self) -> str:
        """``no effect``, ``N camera(s) disrupted, recovered in X s`` or ``... not recovered``."""
        if self.disrupted == 0:
            return "no effect"
        head = f"{self.disrupted} camera(s) disrupted"
        if self.recovery_s is None:
            return f"{head}, not recovered by the end of the run"
        return f"{head}, recovered in {self.recovery_s:.1f}s"


def measure_recovery(history: History, start_s: float, end_s: float, slack_bytes: int) -> Recovery:
    """Measure what a step in force from ``start_s`` to ``end_s`` (run seconds) disrupted.

    Args:
        history: the samples, in time order.
        start_s: when the step took effect.
        end_s: when it ended.
        slack_bytes: backlog growth that is not a disruption.

    Returns:
        The cameras disrupted and the time they took to recover.
    """
    before = next((cams for at, cams in history if at >= start_s), None)
    after_index = next((i for i, (at, _) in enumerate(history) if at >= end_s), None)
    if before is None or after_index is None:
        return Recovery(0, None)
    at_end = history[after_index][1]
    disrupted: set[str] = set()
    for at, cams in history:
        if at < start_s or at > history[after_index][0]:
            continue
        for dev, point in cams.items():
            # A camera that has produced nothing has not booted yet: offline is no disruption.
            if not point.connected and before.get(dev, point).produced > 0:
                disrupted.add(dev)
    for dev, point in at_end.items():
        start = before.get(dev)
        if start is not None and point.backlog - start.backlog > slack_bytes:
            disrupted.add(dev)
    if not disrupted:
        return Recovery(0, None)
    for at, cams in history[after_index:]:
        if all(
            dev in cams and cams[dev].connected and cams[dev].uploaded >= at_end[dev].produced
            for dev in disrupted
        ):
            return Recovery(len(disrupted), round(max(0.0, at - end_s), 2))
    return Recovery(len(disrupted), None)
