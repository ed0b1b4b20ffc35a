"""Chaos scenarios as data: what happens to a fleet run, and when.

A scenario is a TOML file (the built-in ones live in ``simulator/fleet/scenarios/``): a name, a
description, settings for the cameras, and a list of timed steps. Times are seconds from the
start of the run, or fractions of its duration (``at = "50%"``) so one file fits a 60 s CI
run and a 10-minute benchmark alike. Every random choice in a run is drawn from the run's seed.

Steps (``action``):

- ``oss_faults``: per-operation error rates, latency and lost responses on the OSS emulator
  (``error_rate``, ``status`` 500|503, ``latency_ms``, ``jitter_ms``, ``lost_response_rate``,
  ``reset_rate``, ``operations``), until ``duration`` or the end of the run;
- ``oss_outage``: every OSS request fails for ``duration``;
- ``sts_throttle``: a ``share`` (default 0.5) of STS calls is throttled for ``duration``;
- ``broker_restart`` / ``responder_restart``: kill the process, restart it after ``downtime``;
- ``clock_skew``: a ``share`` of the cameras have their clock off by ``offset_s``;
- ``link``: cameras reach the services through the TCP fault proxy with the given profile
  (``bandwidth_bytes_per_s``, ``latency_ms``, ``jitter_ms``, ``reset_probability``,
  ``data_limit_bytes``);
- ``spool_pressure``: a ``share`` of the cameras (default all) record into spools of only
  ``max_bytes`` (at least two chunks) with the ``drop_oldest`` policy, so an outage makes the
  policy act; a spool is sized when its camera starts, so the step holds for the whole run
  whatever its ``at``. The audit counts the bytes so dropped as dropped, not lost;
- ``camera_kill``: SIGKILL a ``share`` (default half, at least one) of the camera processes
  and start them again at once over the same spools; their cameras resume their recordings
  from what the spools committed.

Each action's parameters, their bounds and defaults are declared once in
:mod:`simulator.fleet.steps`; an unknown key or a value out of bounds is refused when the file
loads, and :meth:`Scenario.check_run` refuses steps a given run cannot carry out.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from simulator.fleet.errors import ScenarioError
from simulator.fleet.steps import ACTIONS

__all__ = ["Moment", "Scenario", "ScenarioError", "Step", "builtin_names", "load_scenario"]

from schemas.durations import (
    DEFAULT_SESSION_DURATION_S,
    MAX_SESSION_DURATION_S,
    MIN_SESSION_DURATION_S,
)

Action = Literal[
    "oss_faults",
    "oss_outage",
    "sts_throttle",
    "broker_restart",
    "responder_restart",
    "clock_skew",
    "link",
    "spool_pressure",
    "camera_kill",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Moment(_Strict):
    """A point in a run: absolute seconds, or a fraction of the run's duration."""

    seconds: float | None = None
    fraction: float | None = None

    def resolve(self, run_duration_s: float) -> float:
        if self.fraction is not None:
            return self.fraction * run_duration_s
        return float(self.seconds or 0.0)


def _parse_moment(value: object) -> Moment:
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value < 0:
            raise ValueError("a time must not be negative")
        return Moment(seconds=float(value))
    if isinstance(value, str) and value.endswith("%"):
        pct = float(value[:-1])
        if not 0 <= pct <= 100:
            raise ValueError("a percentage must be within 0%..100%")
        return Moment(fraction=pct / 100)
    raise ValueError("a time is seconds (a number) or a share of the run ('50%')")


class Step(_Strict):
    """One timed event in a scenario."""

    at: Moment
    action: Action
    duration: Moment | None = None
    params: dict[str, float | int | str | bool | list[str]] = Field(default_factory=dict)

    @field_validator("at", "duration", mode="before")
    @classmethod
    def _moment(cls, value: object) -> Moment | None:
        if value is None or isinstance(value, Moment):
            return value
        return _parse_moment(value)

    @model_validator(mode="after")
    def _params_fit_the_action(self) -> Step:
        try:
            ACTIONS[self.action].params.model_validate(self.params)
        except ValidationError as exc:
            raise ValueError(_problems(exc, "params")) from None
        return self

    def typed_params(self) -> Any:
        """The step's parameters as its action's model (defaults filled in)."""
        return ACTIONS[self.action].params.model_validate(self.params)


class Scenario(_Strict):
    """A named, seeded sequence of faults for a fleet run."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,40}$")]
    description: str
    credential_duration_s: int = Field(
        default=DEFAULT_SESSION_DURATION_S, ge=MIN_SESSION_DURATION_S, le=MAX_SESSION_DURATION_S
    )
    boot_spread_s: float = Field(default=5.0, ge=0)
    steps: tuple[Step, ...] = ()

    def actions(self) -> set[str]:
        """Which kinds of fault the scenario injects (the report checks counters against it)."""
        return {step.action for step in self.steps}

    def check_run(
        self,
        duration_s: float,
        *,
        local_broker: bool = True,
        local_emulator: bool = True,
        append_output: bool = True,
    ) -> None:
        """Refuse steps this run cannot carry out as written.

        Args:
            duration_s: the run's recording time: every step must start within it.
            local_broker: the run starts its own broker (it can be restarted, proxied).
            local_emulator: the run starts its own emulator (it can be proxied).
            append_output: the cameras append bytes (rather than write HLS).

        Raises:
            ScenarioError: a step starts after the run ends, or needs a service the run
                does not start; the message names the step.
        """
        for index, step in enumerate(self.steps):
            where = f"scenario {self.name!r}: steps.{index} ({step.action})"
            at = step.at.resolve(duration_s)
            if at >= duration_s:
                raise ScenarioError(
                    f"{where}: starts at {at:g} s, not within the {duration_s:g} s run"
                )
            spec = ACTIONS[step.action]
            if spec.local_broker and not local_broker:
                raise ScenarioError(f"{where}: needs the run's own broker (drop --broker)")
            if spec.local_emulator and not local_emulator:
                raise ScenarioError(f"{where}: needs the run's own emulator (drop --endpoint)")
            if spec.append_output and not append_output:
                raise ScenarioError(f"{where}: needs cameras that resume (--output append)")


def builtin_names() -> list[str]:
    """Names of the scenarios shipped with ossmedia."""
    folder = resources.files("simulator.fleet") / "scenarios"
    return sorted(
        p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml")
    )


def load_scenario(name_or_path: str) -> Scenario:
    """Load a built-in scenario by name, or a scenario file by path.

    Raises:
        ScenarioError: unknown name, unreadable file, bad TOML or invalid content.
    """
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ScenarioError(f"cannot read scenario file {path}: {exc.strerror}") from None
        origin = str(path)
    else:
        if name_or_path not in builtin_names():
            raise ScenarioError(
                f"unknown scenario {name_or_path!r}; built-in: {', '.join(builtin_names())}"
            )
        res = resources.files("simulator.fleet") / "scenarios" / f"{name_or_path}.toml"
        text = res.read_text(encoding="utf-8")
        origin = name_or_path
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{origin}: not valid TOML: {exc}") from None
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(f"{origin}: {_problems(exc)}") from None


def _problems(exc: ValidationError, prefix: str = "") -> str:
    """One line naming every invalid field (``steps.0: params.error_rate: ...``)."""
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in ((prefix,) if prefix else ()) + tuple(err["loc"]))
        msg = str(err["msg"]).removeprefix("Value error, ")
        out.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(out)
