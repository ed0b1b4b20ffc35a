"""Responder building blocks: policy, STS call cap, single flight, cache, replay guard, STS client."""

from __future__ import annotations

import gc
import json
import threading
import time
from collections.abc import Callable

import pytest

from cloud.errors import StsRejected, StsThrottled, StsUnavailable
from cloud.responder.cache import CredentialCache
from cloud.responder.cli import GC_THRESHOLDS, main
from cloud.responder.limiter import StsCallLimiter
from cloud.responder.policy import session_policy
from cloud.responder.replay import ReplayGuard, RequestIdentity
from cloud.responder.singleflight import SingleFlight
from cloud.responder.sts import MIN_ATTEMPT_S, StsClient
from cloud.settings import StsSettings
from cloud.state import ClaimState, MemoryState
from simulator.emulator.handle import EmulatorHandle
from tests.cloud.kit import CountingMinter, FakeClock


@pytest.mark.parametrize(
    ("access", "actions"),
    [
        ("append", ["oss:PutObject", "oss:GetObject"]),
        ("write", ["oss:PutObject", "oss:GetObject"]),
        ("read", ["oss:GetObject"]),
    ],
)
def test_session_policy(access: str, actions: list[str]) -> None:
    doc = json.loads(session_policy(bucket="b-1", prefix="videos/cam-1/", access=access))
    assert doc == {
        "Version": "1",
        "Statement": [
            {"Effect": "Allow", "Action": actions, "Resource": ["acs:oss:*:*:b-1/videos/cam-1/*"]}
        ],
    }


@pytest.mark.parametrize("prefix", ["videos/cam-1", "videos/*/", "videos/../", "v/$x/", "a?/"])
def test_session_policy_refuses_widening_prefixes(prefix: str) -> None:
    with pytest.raises(ValueError, match="prefix"):
        session_policy(bucket="b", prefix=prefix, access="append")


def test_sts_call_limiter_waits_then_refuses_with_retry_after() -> None:
    clock = FakeClock()
    slept: list[float] = []
    limiter = StsCallLimiter(
        MemoryState().rates,
        calls_per_second=100,
        max_queue_ms=30,
        clock_ms=clock,
        sleep=slept.append,
    )
    assert [limiter.acquire() for _ in range(4)] == [0, 10, 20, 30]
    assert slept == [0.01, 0.02, 0.03]
    retries = []
    for _ in range(3):
        with pytest.raises(StsThrottled) as info:
            limiter.acquire()
        retries.append(info.value.retry_after_ms)
    # Returns are promised faster than the cap (cameras add jitter and come back late).
    assert retries == [40, 47, 54]


def test_sts_call_limiter_holds_the_cap_over_time() -> None:
    clock = FakeClock()
    limiter = StsCallLimiter(
        MemoryState().rates, calls_per_second=50, max_queue_ms=0, clock_ms=clock, sleep=clock.sleep
    )
    admitted = 0
    for _ in range(10_000):  # a caller every millisecond for ten seconds
        try:
            limiter.acquire()
            admitted += 1
        except StsThrottled:
            pass
        clock.advance(1)
    assert admitted == 500


def test_single_flight_shares_one_call() -> None:
    flight: SingleFlight[int] = SingleFlight()
    gate = threading.Event()
    calls = []

    def work() -> int:
        calls.append(1)
        gate.wait(5)
        return 42

    results: list[tuple[int, bool]] = []
    threads = [
        threading.Thread(target=lambda: results.append(flight.do("k", work))) for _ in range(5)
    ]
    for t in threads:
        t.start()
    while flight.in_flight() == 0:
        pass
    gate.set()
    for t in threads:
        t.join()
    assert len(calls) <= 5
    assert sorted(r[1] for r in results).count(False) == len(calls)
    assert all(r[0] == 42 for r in results)


def test_single_flight_propagates_errors_to_followers() -> None:
    flight: SingleFlight[int] = SingleFlight()
    gate = threading.Event()
    errors: list[BaseException] = []

    def boom() -> int:
        gate.wait(5)
        raise StsUnavailable("down")

    def call() -> None:
        try:
            flight.do("k", boom)
        except StsUnavailable as exc:
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(3)]
    for t in threads:
        t.start()
    while flight.in_flight() == 0:
        pass
    gate.set()
    for t in threads:
        t.join()
    assert len(errors) == 3
    assert flight.in_flight() == 0


def test_cache_coalesces_concurrent_misses() -> None:
    clock = FakeClock()
    minter = CountingMinter(clock, gate=threading.Event())
    cache = CredentialCache(
        minter, MemoryState().blobs, cache_key=b"k" * 32, reuse_threshold=0.5, clock_ms=clock
    )
    out: list[str] = []
    threads = [
        threading.Thread(
            target=lambda: out.append(
                cache.get(device_id="cam-1", access="append", policy="p", duration_s=900).source
            )
        )
        for _ in range(6)
    ]
    for t in threads:
        t.start()
    while cache._flight.in_flight() == 0:
        pass
    assert minter.gate is not None
    minter.gate.set()
    for t in threads:
        t.join()
    assert len(minter.calls) == 1
    assert out.count("miss") == 1
    assert set(out) <= {"coalesced", "hit", "miss"}


def test_cache_entries_are_encrypted_and_bound_to_their_key() -> None:
    clock = FakeClock()
    state = MemoryState()
    minter = CountingMinter(clock)
    cache = CredentialCache(
        minter, state.blobs, cache_key=b"k" * 32, reuse_threshold=0.5, clock_ms=clock
    )
    cache.get(device_id="cam-1", access="append", policy="p", duration_s=900)
    key = CredentialCache.key("cam-1", "append", "p")
    blob = state.blobs.get(key, now_ms=clock())
    assert blob is not None
    assert b"fake-secret" not in blob
    # The same blob under another device's key does not open: that device gets a fresh mint.
    state.blobs.put(
        CredentialCache.key("cam-2", "append", "p"), blob, now_ms=clock(), ttl_ms=10_000
    )
    assert (
        cache.get(device_id="cam-2", access="append", policy="p", duration_s=900).source == "miss"
    )
    # Another cache key (another master key) cannot read it either.
    other = CredentialCache(
        minter, state.blobs, cache_key=b"x" * 32, reuse_threshold=0.5, clock_ms=clock
    )
    assert (
        other.get(device_id="cam-1", access="append", policy="p", duration_s=900).source == "miss"
    )


def test_replay_guard_waits_for_a_pending_duplicate() -> None:
    clock = FakeClock()
    state = MemoryState()
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 3:
            guard.complete(ident, b"the reply")
        clock.sleep(seconds)

    guard = ReplayGuard(
        state.replies, skew_window_ms=300_000, lease_ms=30_000, clock_ms=clock, sleep=sleep
    )
    ident = RequestIdentity("cam-1", "r" * 32, "n" * 22, "s" * 43, clock())
    assert guard.claim(ident).state is ClaimState.NEW
    second = guard.claim(ident)
    assert second.state is ClaimState.DONE
    assert second.reply == b"the reply"
    assert waits == [0.005, 0.01, 0.02]


def test_replay_guard_takes_over_a_dead_claim() -> None:
    clock = FakeClock()
    guard = ReplayGuard(
        MemoryState().replies,
        skew_window_ms=300_000,
        lease_ms=1_000,
        clock_ms=clock,
        sleep=clock.sleep,
    )
    ident = RequestIdentity("cam-1", "r" * 32, "n" * 22, "s" * 43, clock())
    assert guard.claim(ident).state is ClaimState.NEW
    # Its owner never completes: after the lease a duplicate is processed afresh.
    assert guard.claim(ident).state is ClaimState.NEW
    assert clock() >= ident.issued_at_ms + 1_000


def _client(
    emulator: EmulatorHandle,
    *,
    sleep: Callable[[float], None] = lambda s: None,
    monotonic: Callable[[], float] = time.monotonic,
    **overrides: object,
) -> StsClient:
    settings = StsSettings.model_validate(
        {
            "endpoint": emulator.sts_endpoint,
            "region": emulator.region,
            "access_key_id": emulator.access_key_id,
            "access_key_secret": emulator.access_key_secret,
            "role_arn": emulator.role_arn,
            "attempts": 3,
            "retry_max_wait_s": 0.01,
            **overrides,
        }
    )
    limiter = StsCallLimiter(
        MemoryState().rates, calls_per_second=1000, max_queue_ms=1000, clock_ms=FakeClock()
    )
    return StsClient(settings, limiter=limiter, sleep=sleep, monotonic=monotonic)


POLICY = session_policy(bucket="ossmedia", prefix="videos/cam-1/", access="append")


def test_sts_client_mints_through_the_real_sdk(emulator: EmulatorHandle) -> None:
    creds = _client(emulator).assume_role(session_name="cam-1", policy=POLICY, duration_s=900)
    assert creds.access_key_id.startswith("STS.")
    assert creds.access_key_secret not in repr(creds)
    assert creds.security_token not in repr(creds)


def test_sts_client_retries_server_errors(emulator: EmulatorHandle) -> None:
    emulator.reset_stats()
    emulator.set_faults({"seed": 3, "rules": [{"operations": ["AssumeRole"], "error_rate": 0.5}]})
    client = _client(emulator, attempts=10)
    for n in range(5):
        client.assume_role(session_name=f"cam-{n}", policy=POLICY, duration_s=900)
    outcomes = emulator.stats()["requests"]["AssumeRole"]
    assert outcomes["200"] == 5
    assert sum(n for k, n in outcomes.items() if k != "200") >= 1  # each failure was retried


@pytest.mark.parametrize(
    ("faults", "error"),
    [
        ({"rules": [{"operations": ["AssumeRole"], "throttle_rate": 1.0}]}, StsThrottled),
        ({"rules": [{"operations": ["AssumeRole"], "error_rate": 1.0}]}, StsUnavailable),
        ({"rules": [{"operations": ["AssumeRole"], "reset_rate": 1.0}]}, StsUnavailable),
    ],
)
def test_sts_client_gives_up_with_a_typed_error(
    emulator: EmulatorHandle, faults: dict[str, object], error: type[Exception]
) -> None:
    emulator.set_faults(faults)
    with pytest.raises(error):
        _client(emulator).assume_role(session_name="cam-1", policy=POLICY, duration_s=900)


def test_sts_client_does_not_retry_a_rejection(emulator: EmulatorHandle) -> None:
    emulator.reset_stats()
    client = _client(emulator, role_arn=f"acs:ram::{emulator.account_id}:role/none")
    with pytest.raises(StsRejected) as info:
        client.assume_role(session_name="cam-1", policy=POLICY, duration_s=900)
    assert info.value.http_status == 404
    assert emulator.stats()["requests"]["AssumeRole"] == {"404": 1}


def test_the_responder_process_raises_the_gc_thresholds(capsys: pytest.CaptureFixture[str]) -> None:
    before = gc.get_threshold()
    try:
        assert main(["--example-config"]) == 0
        assert gc.get_threshold() == GC_THRESHOLDS
        assert GC_THRESHOLDS[0] > before[0]
    finally:
        gc.set_threshold(*before)
    assert "[broker]" in capsys.readouterr().out


def test_sts_retries_stop_at_the_deadline(emulator: EmulatorHandle) -> None:
    # STS answers 5xx every time: without a deadline all ten attempts would run, with
    # waits of up to 2 s between them. The injected clock moves only with the sleeps.
    emulator.set_faults({"rules": [{"operations": ["AssumeRole"], "error_rate": 1.0}]})
    now = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    client = _client(
        emulator,
        sleep=sleep,
        monotonic=lambda: now[0],
        attempts=10,
        retry_max_wait_s=2.0,
        deadline_s=1.0,
    )
    with pytest.raises(StsUnavailable):
        client.assume_role(session_name="cam-1", policy=POLICY, duration_s=900)
    assert sum(sleeps) + MIN_ATTEMPT_S <= 1.0
    assert len(sleeps) < 9
