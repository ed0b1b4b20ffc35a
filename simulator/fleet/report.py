"""The fleet report: every figure of a run as JSON, and a human summary of it.

``ok`` is false when any camera lost, duplicated or corrupted a byte, or an object's bytes
disagree with the CRC-64 the server computed; the CLI's exit status follows it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from simulator.fleet.chaos import AppliedStep
from simulator.fleet.group import CameraResult
from simulator.fleet.verify import CameraAudit

__all__ = [
    "FleetReport",
    "build_report",
    "histogram_quantile",
    "percentile",
    "steady_key_rate",
]


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) of ``values`` by nearest rank; ``None`` when empty."""
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))
    return ordered[index]


def histogram_quantile(buckets: Sequence[tuple[float, float]], q: float) -> float | None:
    """The upper bound of the histogram bucket holding the ``q`` quantile (Prometheus style).

    Args:
        buckets: (upper bound, cumulative count) pairs, ascending.
        q: the quantile, 0..1.
    """
    if not buckets or buckets[-1][1] <= 0:
        return None
    target = q * buckets[-1][1]
    for bound, count in buckets:
        if count >= target:
            return bound
    return buckets[-1][0]


def steady_key_rate(key_times: Sequence[Sequence[float]]) -> tuple[int, float | None]:
    """STS credentials per device-hour at steady state, from the gaps between new keys.

    Each camera's first key is its boot lease; every later key is one refresh. The rate is
    the number of refreshes over the time they span (first to last key), summed over cameras,
    so one full refresh period per camera is enough and the boot is left out.

    Args:
        key_times: per camera, the run seconds at which it first held each new key.

    Returns:
        (intervals measured, credentials per device-hour or ``None`` without an interval).
    """
    intervals = sum(max(0, len(times) - 1) for times in key_times)
    span_s = sum(times[-1] - times[0] for times in key_times if len(times) > 1)
    if intervals == 0 or span_s <= 0:
        return intervals, None
    return intervals, intervals * 3600 / span_s


@dataclass
class FleetReport:
    """Everything a fleet run measured."""

    scenario: str
    seed: int
    cameras: int
    duration_s: float
    bitrate_bps: int
    processes: int
    produced_bytes: int = 0
    stored_bytes: int = 0
    ok_bytes: int = 0
    lost_bytes: int = 0
    duplicated_bytes: int = 0
    corrupted_bytes: int = 0
    dropped_bytes: int = 0
    pending_bytes: int = 0
    objects: int = 0
    cameras_not_drained: int = 0
    object_problems: list[dict[str, str]] = field(default_factory=list)
    unclean_cameras: list[str] = field(default_factory=list)
    credential_requests: int = 0
    credential_leases: int = 0
    sts_calls: int = 0
    credential_requests_per_device_hour: float = 0.0
    sts_calls_per_device_hour: float = 0.0
    sts_steady_per_device_hour: float | None = None
    sts_steady_intervals: int = 0
    reply_latency_p50_s: float | None = None
    reply_latency_p99_s: float | None = None
    append_latency_p50_s: float | None = None
    append_latency_p99_s: float | None = None
    retries_by_cause: dict[str, int] = field(default_factory=dict)
    injected_faults: dict[str, dict[str, int]] = field(default_factory=dict)
    oss_requests: dict[str, dict[str, int]] = field(default_factory=dict)
    spool_peak_bytes_max: int = 0
    spool_peak_bytes_p99: int = 0
    spool_end_growth_bytes: int = 0
    steps: list[dict[str, Any]] = field(default_factory=list)
    wall_s: float = 0.0
    stopped_by: str | None = None

    @property
    def ok(self) -> bool:
        """No byte lost, duplicated or corrupted, and no object inconsistent."""
        return not (
            self.lost_bytes or self.duplicated_bytes or self.corrupted_bytes or self.object_problems
        )

    def set_duration(self, duration_s: float) -> None:
        """Record how long the cameras actually recorded (a run ended early) and rescale."""
        self.duration_s = duration_s
        device_hours = max(1e-9, self.cameras * duration_s / 3600)
        self.credential_requests_per_device_hour = self.credential_requests / device_hours
        self.sts_calls_per_device_hour = self.sts_calls / device_hours

    def stopped_early(self, signal_name: str, after_s: float) -> None:
        """Mark the run as ended early by ``signal_name`` (the cameras recorded ``after_s``)."""
        self.stopped_by = signal_name
        self.set_duration(round(min(self.duration_s, after_s), 1))

    def to_json(self) -> str:
        """The report as JSON (with ``ok``)."""
        return json.dumps({"ok": self.ok, **asdict(self)}, indent=2, sort_keys=True)

    def write(self, path: Path) -> None:
        """Write the JSON report to ``path``."""
        path.write_text(self.to_json() + "\n", encoding="utf-8")

    def summary(self) -> str:
        """A human summary, a few lines long."""

        def mb(n: int) -> str:
            return f"{n / 1e6:.2f} MB"

        def ms(v: float | None) -> str:
            return "-" if v is None else f"{v * 1000:.1f} ms"

        steady = (
            "-"
            if self.sts_steady_per_device_hour is None
            else f"{self.sts_steady_per_device_hour:.2f}/device-hour"
        )
        lines = [
            f"fleet run: {self.cameras} cameras x {self.duration_s:g} s, scenario "
            f"{self.scenario!r}, seed {self.seed}, {self.processes} process(es), "
            f"{self.wall_s:.0f} s wall",
            f"  produced {mb(self.produced_bytes)}  stored {mb(self.stored_bytes)}  "
            f"({self.objects} objects)",
            f"  lost {self.lost_bytes} B  duplicated {self.duplicated_bytes} B  "
            f"corrupted {self.corrupted_bytes} B  dropped by spool policy {self.dropped_bytes} B  "
            f"still spooled {self.pending_bytes} B ({self.cameras_not_drained} cameras not drained)",
            f"  credential requests {self.credential_requests} "
            f"({self.credential_requests_per_device_hour:.2f}/device-hour), STS calls "
            f"{self.sts_calls} ({self.sts_calls_per_device_hour:.2f}/device-hour); steady "
            f"state {steady} over {self.sts_steady_intervals} refresh intervals",
            f"  reply latency p50 <= {ms(self.reply_latency_p50_s)} p99 <= "
            f"{ms(self.reply_latency_p99_s)}; append latency p50 <= "
            f"{ms(self.append_latency_p50_s)} p99 <= {ms(self.append_latency_p99_s)}",
            f"  spool peak {mb(self.spool_peak_bytes_max)} (p99 over cameras "
            f"{mb(self.spool_peak_bytes_p99)})",
        ]
        if self.stopped_by is not None:
            lines.insert(1, f"  stopped early by {self.stopped_by} after {self.duration_s:g} s")
        if self.retries_by_cause:
            causes = ", ".join(f"{k}={v}" for k, v in sorted(self.retries_by_cause.items()))
            lines.append(f"  retries by cause: {causes}")
        for step in self.steps:
            rec = step.get("recovery_s")
            lines.append(
                f"  step {step['action']} at {step['at_s']:.1f}s"
                + ("" if step.get("end_s") is None else f", ended {step['end_s']:.1f}s")
                + ("" if rec is None else f", recovered in {rec:.1f}s")
                + ("" if not step.get("error") else f" (not applied: {step['error']})")
            )
        for problem in self.object_problems[:10]:
            lines.append(f"  object problem: {problem['key']}: {problem['reason']}")
        lines.append("RESULT: " + ("OK, every byte accounted for" if self.ok else "FAILED"))
        return "\n".join(lines)


def build_report(
    report: FleetReport,
    results: Sequence[CameraResult],
    audits: Sequence[CameraAudit],
    applied: Sequence[AppliedStep],
    recovery: dict[int, float | None],
) -> FleetReport:
    """Fill the byte accounting, camera counters and steps into ``report``."""
    for audit in audits:
        s = audit.stream
        report.produced_bytes += s.produced_bytes
        report.stored_bytes += s.stored_bytes
        report.ok_bytes += s.ok_bytes
        report.lost_bytes += s.lost_bytes
        report.duplicated_bytes += s.duplicated_bytes
        report.corrupted_bytes += s.corrupted_bytes
        report.dropped_bytes += s.dropped_bytes
        report.pending_bytes += s.pending_bytes
        report.objects += audit.objects
        report.cameras_not_drained += 0 if audit.drained else 1
        report.object_problems += [{"key": p.key, "reason": p.reason} for p in audit.problems]
        if not audit.clean:
            report.unclean_cameras.append(audit.device_id)
    causes: dict[str, int] = dict(report.retries_by_cause)
    peaks = []
    for cam in results:
        report.credential_requests += cam.credential_requests
        report.credential_leases += cam.credential_leases
        for code, n in cam.credential_errors.items():
            causes[f"credentials:{code}"] = causes.get(f"credentials:{code}", 0) + n
        if cam.credential_timeouts:
            causes["credentials:timeout"] = (
                causes.get("credentials:timeout", 0) + cam.credential_timeouts
            )
        if cam.outage_waits:
            causes["upload:gave_up_waiting"] = causes.get("upload:gave_up_waiting", 0) + (
                cam.outage_waits
            )
        peaks.append(cam.spool_peak_bytes)
    report.retries_by_cause = causes
    report.sts_steady_intervals, report.sts_steady_per_device_hour = steady_key_rate(
        [cam.new_key_times_s for cam in results]
    )
    report.spool_peak_bytes_max = max(peaks, default=0)
    report.spool_peak_bytes_p99 = int(percentile(peaks, 0.99) or 0)
    device_hours = max(1e-9, report.cameras * report.duration_s / 3600)
    report.credential_requests_per_device_hour = report.credential_requests / device_hours
    report.sts_calls_per_device_hour = report.sts_calls / device_hours
    report.steps = [
        {**asdict(step), "recovery_s": recovery.get(i)} for i, step in enumerate(applied)
    ]
    return report
