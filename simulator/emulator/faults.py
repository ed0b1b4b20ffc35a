"""Fault injection as pure logic: which request fails how, decided by a seeded RNG.

A :class:`FaultConfig` holds rules (per operation: error rate, latency with jitter, "applied but
response lost", connection reset before applying, STS throttling) and outage windows (every
request of a service fails fast). :class:`FaultInjector` turns it into one
:class:`FaultDecision` per request and counts what it injected; the ASGI middleware carries the
decisions out. The same seed and the same request order give the same faults.

Example (JSON or TOML with the same structure)::

    {"seed": 7,
     "rules": [{"operations": ["AppendObject"], "error_rate": 0.05, "error_status": 503,
                "lost_response_rate": 0.02, "latency_ms": 20, "jitter_ms": 10}],
     "outages": [{"after_s": 30, "duration_s": 10, "mode": "reset"}]}
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from simulator.base.errors import EmulatorConfigError

Service = Literal["oss", "sts"]
FaultKind = Literal[
    "none", "error", "reset", "lost_response", "throttle", "outage_error", "outage_reset"
]


class FaultRule(BaseModel):
    """Faults for the operations a rule names.

    Attributes:
        operations: operation names (``PutObject``, ``AppendObject``, ``AssumeRole`` ...) or ``*``.
        error_rate: share of requests answered with ``error_status`` without being applied.
        error_status: 500 (``InternalError``) or 503 (``ServiceUnavailable``).
        reset_rate: share of connections reset before the request is applied.
        lost_response_rate: share of requests applied whose response is then lost (the
            connection drops before the status line reaches the client).
        throttle_rate: share of STS requests answered with ``Throttling.User``.
        latency_ms: delay added before the request is handled.
        jitter_ms: up to this much more delay, uniformly drawn.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    operations: tuple[str, ...] = ("*",)
    error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    error_status: Literal[500, 503] = 503
    reset_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    lost_response_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    throttle_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    latency_ms: float = Field(default=0.0, ge=0.0)
    jitter_ms: float = Field(default=0.0, ge=0.0)

    @model_validator(mode="after")
    def _rates_add_up(self) -> FaultRule:
        total = self.error_rate + self.reset_rate + self.lost_response_rate + self.throttle_rate
        if total > 1.0 + 1e-9:
            raise ValueError("error, reset, lost-response and throttle rates add up to more than 1")
        return self

    def covers(self, operation: str) -> bool:
        return "*" in self.operations or operation in self.operations


class Outage(BaseModel):
    """A window in which every request of the named services fails fast.

    Attributes:
        after_s: start, in seconds after the config is applied (emulator clock).
        duration_s: length; None lasts until the config is replaced.
        mode: ``error`` answers 503 ``ServiceUnavailable``; ``reset`` resets the connection.
        services: which endpoints are down (OSS by default, STS too if listed).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    after_s: float = Field(default=0.0, ge=0.0)
    duration_s: float | None = Field(default=None, gt=0.0)
    mode: Literal["error", "reset"] = "error"
    services: tuple[Service, ...] = ("oss",)


class FaultConfig(BaseModel):
    """Everything the fault injector does; the empty config injects nothing."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int = 0
    rules: tuple[FaultRule, ...] = ()
    outages: tuple[Outage, ...] = ()

    @classmethod
    def parse(cls, data: object, *, source: str = "faults") -> FaultConfig:
        """Validate a decoded JSON/TOML document.

        Raises:
            EmulatorConfigError: the document does not describe valid faults.
        """
        try:
            return cls.model_validate(data)
        except ValueError as exc:
            raise EmulatorConfigError(str(exc), source=source) from None


@dataclass(frozen=True, slots=True)
class FaultDecision:
    """What to do with one request."""

    kind: FaultKind = "none"
    delay_s: float = 0.0
    status: int = 0


PASS = FaultDecision()


class FaultInjector:
    """Decides the fault for each request and counts injected faults per operation.

    Args:
        config: the initial faults.
        clock: the emulator clock (outage windows are measured on it).
    """

    def __init__(self, config: FaultConfig, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.counters: dict[str, dict[str, int]] = {}
        self.configure(config)

    @property
    def config(self) -> FaultConfig:
        """The faults in force."""
        return self._config

    def configure(self, config: FaultConfig) -> None:
        """Replace the faults; the RNG is reseeded and outage windows start counting now."""
        with self._lock:
            self._config = config
            self._rng = random.Random(config.seed)  # noqa: S311 - fault decisions, not secrets
            now = self._clock()
            self._windows = [
                (
                    now + o.after_s,
                    None if o.duration_s is None else now + o.after_s + o.duration_s,
                    o,
                )
                for o in config.outages
            ]
            self.active = bool(config.rules or config.outages)

    def reset_counters(self) -> None:
        """Forget what was injected so far."""
        with self._lock:
            self.counters = {}

    def decide(self, operation: str, service: Service) -> FaultDecision:
        """Draw the fault for one request.

        Args:
            operation: the operation name.
            service: which endpoint the request is for.

        Returns:
            The decision; :data:`PASS` when nothing is injected.
        """
        if not self.active:
            return PASS
        with self._lock:
            decision = self._decide(operation, service)
            if decision.kind != "none":
                per_op = self.counters.setdefault(operation, {})
                per_op[decision.kind] = per_op.get(decision.kind, 0) + 1
            if decision.delay_s:
                per_op = self.counters.setdefault(operation, {})
                per_op["delayed"] = per_op.get("delayed", 0) + 1
            return decision

    def _decide(self, operation: str, service: Service) -> FaultDecision:
        now = self._clock()
        for start, end, outage in self._windows:
            if service in outage.services and start <= now and (end is None or now < end):
                if outage.mode == "reset":
                    return FaultDecision("outage_reset")
                return FaultDecision("outage_error", status=503)
        delay = 0.0
        kind: FaultKind = "none"
        status = 0
        for rule in self._config.rules:
            if not rule.covers(operation):
                continue
            if rule.latency_ms or rule.jitter_ms:
                delay += (rule.latency_ms + self._rng.uniform(0.0, rule.jitter_ms)) / 1000.0
            if kind != "none":
                continue
            draw = self._rng.random()
            bounds: list[tuple[float, FaultKind]] = [
                (rule.reset_rate, "reset"),
                (rule.error_rate, "error"),
                (rule.lost_response_rate, "lost_response"),
                (rule.throttle_rate if service == "sts" else 0.0, "throttle"),
            ]
            edge = 0.0
            for rate, candidate in bounds:
                edge += rate
                if draw < edge:
                    kind = candidate
                    status = rule.error_status if candidate == "error" else 0
                    break
        return FaultDecision(kind, delay, status)

    def snapshot(self) -> dict[str, object]:
        """Config and counters as JSON-ready data (for ``GET /__admin/faults``)."""
        with self._lock:
            return {
                "config": self._config.model_dump(mode="json"),
                "injected": {op: dict(kinds) for op, kinds in self.counters.items()},
            }
