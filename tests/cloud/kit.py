"""Test parts for the cloud tests: a settable clock, a counting credential minter, a
ready-wired pipeline over in-memory state and a private SQLite registry."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from cloud.errors import StsError
from cloud.registry import MasterKey, Registry, new_master_key, open_store
from cloud.responder.app import build_pipeline
from cloud.responder.metrics import Metrics
from cloud.responder.pipeline import Pipeline
from cloud.responder.sts import StsCredentials
from cloud.settings import GrantSettings, Limits, ResponderSettings, StsSettings
from cloud.state import MemoryState, SharedState
from schemas.ids import DeviceId

T0_MS = 1_764_380_000_000


class FakeClock:
    """Wall clock in ms that only moves when told to; ``sleep`` advances it."""

    def __init__(self, start_ms: int = T0_MS) -> None:
        self.now_ms = start_ms
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            return self.now_ms

    def advance(self, ms: float) -> None:
        with self._lock:
            self.now_ms += int(ms)

    def sleep(self, seconds: float) -> None:
        self.advance(seconds * 1000)


@dataclass
class CountingMinter:
    """Mints unique fake credentials, records every call; can be told to fail or block."""

    clock: Callable[[], int]
    calls: list[tuple[str, str, int]] = field(default_factory=list)
    fail_with: StsError | None = None
    gate: threading.Event | None = None
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def assume_role(self, *, session_name: str, policy: str, duration_s: int) -> StsCredentials:
        if self.gate is not None:
            self.gate.wait(10)
        self.calls.append((session_name, policy, duration_s))
        if self.fail_with is not None:
            raise self.fail_with
        n = next(self._ids)
        return StsCredentials(
            access_key_id=f"STS.fake{n}",
            access_key_secret=f"fake-secret-{n}",
            security_token=f"fake-token-{n}",
            expiration_ms=self.clock() + duration_s * 1000,
        )


@dataclass
class Rig:
    """A pipeline wired to in-memory state, a private registry and a counting minter."""

    clock: FakeClock
    registry: Registry
    minter: CountingMinter
    state: SharedState
    metrics: Metrics
    pipeline: Pipeline
    settings: ResponderSettings


def make_rig(
    *,
    limits: Limits | None = None,
    grant: GrantSettings | None = None,
    max_duration_s: int = 3600,
    state: SharedState | None = None,
    clock: FakeClock | None = None,
    registry: Registry | None = None,
    on_muted: Callable[[DeviceId], None] | None = None,
) -> Rig:
    clock = clock or FakeClock()
    settings = ResponderSettings(
        limits=limits or Limits(device_cache_s=0),
        grant=grant or GrantSettings(),
        sts=StsSettings(max_duration_s=max_duration_s),
    )
    key = MasterKey.from_text(new_master_key())
    registry = registry or Registry(
        open_store("sqlite://:memory:"), key, clock=lambda: clock() / 1000
    )
    minter = CountingMinter(clock)
    state = state or MemoryState()
    metrics = Metrics()
    pipeline = build_pipeline(
        settings,
        state=state,
        registry=registry,
        minter=minter,
        cache_key=key.derive(b"credential-cache"),
        metrics=metrics,
        clock_ms=clock,
        sleep=clock.sleep,
        on_muted=on_muted,
    )
    return Rig(clock, registry, minter, state, metrics, pipeline, settings)
