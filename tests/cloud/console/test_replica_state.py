"""What console replicas share through the ledger's database, on SQLite and PostgreSQL: the
reconcile lease (one holder, take-over after it lapses), operator sessions, failed logins,
the sign-in attempt limits, and recordings in progress."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from cloud.console.ledger import Ledger
from cloud.console.ledger.leases import Lease
from cloud.console.live import LiveStore, OpenedFacts
from cloud.console.live.fmp4 import IndexState
from cloud.console.settings import OperatorAccount, SessionSettings
from cloud.console.web.auth import Authenticator
from cloud.console.web.replicas import SharedAttempts, SharedFailures, SharedSessions
from tests.cloud.console.conftest import OPERATOR, PASSWORD, PASSWORD_HASH
from tests.cloud.console.test_ledger import ledger_location  # noqa: F401 - fixture


class Clock:
    def __init__(self) -> None:
        self.now = 1_764_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def two(ledger_location: str) -> Iterator[tuple[Ledger, Ledger]]:  # noqa: F811
    # Two replicas: two independent connections to one database.
    a, b = Ledger(ledger_location), Ledger(ledger_location)
    yield a, b
    a.close()
    b.close()


def test_one_holder_at_a_time_and_take_over_after_the_lease_lapses(
    two: tuple[Ledger, Ledger],
) -> None:
    clock = Clock()
    first = Lease(two[0], "reconcile", holder="a", ttl_s=10, clock=clock)
    second = Lease(two[1], "reconcile", holder="b", ttl_s=10, clock=clock)
    assert first.acquire()
    assert not second.acquire()
    clock.now += 9
    assert first.acquire()  # renewed: holds for another 10 s from here
    clock.now += 9
    assert not second.acquire()
    clock.now += 1.5  # the holder died after its last renewal 10.5 s ago
    assert second.acquire()
    assert not first.acquire()
    second.release()
    assert first.acquire()
    # Another lease name is independent.
    assert Lease(two[1], "other", holder="b", ttl_s=10, clock=clock).acquire()


def test_a_session_made_on_one_replica_is_valid_on_the_other(
    two: tuple[Ledger, Ledger],
) -> None:
    clock = Clock()
    a = SharedSessions(two[0], max_age_s=60, clock=clock)
    b = SharedSessions(two[1], max_age_s=60, clock=clock)
    session = a.create("admin")
    found = b.get(session.session_id)
    assert found is not None
    assert (found.username, found.csrf_token) == ("admin", session.csrf_token)
    assert b.get("not-a-session") is None
    assert b.get(None) is None
    # Only a hash of the id is stored.
    with two[0].read() as conn:
        stored = [row[0] for row in conn.exec_driver_sql("SELECT id_hash FROM sessions")]
    assert session.session_id not in stored
    assert len(stored) == 1
    b.end(session.session_id)  # logout on one replica ends it on all
    assert a.get(session.session_id) is None
    old = a.create("admin")
    clock.now += 60
    assert b.get(old.session_id) is None  # expired everywhere
    a.create("other")  # purges the expired one
    with two[1].read() as conn:
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM sessions").scalar() == 1


def test_failed_logins_at_one_replica_lock_the_name_out_at_the_other(
    two: tuple[Ledger, Ledger],
) -> None:
    clock = Clock()
    settings = SessionSettings(max_login_failures=3, lockout_s=60)
    operators = (OperatorAccount(username=OPERATOR, password_hash=SecretStr(PASSWORD_HASH)),)
    a, b = (
        Authenticator(operators, settings, clock=clock, failures=SharedFailures(ledger, keep_s=60))
        for ledger in two
    )
    assert not a.check(OPERATOR, "wrong", "10.0.0.1")
    assert not b.check(OPERATOR, "wrong", "10.0.0.1")
    assert not a.locked_out(OPERATOR, "10.0.0.1")
    assert not b.check(OPERATOR, "wrong", "10.0.0.1")
    # Three failures, spread over two replicas: locked out on both, for that address only.
    assert a.locked_out(OPERATOR, "10.0.0.1")
    assert not a.check(OPERATOR, PASSWORD, "10.0.0.1")
    assert b.check(OPERATOR, PASSWORD, "10.0.0.2")
    clock.now += 61
    assert a.check(OPERATOR, PASSWORD, "10.0.0.1")
    assert not b.locked_out(OPERATOR, "10.0.0.1")


def test_sign_in_attempt_limits_count_attempts_made_at_either_replica(
    two: tuple[Ledger, Ledger],
) -> None:
    clock = Clock()
    settings = SessionSettings(
        login_attempts_per_address_per_minute=6,
        login_burst=2,
        login_attempts_per_minute=12,
        login_global_burst=4,
    )
    operators = (OperatorAccount(username=OPERATOR, password_hash=SecretStr(PASSWORD_HASH)),)
    a, b = (
        Authenticator(operators, settings, clock=clock, attempts=SharedAttempts(ledger))
        for ledger in two
    )
    # Per address: a burst of two, spent across both replicas.
    assert a.admit("203.0.113.9") is None
    assert b.admit("203.0.113.9") is None
    assert a.admit("203.0.113.9") == 10
    assert b.admit("203.0.113.9") == 10
    # Global: four at once, counted whichever replica saw them (two are spent above).
    assert b.admit("203.0.113.10") is None
    assert a.admit("203.0.113.11") is None
    assert b.admit("203.0.113.12") == 5
    assert a.admit("203.0.113.13") == 5
    # An operator who signed in at one replica is exempt from the global bound at the other.
    assert b.check(OPERATOR, PASSWORD, "198.51.100.7")
    assert a.admit("198.51.100.7") is None
    assert a.admit("203.0.113.14") == 5
    clock.now += 10  # the per-address and global buckets have a free slot again
    assert b.admit("203.0.113.9") is None
    clock.now += 60  # all idle: their rows are purged by the next take
    assert a.admit("203.0.113.15") is None
    with two[1].read() as conn:
        keys = {row[0] for row in conn.exec_driver_sql("SELECT key FROM login_buckets")}
    assert keys == {"addr:203.0.113.15", "*"}


def test_a_recording_in_progress_closed_at_the_other_replica_stays_closed(
    two: tuple[Ledger, Ledger],
) -> None:
    a, b = LiveStore(two[0]), LiveStore(two[1])
    opened = OpenedFacts(
        event_id="o" * 32, device_id="cam-1", seq=4, object_key="videos/cam-1/4.mp4", start_ms=0
    )
    # segment.closed reached replica b before segment.opened reached replica a.
    b.mark_closed("cam-1", 4)
    assert a.record_opened(opened, now_ms=1)
    assert not b.record_opened(opened, now_ms=2)  # a redelivery changes nothing
    assert a.in_progress("cam-1") is None
    newer = OpenedFacts(
        event_id="p" * 32, device_id="cam-1", seq=5, object_key="videos/cam-1/5.mp4", start_ms=9
    )
    assert b.record_opened(newer, now_ms=3)
    live = a.in_progress("cam-1")
    assert live is not None
    assert live.facts.seq == 5
    a.set_progress(live.facts.event_id, size=100, end_ms=7, now_ms=4)
    b.set_progress(live.facts.event_id, size=50, end_ms=8, now_ms=5)  # never shrinks
    seen = b.get(live.facts.event_id)
    assert seen is not None
    assert (seen.size, seen.end_ms) == (100, 8)
    previous = a.previous("cam-1", 5)
    assert previous is not None
    assert previous.closed
    a.save_index("videos/cam-1/5.mp4", IndexState(init_size=10, timescale=90000))
    b.save_index("videos/cam-1/5.mp4", IndexState(init_size=12, timescale=90000))
    index = a.load_index("videos/cam-1/5.mp4")
    assert index is not None
    assert index.init_size == 12
