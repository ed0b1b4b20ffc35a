"""The on-disk spool: order, bounds, policies, corruption, and crash safety under SIGKILL."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from device.errors import SpoolCorrupt, SpoolFull
from device.spool import Journal, JournalState, ObjectRecord, Spool
from device.spool.chunkfile import HEADER_SIZE
from tests.device.spool_crash_child import payload

REPO = Path(__file__).resolve().parents[2]


def test_chunks_come_back_in_order_across_reopen(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1_000_000)
    seqs = [spool.put(f"chunk {i}".encode(), wall_ms=100 + i) for i in range(5)]
    assert seqs == [1, 2, 3, 4, 5]
    first = spool.peek(0)
    assert first is not None
    assert (first.seq, first.data, first.wall_ms) == (1, b"chunk 0", 100)
    spool.ack(1)

    reopened = Spool(tmp_path, max_bytes=1_000_000)
    got = []
    while (chunk := reopened.peek(0)) is not None:
        got.append(chunk.data)
        reopened.ack(chunk.seq)
    assert got == [f"chunk {i}".encode() for i in range(1, 5)]
    # Sequence numbers are never reused, even after the queue drained.
    assert reopened.put(b"next", wall_ms=1) == 6


def test_ack_must_match_the_head(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1_000_000)
    spool.put(b"a", wall_ms=1)
    spool.put(b"b", wall_ms=2)
    with pytest.raises(SpoolCorrupt):
        spool.ack(2)


def test_drop_oldest_counts_and_spares_the_chunk_in_flight(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=3000, policy="drop_oldest")
    for i in range(3):
        spool.put(bytes([i]) * 1000, wall_ms=i)
    in_flight = spool.peek(0)
    assert in_flight is not None
    assert in_flight.seq == 1
    spool.put(b"\x09" * 1000, wall_ms=9)

    stats = spool.stats()
    assert (stats.counters.dropped_chunks, stats.counters.dropped_bytes) == (1, 1000)
    assert stats.bytes == 3000
    spool.ack(1)  # the chunk being uploaded was kept
    remaining = []
    while (chunk := spool.peek(0)) is not None:
        remaining.append(chunk.data[0])
        spool.ack(chunk.seq)
    assert remaining == [2, 9]  # chunk 2 (data 1) was dropped
    # Counters survive a restart.
    assert Spool(tmp_path, max_bytes=3000).stats().counters.dropped_chunks == 1


def test_reject_new_refuses_and_counts(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=2000, policy="reject_new")
    spool.put(b"a" * 1500, wall_ms=1)
    with pytest.raises(SpoolFull) as info:
        spool.put(b"b" * 1000, wall_ms=2)
    assert info.value.code == "spool_full"
    stats = spool.stats()
    assert (stats.counters.rejected_chunks, stats.counters.rejected_bytes) == (1, 1000)
    assert stats.chunks == 1


def test_leftover_temporary_files_are_discarded(tmp_path: Path) -> None:
    Spool(tmp_path, max_bytes=10_000).put(b"kept", wall_ms=1)
    (tmp_path / "tmp" / ".00000000000000000002.chunk.tmp").write_bytes(b"torn")
    spool = Spool(tmp_path, max_bytes=10_000)
    assert list((tmp_path / "tmp").iterdir()) == []
    assert spool.stats().chunks == 1


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_damaged_chunk_is_quarantined_never_returned(tmp_path: Path, damage: str) -> None:
    spool = Spool(tmp_path, max_bytes=10_000)
    spool.put(b"x" * 100, wall_ms=1)
    spool.put(b"good", wall_ms=2)
    path = tmp_path / "chunks" / f"{1:020d}.chunk"
    raw = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(raw[: HEADER_SIZE + 50])  # as a power cut without ordering might
    else:
        path.write_bytes(raw[:-1] + b"y")

    reopened = Spool(tmp_path, max_bytes=10_000)
    chunk = reopened.peek(0)
    assert chunk is not None
    assert chunk.data == b"good"
    assert reopened.stats().counters.corrupt_chunks == 1
    assert (tmp_path / "corrupt" / path.name).exists()


def test_journal_commits_atomically_and_reloads(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    assert journal.state == JournalState()
    state = JournalState(
        last_chunk_seq=7,
        next_object_seq=3,
        current=ObjectRecord(
            key="videos/c/1.mp4", seq=2, position=10, crc64=5, start_ms=1, end_ms=2
        ),
    )
    journal.commit(state)
    assert Journal(tmp_path).state == state
    assert [p.name for p in tmp_path.iterdir()] == ["journal.json"]


def test_journal_that_cannot_be_parsed_is_reported(tmp_path: Path) -> None:
    (tmp_path / "journal.json").write_text("{not json")
    with pytest.raises(SpoolCorrupt):
        Journal(tmp_path)


def test_uploaded_chunks_left_by_a_crash_are_discarded_on_open(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10_000)
    for i in range(3):
        spool.put(bytes([i]) * 10, wall_ms=i)
    reopened = Spool(tmp_path, max_bytes=10_000, done_through=2)
    chunk = reopened.peek(0)
    assert chunk is not None
    assert chunk.seq == 3
    assert sorted(p.name for p in (tmp_path / "chunks").iterdir()) == [f"{3:020d}.chunk"]


CRASH_POINTS = [
    ("chunk.tmp_written", 1),
    ("chunk.tmp_written", 4),
    ("chunk.renamed", 3),
    ("chunk.acknowledged", 5),
    ("journal.tmp_written", 2),
    ("journal.renamed", 6),
]


@pytest.mark.parametrize(("point", "nth"), CRASH_POINTS, ids=lambda v: str(v))
def test_sigkill_at_any_point_loses_nothing_acknowledged(
    tmp_path: Path, point: str, nth: int
) -> None:
    child = subprocess.run(
        [sys.executable, "-m", "tests.device.spool_crash_child", str(tmp_path), point, str(nth)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert child.returncode == -9, child.stderr
    lines = child.stdout.splitlines()
    assert lines[-1] == f"point {point}"
    acked = [int(line.split()[1]) for line in lines if line.startswith("acked ")]
    journaled = [int(line.split()[1]) for line in lines if line.startswith("journaled ")]

    journal = Journal(tmp_path)
    # The journal holds the last committed state or the one being committed, never a mix.
    last = journal.state.last_chunk_seq
    assert last in {journaled[-1] if journaled else 0, (journaled[-1] if journaled else 0) + 1}
    spool = Spool(tmp_path, max_bytes=10_000_000)
    assert not any((tmp_path / "tmp").iterdir())
    found = []
    while (chunk := spool.peek(0)) is not None:
        assert chunk.data == payload(chunk.seq), "a torn or wrong chunk came back"
        found.append(chunk.seq)
        spool.ack(chunk.seq)
    # Every acknowledged chunk is still there; a chunk whose put had not returned is either
    # whole or absent.
    assert set(acked) <= set(found), (acked, found)
    in_progress = max(acked, default=0) + 1
    assert set(found) <= {*acked, in_progress}
    assert spool.stats().counters.corrupt_chunks == 0


@pytest.mark.parametrize("kind", [bytes, bytearray])
def test_a_chunk_is_copied_at_most_once_on_its_way_through_the_spool(
    tmp_path: Path, kind: type[bytes | bytearray]
) -> None:
    # A camera moves about 1 MiB through here every couple of seconds; each extra copy of
    # it is an extra MiB of peak resident memory. The recorder hands over its bytearray.
    data = kind(bytes(range(256)) * 4096)
    spool = Spool(tmp_path, max_bytes=10 * len(data))
    tracemalloc.start()
    try:
        spool.put(data, wall_ms=1)
        _, put_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        held, _ = tracemalloc.get_traced_memory()
        chunk = spool.peek(0)
        _, peek_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert chunk is not None
    assert chunk.data == data
    assert put_peak < 0.25 * len(data)  # written as header, data, mark: never joined
    assert peek_peak - held < 1.25 * len(data)  # the data alone, not the whole file too
