"""The fleet report: every figure of a run as JSON, and a human summary of it.

``ok`` holds only when :attr:`FleetReport.failures` is empty (the rules are in
:mod:`simulator.fleet.verdict`); the CLI's exit status follows the failures' reasons. The JSON
carries ``schema_version`` (:data:`SCHEMA_VERSION`), raised whenever a field changes meaning or
goes away; ``docs/fleet.md`` describes the fields.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from simulator.fleet.chaos import AppliedStep
from simulator.fleet.group import CameraResult
from simulator.fleet.recovery import Recovery
from simulator.fleet.verdict import Failure, Reason, exit_status
from simulator.fleet.verify import CameraAudit

__all__ = [
    "SCHEMA_VERSION",
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


SCHEMA_VERSION = 2


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
    cameras_audited: int = 0
    cameras_not_audited: list[str] = field(default_factory=list)
    camera_process_failures: list[str] = field(default_factory=list)
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
    camera_audits: list[dict[str, Any]] = field(default_factory=list)
    infrastructure_errors: list[str] = field(default_factory=list)
    key_prefix: str = "videos/{device_id}/"
    emulator_note: str = ""
    interrupted: bool = False
    wall_s: float = 0.0
    schema_version: int = SCHEMA_VERSION

    @property
    def failures(self) -> list[Failure]:
        """Every reason the run failed; empty when every byte was proven."""
        out: list[Failure] = []

        def fail(reason: Reason, detail: str) -> None:
            out.append(Failure(reason, detail))

        for amount, what in (
            (self.lost_bytes, "lost"),
            (self.duplicated_bytes, "duplicated"),
            (self.corrupted_bytes, "corrupted"),
        ):
            if amount:
                fail(Reason.INTEGRITY, f"{amount} B {what}")
        if self.object_problems:
            fail(Reason.INTEGRITY, f"{len(self.object_problems)} object problem(s)")
        for error in self.infrastructure_errors:
            fail(Reason.INFRASTRUCTURE, error)
        for failure in self.camera_process_failures:
            fail(Reason.INCOMPLETE, failure)
        if self.cameras_not_audited:
            names = ", ".join(self.cameras_not_audited[:5])
            more = len(self.cameras_not_audited) - 5
            fail(
                Reason.INCOMPLETE,
                f"{len(self.cameras_not_audited)} camera(s) not audited: {names}"
                + (f" and {more} more" if more > 0 else ""),
            )
        elif self.cameras_audited != self.cameras:
            fail(Reason.INCOMPLETE, f"{self.cameras_audited} of {self.cameras} cameras audited")
        if self.cameras_not_drained or self.pending_bytes:
            fail(
                Reason.INCOMPLETE,
                f"{self.cameras_not_drained} camera(s) not drained, "
                f"{self.pending_bytes} B still spooled",
            )
        for step in self.steps:
            if step.get("error"):
                fail(
                    Reason.INCOMPLETE,
                    f"step {step['action']} at {step['at_s']:.1f}s not applied: {step['error']}",
                )
        if self.produced_bytes == 0 and self.cameras_audited:
            fail(Reason.INCOMPLETE, "nothing was produced")
        return out

    @property
    def ok(self) -> bool:
        """Every configured camera audited, every byte proven, every step applied."""
        return not self.failures

    @property
    def exit_status(self) -> int:
        """The process exit status for this report (:mod:`simulator.fleet.verdict`)."""
        return exit_status(self.failures)

    def set_duration(self, duration_s: float) -> None:
        """Record how long the cameras actually recorded (a run ended early) and rescale."""
        self.duration_s = duration_s
        device_hours = max(1e-9, self.cameras * duration_s / 3600)
        self.credential_requests_per_device_hour = self.credential_requests / device_hours
        self.sts_calls_per_device_hour = self.sts_calls / device_hours

    def to_json(self) -> str:
        """The report as JSON (with ``ok``)."""
        failures = [{"reason": f.reason.value, "detail": f.detail} for f in self.failures]
        verdict = {"ok": not failures, "failures": failures, "exit_status": self.exit_status}
        return json.dumps({**verdict, **asdict(self)}, indent=2, sort_keys=True)

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
        if self.interrupted:
            lines.insert(1, f"  stopped early: the cameras recorded {self.duration_s:g} s")
        if self.retries_by_cause:
            causes = ", ".join(f"{k}={v}" for k, v in sorted(self.retries_by_cause.items()))
            lines.append(f"  retries by cause: {causes}")
        for step in self.steps:
            effect = step.get("effect")
            lines.append(
                f"  step {step['action']} at {step['at_s']:.1f}s"
                + ("" if step.get("end_s") is None else f", ended {step['end_s']:.1f}s")
                + ("" if not effect else f", {effect}")
                + ("" if not step.get("error") else f" (not applied: {step['error']})")
            )
        for problem in self.object_problems[:10]:
            lines.append(f"  object problem: {problem['key']}: {problem['reason']}")
        if self.emulator_note:
            lines.append(f"  emulator: {self.emulator_note}")
        failures = self.failures
        for failure in failures:
            lines.append(f"  failure ({failure.reason.value}): {failure.detail}")
        if not failures:
            lines.append("RESULT: OK, every byte accounted for")
        else:
            reasons = sorted({f.reason.value for f in failures})
            lines.append(f"RESULT: FAILED ({', '.join(reasons)}), exit status {self.exit_status}")
        return "\n".join(lines)


def build_report(
    report: FleetReport,
    results: Sequence[CameraResult],
    audits: Sequence[CameraAudit],
    applied: Sequence[AppliedStep],
    recovery: dict[int, Recovery],
) -> FleetReport:
    """Fill the byte accounting, camera counters and steps into ``report``."""
    for audit in audits:
        report.cameras_audited += 1
        report.camera_audits.append(audit.figures())
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
    report.steps = []
    for i, step in enumerate(applied):
        rec = recovery.get(i)
        report.steps.append(
            {
                **asdict(step),
                "recovery_s": None if rec is None else rec.recovery_s,
                "disrupted_cameras": None if rec is None else rec.disrupted,
                "effect": None if rec is None else rec.describe(),
            }
        )
    return report
