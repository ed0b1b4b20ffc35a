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
from simulator.fleet.steps import (
    BrokerRestartParams,
    CameraKillParams,
    ClockSkewParams,
    LinkParams,
    OssFaultsParams,
    SpoolPressureParams,
    StsThrottleParams,
)
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
        params: ClockSkewParams = step.typed_params()
        count = round(params.share * len(device_ids))
        for device_id in rng.sample(device_ids, count):
            plans.setdefault(device_id, []).append(
                SkewPlan(step.at.resolve(duration_s), params.offset_s)
            )
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
        params: SpoolPressureParams = step.typed_params()
        bound = max(64 * 1024, 2 * chunk_bytes, params.max_bytes)
        for device_id in rng.sample(device_ids, round(params.share * len(device_ids))):
            limits[device_id] = min(bound, limits.get(device_id, bound))
    return limits


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
        self._pushes = 0
        self._pending: list[Step] = sorted(scenario.steps, key=lambda s: s.at.resolve(duration_s))
        self.end_errors: list[str] = []
        # Set by the runner when cameras run in processes it can kill (``camera_kill``):
        # called with the share to kill and the run time, returns how many were killed.
        self.kill_cameras: Callable[[float, float], int] | None = None

    def start(self, start_mono: float) -> None:
        """Begin applying steps, counting time from ``start_mono``."""
        self._start = start_mono
        self._thread = threading.Thread(target=self._run, name="fleet-chaos", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop applying steps and wait for restarts in progress to finish.

        Steps the run ended before reaching are recorded as not applied.
        """
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
        for helper in self._helpers:
            helper.join(60)
        for step in self._pending:
            self.applied.append(
                AppliedStep(
                    step.action,
                    round(step.at.resolve(self.duration_s), 3),
                    None,
                    dict(step.params),
                    error="not reached: the run ended first",
                )
            )
        self._pending = []

    def now(self) -> float:
        """Seconds into the run."""
        return time.monotonic() - self._start

    def _run(self) -> None:
        # One timeline of starts and ends, so a timed fault ends on time even when a later
        # step starts after it.
        ends: list[float] = []
        while self._pending or ends:
            next_start = self._pending[0].at.resolve(self.duration_s) if self._pending else None
            if ends and (next_start is None or ends[0] <= next_start):
                if self._stop.wait(max(0.0, ends.pop(0) - self.now())):
                    return
                try:
                    self._push_faults()
                except Exception as exc:  # the end of a fault not applied: say so
                    log.warning("ending a scenario fault failed: %s", exc)
                    self.end_errors.append(str(exc))
                continue
            assert next_start is not None  # noqa: S101 - one of the two lists is not empty
            if self._stop.wait(max(0.0, next_start - self.now())):
                return
            step = self._pending.pop(0)
            end = (
                None
                if step.duration is None
                else next_start + step.duration.resolve(self.duration_s)
            )
            applied = AppliedStep(step.action, round(self.now(), 3), end, dict(step.params))
            self.applied.append(applied)
            try:
                self._apply(step, applied, end)
                if end is not None and step.action in {"oss_faults", "oss_outage", "sts_throttle"}:
                    ends = sorted([*ends, end])
            except Exception as exc:  # a failed step is reported, the run goes on
                log.warning("scenario step %s failed: %s", step.action, exc)
                applied.error = str(exc) or type(exc).__name__

    def _apply(self, step: Step, applied: AppliedStep, end: float | None) -> None:
        services = self.services
        if step.action in {"clock_skew", "spool_pressure"}:
            return  # planned into the cameras up front (plan_skews, plan_spool_limits)
        if step.action == "camera_kill":
            if self.kill_cameras is None:
                raise RuntimeError("camera_kill needs cameras in group processes")
            kill: CameraKillParams = step.typed_params()
            applied.params["killed"] = self.kill_cameras(kill.share, self.now())
            applied.end_s = round(self.now(), 3)
            return
        if services is None:
            raise RuntimeError("needs local services")
        if step.action in {"oss_faults", "oss_outage", "sts_throttle"}:
            self._faults.append((step, applied.at_s, end))
            try:
                self._push_faults()
            except Exception:
                # A step the emulator refused must not block the steps after it.
                self._faults.pop()
                raise
        elif step.action in {"broker_restart", "responder_restart"}:
            restart: BrokerRestartParams = step.typed_params()
            downtime = restart.downtime_s
            applied.end_s = applied.at_s + downtime
            target = (
                services.restart_broker
                if step.action == "broker_restart"
                else services.restart_responder
            )

            def run_restart() -> None:
                try:
                    target(downtime, threading.Event())
                except Exception as exc:  # the step failed: the report says so
                    log.warning("scenario step %s failed: %s", step.action, exc)
                    applied.error = str(exc) or type(exc).__name__
                finally:
                    applied.end_s = round(self.now(), 3)

            helper = threading.Thread(target=run_restart, name=f"fleet-{step.action}", daemon=True)
            self._helpers.append(helper)
            helper.start()
        elif step.action == "link":
            link: LinkParams = step.typed_params()
            services.set_link(
                LinkProfile(
                    bandwidth_bytes_per_s=link.bandwidth_bytes_per_s or None,
                    latency_s=link.latency_ms / 1000,
                    jitter_s=link.jitter_ms / 1000,
                    reset_probability=link.reset_probability,
                    data_limit_bytes=link.data_limit_bytes or None,
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
                p: OssFaultsParams = step.typed_params()
                rules.append(
                    {
                        "operations": list(p.operations),
                        "error_rate": p.error_rate,
                        "error_status": p.status,
                        "lost_response_rate": p.lost_response_rate,
                        "reset_rate": p.reset_rate,
                        "latency_ms": p.latency_ms,
                        "jitter_ms": p.jitter_ms,
                    }
                )
            elif step.action == "oss_outage":
                outages.append({"after_s": 0, "duration_s": max(0.1, (end or now + 3600) - now)})
            elif step.action == "sts_throttle":
                throttle: StsThrottleParams = step.typed_params()
                rules.append({"operations": ["AssumeRole"], "throttle_rate": throttle.share})
        # The emulator reseeds its fault generator with every configuration: each change
        # gets its own seed drawn from the run's, so a run does not replay the first
        # configuration's decisions after every step, and the same --seed repeats the run.
        self._pushes += 1
        seed = random.Random(f"{self.seed}/{self._pushes}").getrandbits(31)  # noqa: S311
        self.services.emulator.set_faults({"seed": seed, "rules": rules, "outages": outages})
