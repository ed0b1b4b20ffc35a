"""Settings of one emulator instance (frozen; built at the entry point and passed down)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from simulator.emulator.config import EmulatorConfig
from simulator.emulator.faults import FaultConfig


class EmulatorSettings(BaseModel):
    """How to run the OSS + STS emulator.

    Attributes:
        host: address to listen on.
        port: port to listen on; 0 picks a free one.
        data_dir: keep state (buckets, objects, keys, sessions) here; None keeps it in memory.
        fsync: flush every acknowledged write to disk (durable mode only).
        config: accounts, keys, roles and buckets; None loads the one persisted in
            ``data_dir`` or generates a default (and persists it in durable mode).
        sts_rate: AssumeRole calls per second per account before throttling (0: unlimited).
        max_append_size: largest size an appendable object may reach (None: OSS's 5 GiB).
        faults: faults injected from the start.
        admin_token: bearer token of ``/__admin``; None generates a random one.
        region: the region clients are told to use.
        seed: seeds generated keys, secrets and tokens (None: system randomness).
        access_log: log one line per OSS/STS request (never with credentials).
        log_level: uvicorn's log level.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=9000, ge=0, le=65535)
    data_dir: Path | None = None
    fsync: bool = False
    config: EmulatorConfig | None = None
    sts_rate: float = Field(default=100.0, ge=0.0)
    max_append_size: int | None = Field(default=None, gt=0)
    faults: FaultConfig = FaultConfig()
    admin_token: str | None = Field(default=None, repr=False)
    region: str = "cn-hangzhou"
    seed: int | None = None
    access_log: bool = True
    log_level: str = "warning"
