"""Carry out a scenario's steps at their times against the services of a run.

Emulator faults are one configuration in the emulator, so overlapping steps (5xx all along, an
outage in the middle) are combined: every change rebuilds the whole configuration from the
steps in force, with outage windows shortened to what is left of them. Restarts run in their
own thread so a long downtime does not delay the next step. Each step's moment and end are
recorded, so the report can say how long the fleet took to recover from it.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simulator.fleet.camera import SkewPlan
from simulator.fleet.scenario import Scenario, Step
from simulator.fleet.services import LocalServices
from simulator.netfault import LinkProfile

__all__ = ["AppliedStep", "ChaosDriver", "plan_skews", "plan_spool_limits"]

log = logging.getLogger(__name__)


@dataclass
class AppliedStep:
    """One step as it happened: when it started and when its effect ended (run seconds)."""

    action: str
    at_s: float
    end_s: float | None
    params: dict[str, Any]
    error: str | None = None


def plan_skews(
    scenario: Scenario, device_ids: list[str], duration_s: float, seed: int
) -> dict[str, list[SkewPlan]]:
    """Choose, with the run's seed, which cameras each ``clock_skew`` step puts off.

    Returns:
        device id -> when and by how much its clock goes wrong.
    """
    rng = random.Random(seed)  # noqa: S311 - a reproducible choice of cameras
    plans: dict[str, list[SkewPlan]] = {}
    for step in scenario.steps:
        if step.action != "clock_skew":
            continue
        share = float(step.params.get("share", 0.1))  # type: ignore[arg-type]
        offset = float(step.params.get("offset_s", 3600))  # type: ignore[arg-type]
        count = round(share * len(device_ids))
        for device_id in rng.sample(device_ids, count):
            plans.setdefault(device_id, []).append(SkewPlan(step.at.resolve(duration_s), offset))
    return plans


def plan_spool_limits(
    scenario: Scenario, device_ids: list[str], chunk_bytes: int, seed: int
) -> dict[str, int]:
    """Choose, with the run's seed, the cameras each ``spool_pressure`` step squeezes.

    Returns:
        device id -> its spool's bound in bytes (``max_bytes``, raised to two chunks and to
        the 64 KiB the camera accepts).
    """
    rng = random.Random(seed + 1)  # noqa: S311 - a reproducible choice of cameras
    limits: dict[str, int] = {}
    for step in scenario.steps:
        if step.action != "spool_pressure":
            continue
        share = float(step.params.get("share", 1.0))  # type: ignore[arg-type]
        bound = max(64 * 1024, 2 * chunk_bytes, int(_f(step, "max_bytes", 64 * 1024)))
        for device_id in rng.sample(device_ids, round(share * len(device_ids))):
            limits[device_id] = min(bound, limits.get(device_id, bound))
    return limits


def _f(step: Step, name: str, default: float) -> float:
    value = step.params.get(name, default)
    return float(value)  # type: ignore[arg-type]


class ChaosDriver:
    """Applies a scenario to local services in a background thread.

    Args:
        scenario: the steps.
        services: what the steps act on (``None``: external services, only camera-side
            steps such as clock skew take effect).
        duration_s: the run's length (resolves ``"50%"`` times).
        seed: seeds the emulator's fault decisions.
    """

    def __init__(
        self,
        scenario: Scenario,
        services: LocalServices | None,
        duration_s: float,
        seed: int,
    ) -> None:
        self.scenario = scenario
        self.services = services
        self.duration_s = duration_s
        self.seed = seed
        self.applied: list[AppliedStep] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._helpers: list[threading.Thread] = []
        self._faults: list[tuple[Step, float, float | None]] = []
        self._start = 0.0
        # Set by the runner when cameras run in processes it can kill (``camera_kill``):
        # called with the share to kill and the run time, returns how many were killed.
        self.kill_cameras: Callable[[float, float], int] | None = None

    def start(self, start_mono: float) -> None:
        """Begin applying steps, counting time from ``start_mono``."""
        self._start = start_mono
        self._thread = threading.Thread(target=self._run, name="fleet-chaos", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop applying steps and wait for restarts in progress to finish."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
        for helper in self._helpers:
            helper.join(60)

    def now(self) -> float:
        """Seconds into the run."""
        return time.monotonic() - self._start

    def _run(self) -> None:
        steps = sorted(self.scenario.steps, key=lambda s: s.at.resolve(self.duration_s))
        ends: list[float] = []
        for step in steps:
            at = step.at.resolve(self.duration_s)
            if self._stop.wait(max(0.0, at - self.now())):
                return
            end = None if step.duration is None else at + step.duration.resolve(self.duration_s)
            applied = AppliedStep(step.action, round(self.now(), 3), end, dict(step.params))
            self.applied.append(applied)
            try:
                self._apply(step, applied, end)
                if end is not None and step.action in {"oss_faults", "oss_outage", "sts_throttle"}:
                    ends.append(end)
            except Exception as exc:  # a failed step is reported, the run goes on
                log.warning("scenario step %s failed: %s", step.action, exc)
                applied.error = str(exc)
        # Rebuild the fault configuration when timed faults end.
        for end in sorted(ends):
            if self._stop.wait(max(0.0, end - self.now())):
                return
            self._push_faults()

    def _apply(self, step: Step, applied: AppliedStep, end: float | None) -> None:
        services = self.services
        if step.action in {"clock_skew", "spool_pressure"}:
            return  # planned into the cameras up front (plan_skews, plan_spool_limits)
        if services is None:
            raise RuntimeError("needs local services")
        if step.action in {"oss_faults", "oss_outage", "sts_throttle"}:
            self._faults.append((step, applied.at_s, end))
            self._push_faults()
        elif step.action in {"broker_restart", "responder_restart"}:
            downtime = _f(step, "downtime_s", 3.0)
            applied.end_s = applied.at_s + downtime
            target = (
                services.restart_broker
                if step.action == "broker_restart"
                else services.restart_responder
            )

            def restart() -> None:
                try:
                    target(downtime, threading.Event())
                finally:
                    applied.end_s = round(self.now(), 3)

            helper = threading.Thread(target=restart, name=f"fleet-{step.action}", daemon=True)
            self._helpers.append(helper)
            helper.start()
        elif step.action == "camera_kill":
            if self.kill_cameras is None:
                raise RuntimeError("camera_kill needs cameras in group processes")
            applied.params["killed"] = self.kill_cameras(_f(step, "share", 0.5), self.now())
            applied.end_s = round(self.now(), 3)
        elif step.action == "link":
            services.set_link(
                LinkProfile(
                    bandwidth_bytes_per_s=(int(_f(step, "bandwidth_bytes_per_s", 0)) or None),
                    latency_s=_f(step, "latency_ms", 0) / 1000,
                    jitter_s=_f(step, "jitter_ms", 0) / 1000,
                    reset_probability=_f(step, "reset_probability", 0),
                    data_limit_bytes=(int(_f(step, "data_limit_bytes", 0)) or None),
                )
            )
        else:
            raise RuntimeError(f"step {step.action} is not supported by the fleet runner")

    def _push_faults(self) -> None:
        assert self.services is not None  # noqa: S101 - only called with local services
        now = self.now()
        rules: list[dict[str, Any]] = []
        outages: list[dict[str, Any]] = []
        for step, _, end in self._faults:
            if end is not None and end <= now:
                continue
            if step.action == "oss_faults":
                p = step.params
                rule: dict[str, Any] = {
                    "operations": list(p.get("operations", ["*"])),  # type: ignore[arg-type]
                    "error_rate": _f(step, "error_rate", 0),
                    "error_status": int(_f(step, "status", 503)),
                    "lost_response_rate": _f(step, "lost_response_rate", 0),
                    "reset_rate": _f(step, "reset_rate", 0),
                    "latency_ms": _f(step, "latency_ms", 0),
                    "jitter_ms": _f(step, "jitter_ms", 0),
                }
                if rule["operations"] == ["*"]:
                    # STS has its own step; OSS faults leave AssumeRole alone.
                    rule["operations"] = ["AppendObject", "HeadObject", "GetObject", "PutObject"]
                rules.append(rule)
            elif step.action == "oss_outage":
                outages.append({"after_s": 0, "duration_s": max(0.1, (end or now + 3600) - now)})
            elif step.action == "sts_throttle":
                rules.append(
                    {"operations": ["AssumeRole"], "throttle_rate": _f(step, "share", 0.5)}
                )
        self.services.emulator.set_faults({"seed": self.seed, "rules": rules, "outages": outages})
