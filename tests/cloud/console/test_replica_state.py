"""What console replicas share through the ledger's database, on SQLite and PostgreSQL: the
reconcile lease (one holder, take-over after it lapses), operator sessions and failed
logins."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from cloud.console.ledger import Ledger
from cloud.console.ledger.leases import Lease
from cloud.console.settings import OperatorAccount, SessionSettings
from cloud.console.web.auth import Authenticator
from cloud.console.web.replicas import SharedFailures, SharedSessions
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
