"""The recording ledger on a real SQLite file and on a real PostgreSQL server: idempotent
writes, tombstones, pagination."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloud.console.ledger import Ledger, SegmentFacts, StatusFacts, Verification
from cloud.console.ledger.store import MIGRATIONS
from cloud.database import make_engine


def facts(event_id: str, seq: int, start_ms: int, device_id: str = "cam-1") -> SegmentFacts:
    return SegmentFacts(
        event_id=event_id.ljust(32, "0"),
        device_id=device_id,
        seq=seq,
        object_key=f"videos/{device_id}/{seq}.mp4",
        size=100 + seq,
        crc64=2**64 - 1 - seq,  # above SQLite's signed range: must survive as text
        start_ms=start_ms,
        end_ms=start_ms + 1000,
    )


def status(issued_at_ms: int, *, online: bool = True, spool: int = 0) -> StatusFacts:
    return StatusFacts(
        device_id="cam-1",
        issued_at_ms=issued_at_ms,
        online=online,
        last_upload_ms=None,
        spool_bytes=spool,
        oldest_unsent_age_ms=None,
        credential_expires_ms=None,
        clock_offset_ms=0,
        uploaded_bytes=0,
        dropped_bytes=0,
    )


@pytest.fixture(params=["sqlite", "postgres"])
def ledger_location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "ledger.db")
    url: str = request.getfixturevalue("postgres_url")
    # As an operator would: 'ossmedia console migrate' before any replica opens it.
    engine = make_engine(url)
    MIGRATIONS.upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture
def ledger(ledger_location: str) -> Iterator[Ledger]:
    opened = Ledger(ledger_location)
    yield opened
    opened.close()


def test_duplicates_change_nothing(ledger: Ledger) -> None:
    first = facts("a", 1, 1000)
    assert ledger.record_segment(first, now_ms=5) is True
    assert ledger.record_segment(first, now_ms=6) is False
    # Same camera and sequence number under another event id: a redelivery, not new.
    assert ledger.record_segment(facts("b", 1, 9999), now_ms=7) is False
    stored = ledger.recording(first.event_id)
    assert stored is not None
    assert stored.facts == first
    assert stored.received_at_ms == 5
    assert ledger.recording(facts("b", 1, 0).event_id) is None
    assert ledger.camera("cam-1") is not None


def test_large_crc_round_trips(ledger: Ledger) -> None:
    ledger.record_segment(facts("a", 1, 0), now_ms=0)
    stored = ledger.recording("a".ljust(32, "0"))
    assert stored is not None
    assert stored.facts.crc64 == 2**64 - 2


def test_deleted_recordings_stay_deleted(ledger: Ledger) -> None:
    rec = facts("a", 1, 1000)
    ledger.record_segment(rec, now_ms=0)
    assert ledger.mark_deleted(rec.event_id, now_ms=1) is True
    assert ledger.mark_deleted(rec.event_id, now_ms=2) is False
    assert ledger.record_segment(rec, now_ms=3) is False
    assert not ledger.set_verification(
        rec.event_id, Verification.VERIFIED, reason="", observed_size=1, now_ms=4
    )
    stored = ledger.recording(rec.event_id)
    assert stored is not None
    assert stored.verification is Verification.DELETED
    page = ledger.list_recordings("cam-1", from_ms=0, to_ms=10**13, after=None, limit=10)
    assert page.items == ()
    camera = ledger.camera("cam-1")
    assert camera is not None
    assert camera.recordings == 0


def test_only_newer_status_wins(ledger: Ledger) -> None:
    assert ledger.record_status(status(100, spool=1), now_ms=1)
    assert not ledger.record_status(status(100, spool=2), now_ms=2)
    assert not ledger.record_status(status(50, spool=3), now_ms=3)
    assert ledger.record_status(status(200, spool=4), now_ms=4)
    camera = ledger.camera("cam-1")
    assert camera is not None
    assert camera.status is not None
    assert camera.status.spool_bytes == 4
    assert camera.online


def test_last_will_marks_offline_and_keeps_the_rest(ledger: Ledger) -> None:
    ledger.record_status(status(100, spool=7), now_ms=1)
    assert ledger.mark_offline("cam-1", now_ms=2) is True
    assert ledger.mark_offline("cam-1", now_ms=3) is False
    camera = ledger.camera("cam-1")
    assert camera is not None
    assert not camera.online
    assert camera.status is not None
    assert camera.status.spool_bytes == 7
    # The camera comes back with a newer signed status.
    ledger.record_status(status(300), now_ms=4)
    back = ledger.camera("cam-1")
    assert back is not None
    assert back.online


def test_recording_pages_cover_ties_exactly_once(ledger: Ledger) -> None:
    # Many recordings share a start time: keyset pagination must not skip or repeat any.
    made = [facts(f"{i:02x}", i, 1000 * (i // 4)) for i in range(23)]
    for rec in made:
        ledger.record_segment(rec, now_ms=0)
    seen: list[str] = []
    after = None
    while True:
        page = ledger.list_recordings("cam-1", from_ms=0, to_ms=10**9, after=after, limit=5)
        seen += [r.recording_id for r in page.items]
        if page.next_after is None:
            break
        start, eid = page.next_after
        assert isinstance(start, int)
        assert isinstance(eid, str)
        after = (start, eid)
    assert sorted(seen) == sorted(r.event_id for r in made)
    assert len(seen) == len(set(seen))


def test_window_selects_overlapping_recordings(ledger: Ledger) -> None:
    for i, start in enumerate((0, 5000, 10_000)):
        ledger.record_segment(facts(f"{i}", i, start), now_ms=0)
    page = ledger.list_recordings("cam-1", from_ms=500, to_ms=5001, after=None, limit=10)
    assert [r.facts.start_ms for r in page.items] == [0, 5000]


def test_camera_pages_and_registry_sync(ledger: Ledger) -> None:
    ledger.sync_registry([(f"cam-{i}", "active") for i in range(5)])
    ledger.sync_registry([("cam-3", "revoked")])
    first = ledger.list_cameras(after=None, limit=3)
    assert [c.device_id for c in first.items] == ["cam-0", "cam-1", "cam-2"]
    assert first.next_after == ("cam-2",)
    second = ledger.list_cameras(after="cam-2", limit=3)
    assert [c.device_id for c in second.items] == ["cam-3", "cam-4"]
    assert second.next_after is None
    assert second.items[0].registry_state == "revoked"


def test_a_revoked_camera_is_not_online_whatever_its_last_status_said(ledger: Ledger) -> None:
    ledger.sync_registry([("cam-1", "active")])
    assert ledger.record_status(status(1000, online=True), now_ms=1000)
    camera = ledger.camera("cam-1")
    assert camera is not None
    assert camera.online
    assert ledger.counts()[2] == 1
    # Its later messages are refused by the ingest, so this status is the last one kept.
    ledger.sync_registry([("cam-1", "revoked")])
    camera = ledger.camera("cam-1")
    assert camera is not None
    assert not camera.online
    assert ledger.counts()[1:] == (1, 0)


def test_due_for_check_puts_unchecked_first_and_rechecks_later(ledger: Ledger) -> None:
    old, new = facts("a", 1, 0), facts("b", 2, 0)
    ledger.record_segment(old, now_ms=1)
    ledger.record_segment(new, now_ms=2)
    ledger.set_verification(
        old.event_id, Verification.VERIFIED, reason="", observed_size=101, now_ms=10
    )
    due = ledger.due_for_check(now_ms=20, recheck_after_ms=100, limit=10)
    assert [r.recording_id for r in due] == [new.event_id]
    due = ledger.due_for_check(now_ms=110, recheck_after_ms=100, limit=10)
    assert [r.recording_id for r in due] == [new.event_id, old.event_id]


def test_retention_settings(ledger: Ledger) -> None:
    assert ledger.retention() == (None, {})
    ledger.set_retention("*", 30)
    ledger.set_retention("cam-1", 7)
    ledger.set_retention("cam-1", 5)
    assert ledger.retention() == (30, {"cam-1": 5})
    assert ledger.clear_retention("cam-1") is True
    assert ledger.clear_retention("cam-1") is False
    assert ledger.retention() == (30, {})


def test_survives_reopening(ledger_location: str) -> None:
    path = ledger_location
    first = Ledger(path)
    first.record_segment(facts("a", 1, 0), now_ms=0)
    first.close()
    again = Ledger(path)
    assert again.record_segment(facts("a", 1, 0), now_ms=1) is False
    assert again.recording("a".ljust(32, "0")) is not None
    again.close()


# Each example opens a fresh ledger, schema migrations included: no per-example deadline,
# which a loaded machine would turn into a spurious failure.
@settings(deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["add", "verified", "flagged", "pending", "delete"]),
            st.integers(0, 7),
        ),
        max_size=40,
    )
)
def test_camera_counters_match_the_recordings(ops: list[tuple[str, int]]) -> None:
    ledger = Ledger(":memory:")
    for op, n in ops:
        rec = facts(f"{n:x}", n, n * 1000)
        if op == "add":
            ledger.record_segment(rec, now_ms=0)
        elif op == "delete":
            ledger.mark_deleted(rec.event_id, now_ms=0)
        else:
            ledger.set_verification(
                rec.event_id, Verification(op), reason="", observed_size=None, now_ms=0
            )
    camera = ledger.camera("cam-1")
    live = ledger.list_recordings("cam-1", from_ms=-1, to_ms=10**9, after=None, limit=100).items
    if camera is None:
        assert live == ()
        return
    assert camera.recordings == len(live)
    assert camera.flagged == sum(r.verification is Verification.FLAGGED for r in live)
    assert camera.last_recording_end_ms == max((r.facts.end_ms for r in live), default=None)
    ledger.close()


def test_a_reused_seq_for_another_object_is_kept_and_counted(
    ledger: Ledger, caplog: pytest.LogCaptureFixture
) -> None:
    # A camera whose spool was wiped counts from 0 again: its new recording must not vanish.
    old = facts("a", 0, 1000)
    new = replace(facts("b", 0, 90_000), object_key="videos/cam-1/new.mp4")
    assert ledger.record_segment(old, now_ms=1) is True
    with caplog.at_level("WARNING", logger="ossmedia.console.ledger"):
        assert ledger.record_segment(new, now_ms=2) is True
    assert ledger.recording(new.event_id) is not None
    assert ledger.recording(old.event_id) is not None
    camera = ledger.camera("cam-1")
    assert camera is not None
    assert (camera.recordings, camera.seq_collisions) == (2, 1)
    assert "reused seq 0" in caplog.text
    assert ledger.record_segment(new, now_ms=3) is False  # its redelivery is still a duplicate
    assert ledger.camera("cam-1").seq_collisions == 1  # type: ignore[union-attr]


def test_a_ledger_with_unique_seq_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.executescript(
            "CREATE TABLE recordings (event_id TEXT PRIMARY KEY, device_id TEXT NOT NULL,"
            " seq INTEGER NOT NULL, object_key TEXT NOT NULL, size INTEGER NOT NULL,"
            " crc64 TEXT NOT NULL, start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL,"
            " received_ms INTEGER NOT NULL, verification TEXT NOT NULL DEFAULT 'pending',"
            " reason TEXT NOT NULL DEFAULT '', checked_ms INTEGER, observed_size INTEGER,"
            " UNIQUE (device_id, seq));"
            "CREATE TABLE cameras (device_id TEXT PRIMARY KEY, registry_state TEXT,"
            " status_issued_ms INTEGER, status_received_ms INTEGER, online INTEGER,"
            " last_upload_ms INTEGER, spool_bytes INTEGER, oldest_unsent_age_ms INTEGER,"
            " credential_expires_ms INTEGER, clock_offset_ms INTEGER, uploaded_bytes INTEGER,"
            " dropped_bytes INTEGER, n_recordings INTEGER NOT NULL DEFAULT 0,"
            " n_flagged INTEGER NOT NULL DEFAULT 0, last_end_ms INTEGER);"
            "INSERT INTO recordings (event_id, device_id, seq, object_key, size, crc64,"
            " start_ms, end_ms, received_ms) VALUES"
            " ('a0000000000000000000000000000000', 'cam-1', 0, 'videos/cam-1/0.mp4', 1, '7',"
            " 1000, 2000, 1);"
            "INSERT INTO cameras (device_id, n_recordings) VALUES ('cam-1', 1);"
        )
    db.close()
    ledger = Ledger(str(path))
    try:
        assert ledger.recording("a".ljust(32, "0")) is not None
        new = replace(facts("b", 0, 5000), object_key="videos/cam-1/x.mp4")
        assert ledger.record_segment(new, now_ms=2) is True
        assert ledger.camera("cam-1").seq_collisions == 1  # type: ignore[union-attr]
    finally:
        ledger.close()
