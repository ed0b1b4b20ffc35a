"""Two running consoles on one PostgreSQL ledger share the sign-in attempt limits: an
address refused at one replica is refused at the other, and the global limit counts the
attempts made at both (without it, N replicas admit N times the configured rate)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from cloud.console import Console, Ledger, RegistryDevices
from cloud.console.ledger.store import MIGRATIONS
from cloud.database import make_engine
from cloud.registry import Registry
from simulator.emulator.handle import EmulatorHandle
from tests.cloud.console.conftest import TestClock, console_settings, login

Replicas = Callable[..., tuple[Console, Console, TestClock]]


@pytest.fixture
def replicas(
    console_emulator: EmulatorHandle, registry: Registry, master_key: str, postgres_url: str
) -> Iterator[Replicas]:
    """Start two consoles (each with its own ledger connection) on one migrated database."""
    engine = make_engine(postgres_url)
    MIGRATIONS.upgrade(engine)
    engine.dispose()
    started: list[Console] = []
    clock = TestClock()

    def start(**session: Any) -> tuple[Console, Console, TestClock]:
        for _ in range(2):
            console = Console(
                console_settings(
                    console_emulator, session=session, registry={"master_key": master_key}
                ),
                devices=RegistryDevices(registry),
                ledger=Ledger(postgres_url),
                clock=clock,
            )
            started.append(console)
            console.start()
        return started[-2], started[-1], clock

    try:
        yield start
    finally:
        for console in started:
            console.stop()
            console.parts.ledger.close()


def _attempt(http: httpx.Client, n: int) -> httpx.Response:
    token = http.get("/api/session").json()["csrf_token"]
    return http.post(
        "/api/session",
        json={"username": f"random-{n}", "password": "guess"},
        headers={"X-CSRF-Token": token},
    )


def test_an_address_refused_at_one_replica_is_refused_at_the_other(
    replicas: Replicas,
) -> None:
    a, b, _ = replicas(login_burst=3, login_attempts_per_address_per_minute=6)
    with httpx.Client(base_url=a.url) as at_a, httpx.Client(base_url=b.url) as at_b:
        codes = [_attempt(http, n).status_code for n, http in enumerate([at_a, at_b, at_a])]
        assert codes == [401, 401, 401]
        refused = _attempt(at_b, 3)  # the burst was spent at both replicas together
        assert refused.status_code == 429
        assert refused.json()["error"] == "too_many_attempts"
        assert int(refused.headers["Retry-After"]) == 10
        assert _attempt(at_a, 4).status_code == 429


def test_the_global_limit_counts_attempts_made_at_both_replicas(replicas: Replicas) -> None:
    # The per-address bucket stays wide: every test client comes from 127.0.0.1.
    a, b, clock = replicas(login_global_burst=4, login_attempts_per_minute=12)
    with httpx.Client(base_url=a.url) as at_a, httpx.Client(base_url=b.url) as at_b:
        codes = [_attempt(http, n).status_code for n, http in enumerate([at_a, at_b] * 3)]
        assert codes == [401, 401, 401, 401, 429, 429]
        assert int(_attempt(at_a, 6).headers["Retry-After"]) == 5
        # An operator who signs in at one replica is exempt from the global bound at both.
        clock.advance(5)  # one global slot
        login(at_a)
        codes = [_attempt(at_b, n).status_code for n in range(3)]
        assert codes == [401, 401, 401]
