"""Each scenario action declared once: its parameters with their bounds, and what it needs.

A step's ``params`` table is validated against its action's model when the scenario loads, so a
misspelt key, a rate outside 0..1, an HTTP status the emulator cannot inject or a negative
latency is refused with the step and the key named, before any service starts. The chaos
driver reads the typed parameters (:func:`step_params`), never the raw table, so the defaults
below are the only ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "ACTIONS",
    "ActionSpec",
    "BrokerRestartParams",
    "CameraKillParams",
    "ClockSkewParams",
    "LinkParams",
    "NoParams",
    "OssFaultsParams",
    "SpoolPressureParams",
    "StsThrottleParams",
]

Rate = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class NoParams(_Params):
    """An action without parameters (``oss_outage``: its window is the step's ``duration``)."""


class OssFaultsParams(_Params):
    """``oss_faults``: per-request faults on the OSS operations named (default: every
    object operation; STS has its own step)."""

    error_rate: Rate = 0.0
    status: Literal[500, 503] = 503
    lost_response_rate: Rate = 0.0
    reset_rate: Rate = 0.0
    latency_ms: NonNegative = 0.0
    jitter_ms: NonNegative = 0.0
    operations: tuple[Annotated[str, Field(pattern=r"^[A-Z][A-Za-z]+$")], ...] = (
        "AppendObject",
        "HeadObject",
        "GetObject",
        "PutObject",
    )

    @model_validator(mode="after")
    def _rates_add_up(self) -> OssFaultsParams:
        if self.error_rate + self.lost_response_rate + self.reset_rate > 1.0 + 1e-9:
            raise ValueError("error_rate + lost_response_rate + reset_rate exceed 1")
        return self


class StsThrottleParams(_Params):
    """``sts_throttle``: this share of AssumeRole calls is answered ``Throttling.User``."""

    share: Rate = 0.5


class BrokerRestartParams(_Params):
    """``broker_restart`` / ``responder_restart``: down for ``downtime_s`` seconds."""

    downtime_s: Annotated[float, Field(gt=0.0)] = 3.0


class ClockSkewParams(_Params):
    """``clock_skew``: a seeded ``share`` of the cameras have clocks ``offset_s`` off."""

    share: Rate = 0.1
    offset_s: float = 3600.0


class LinkParams(_Params):
    """``link``: the shape of every camera link through the fault proxies (0: no limit)."""

    bandwidth_bytes_per_s: Annotated[int, Field(ge=0)] = 0
    latency_ms: NonNegative = 0.0
    jitter_ms: NonNegative = 0.0
    reset_probability: Rate = 0.0
    data_limit_bytes: Annotated[int, Field(ge=0)] = 0


class SpoolPressureParams(_Params):
    """``spool_pressure``: a seeded ``share`` of the cameras get spools of ``max_bytes``."""

    share: Rate = 1.0
    max_bytes: Annotated[int, Field(gt=0)] = 64 * 1024


class CameraKillParams(_Params):
    """``camera_kill``: SIGKILL this share of the camera processes (at least one) and
    restart them over the same spools."""

    share: Annotated[float, Field(gt=0.0, le=1.0)] = 0.5


@dataclass(frozen=True)
class ActionSpec:
    """What one action takes and needs.

    Attributes:
        params: the model of its ``params`` table.
        local_broker: only a broker the run started can carry it out.
        local_emulator: only an emulator the run started can carry it out.
        admin: it changes the emulator's faults through the admin API.
        append_output: only cameras with append output can carry it out (the fleet's HLS
            cameras record the generated pattern, which does not resume after a restart).
    """

    params: type[_Params]
    local_broker: bool = False
    local_emulator: bool = False
    admin: bool = False
    append_output: bool = False


ACTIONS: dict[str, ActionSpec] = {
    "oss_faults": ActionSpec(OssFaultsParams, admin=True),
    "oss_outage": ActionSpec(NoParams, admin=True),
    "sts_throttle": ActionSpec(StsThrottleParams, admin=True),
    "broker_restart": ActionSpec(BrokerRestartParams, local_broker=True),
    "responder_restart": ActionSpec(BrokerRestartParams),
    "clock_skew": ActionSpec(ClockSkewParams),
    # The fault proxies forward to the broker and the emulator on this machine.
    "link": ActionSpec(LinkParams, local_broker=True, local_emulator=True),
    "spool_pressure": ActionSpec(SpoolPressureParams),
    # Killed cameras must resume their recordings from what their spools committed.
    "camera_kill": ActionSpec(CameraKillParams, append_output=True),
}
