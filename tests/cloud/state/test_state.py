"""Shared state backends: the same contract in memory and in a real Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cloud.state import ClaimState, MemoryState, SharedState
from cloud.state.gcra import GcraCell, gcra_step
from cloud.state.redis import RedisState
from tests.fixtures.redis import RedisServer

T = 1_764_380_000_000


@pytest.fixture(params=["memory", "redis"])
def state(request: pytest.FixtureRequest) -> Iterator[SharedState]:
    if request.param == "memory":
        yield MemoryState()
        return
    backend = RedisState.from_url(request.getfixturevalue("redis_url"))
    yield backend
    backend.close()


def test_gcra_burst_then_rate(state: SharedState) -> None:
    results = [
        state.rates.reserve("d", now_ms=T, interval_ms=1000, burst=3, max_wait_ms=0)
        for _ in range(4)
    ]
    assert [r.admitted for r in results] == [True, True, True, False]
    assert results[3].retry_after_ms == 1000
    later = state.rates.reserve("d", now_ms=T + 1000, interval_ms=1000, burst=3, max_wait_ms=0)
    assert later.admitted
    assert not state.rates.reserve(
        "d", now_ms=T + 1000, interval_ms=1000, burst=3, max_wait_ms=0
    ).admitted
    # Keys are independent.
    assert state.rates.reserve("e", now_ms=T, interval_ms=1000, burst=1, max_wait_ms=0).admitted


def test_gcra_queue_then_promises_spread_at_the_rate(state: SharedState) -> None:
    def take(now: int) -> tuple[bool, int, int]:
        r = state.rates.reserve(
            "sts", now_ms=now, interval_ms=10, burst=1, max_wait_ms=50, promise=True
        )
        return r.admitted, r.wait_ms, r.retry_after_ms

    admitted = [take(T) for _ in range(6)]
    assert [a[:2] for a in admitted] == [
        (True, 0),
        (True, 10),
        (True, 20),
        (True, 30),
        (True, 40),
        (True, 50),
    ]
    refused = [take(T) for _ in range(5)]
    assert all(not r[0] for r in refused)
    # Each refused caller gets its own future slot, one interval apart.
    assert [r[2] for r in refused] == [60, 70, 80, 90, 100]
    # A caller coming back at its promised time finds its slot free.
    assert take(T + 60) == (True, 0, 0)


def test_gcra_step_is_the_redis_script(state: SharedState) -> None:
    cell: GcraCell | None = None
    now = T
    steps = [(7.5, 2, 20, True, 6.0)] * 12 + [(100.0, 1, 0, False, None)] * 3
    for step, (interval, burst, wait, promise, spacing) in enumerate(steps):
        expected, cell = gcra_step(
            cell,
            now_ms=now,
            interval_ms=interval,
            burst=burst,
            max_wait_ms=wait,
            promise=promise,
            promise_interval_ms=spacing,
        )
        got = state.rates.reserve(
            "mirror",
            now_ms=now,
            interval_ms=interval,
            burst=burst,
            max_wait_ms=wait,
            promise=promise,
            promise_interval_ms=spacing,
        )
        assert got == expected, step
        now += 3


def test_claims_new_pending_done_replay(state: SharedState) -> None:
    r = state.replies
    assert (
        r.claim("cam:n1", "req1:sig", now_ms=T, ttl_ms=600_000, lease_ms=1000).state
        is ClaimState.NEW
    )
    assert (
        r.claim("cam:n1", "req1:sig", now_ms=T, ttl_ms=600_000, lease_ms=1000).state
        is ClaimState.PENDING
    )
    assert (
        r.claim("cam:n1", "req2:sig", now_ms=T, ttl_ms=600_000, lease_ms=1000).state
        is ClaimState.REPLAY
    )
    r.complete("cam:n1", "req2:sig", b"not mine", now_ms=T)  # ignored: another fingerprint
    r.complete("cam:n1", "req1:sig", b"reply", now_ms=T)
    done = r.claim("cam:n1", "req1:sig", now_ms=T + 1, ttl_ms=600_000, lease_ms=1000)
    assert done.state is ClaimState.DONE
    assert done.reply == b"reply"


def test_peek_reports_without_recording(state: SharedState) -> None:
    r = state.replies
    assert r.peek("cam:p1", "req1:sig", now_ms=T) is None  # unknown, and still unknown:
    assert (
        r.claim("cam:p1", "req1:sig", now_ms=T, ttl_ms=600_000, lease_ms=1000).state
        is ClaimState.NEW
    )
    assert r.peek("cam:p1", "req1:sig", now_ms=T) is None  # pending
    replay = r.peek("cam:p1", "req2:sig", now_ms=T)
    assert replay is not None
    assert replay.state is ClaimState.REPLAY
    r.complete("cam:p1", "req1:sig", b"reply", now_ms=T)
    done = r.peek("cam:p1", "req1:sig", now_ms=T)
    assert done is not None
    assert (done.state, done.reply) == (ClaimState.DONE, b"reply")


def test_stale_claim_is_taken_over_after_the_lease(state: SharedState) -> None:
    r = state.replies
    assert r.claim("cam:n2", "f", now_ms=T, ttl_ms=600_000, lease_ms=1000).state is ClaimState.NEW
    assert (
        r.claim("cam:n2", "f", now_ms=T + 999, ttl_ms=600_000, lease_ms=1000).state
        is ClaimState.PENDING
    )
    assert (
        r.claim("cam:n2", "f", now_ms=T + 1000, ttl_ms=600_000, lease_ms=1000).state
        is ClaimState.NEW
    )
    assert (
        r.claim("cam:n2", "f", now_ms=T + 1001, ttl_ms=600_000, lease_ms=1000).state
        is ClaimState.PENDING
    )


def test_memory_records_expire_with_their_ttl() -> None:
    state = MemoryState()
    state.replies.claim("k", "f", now_ms=T, ttl_ms=1000, lease_ms=10)
    assert (
        state.replies.claim("k", "g", now_ms=T + 999, ttl_ms=1000, lease_ms=10).state
        is ClaimState.REPLAY
    )
    assert (
        state.replies.claim("k", "g", now_ms=T + 1000, ttl_ms=1000, lease_ms=10).state
        is ClaimState.NEW
    )
    state.blobs.put("b", b"v", now_ms=T, ttl_ms=5)
    assert state.blobs.get("b", now_ms=T + 4) == b"v"
    assert state.blobs.get("b", now_ms=T + 5) is None


def test_blobs(state: SharedState) -> None:
    state.blobs.put("x", b"\x00\xff", now_ms=T, ttl_ms=60_000)
    assert state.blobs.get("x", now_ms=T) == b"\x00\xff"
    state.blobs.delete("x")
    assert state.blobs.get("x", now_ms=T) is None


def test_memory_state_stays_bounded() -> None:
    state = MemoryState()
    for n in range(20_000):
        state.replies.claim(f"k{n}", "f", now_ms=T + n, ttl_ms=100, lease_ms=10)
    assert len(state.replies._records.items) < 2_000


def test_claim_of_a_dead_owner_is_taken_over_before_its_lease(
    redis_url: str, redis_server: RedisServer
) -> None:
    state = RedisState.from_url(redis_url)
    r = state.replies
    state.heartbeat("proc-a", ttl_ms=60_000)
    assert (
        r.claim("cam:n3", "f", now_ms=T, ttl_ms=600_000, lease_ms=30_000, owner="proc-a").state
        is ClaimState.NEW
    )
    # proc-a is alive: proc-b must wait for it.
    assert (
        r.claim("cam:n3", "f", now_ms=T + 1, ttl_ms=600_000, lease_ms=30_000, owner="proc-b").state
        is ClaimState.PENDING
    )
    redis_server.client().delete("ossmedia:alive:proc-a")  # proc-a died: its heartbeat lapsed
    assert (
        r.claim("cam:n3", "f", now_ms=T + 2, ttl_ms=600_000, lease_ms=30_000, owner="proc-b").state
        is ClaimState.NEW
    )
    # Now proc-b owns it (and is alive as far as proc-b itself is concerned).
    state.heartbeat("proc-b", ttl_ms=60_000)
    assert (
        r.claim("cam:n3", "f", now_ms=T + 3, ttl_ms=600_000, lease_ms=30_000, owner="proc-c").state
        is ClaimState.PENDING
    )
    state.close()
