"""The integrity audit must catch every kind of damage, and only real damage."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oss2.utils import Crc64

from simulator.fleet.integrity import (
    Chunk,
    ClosedSegment,
    StoredObject,
    audit_objects,
    audit_stream,
    count_policy_drops,
)


def crc64(data: bytes) -> int:
    c = Crc64(0)
    c.update(data)
    return int(c.crc)


def make_chunks(n: int, seed: int = 1) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(rng.randint(1, 400)) for _ in range(n)]


def log(chunks: list[bytes]) -> list[Chunk]:
    return [Chunk.of(i, c) for i, c in enumerate(chunks)]


def test_identical_stream_is_clean() -> None:
    chunks = make_chunks(50)
    audit = audit_stream(log(chunks), b"".join(chunks))
    assert audit.clean
    assert audit.ok_bytes == audit.produced_bytes == audit.stored_bytes


def test_missing_chunk_in_the_middle_is_lost() -> None:
    chunks = make_chunks(20)
    stored = b"".join(chunks[:7] + chunks[8:])
    audit = audit_stream(log(chunks), stored)
    assert not audit.clean
    assert audit.lost_seqs == [7]
    assert audit.lost_bytes == len(chunks[7])
    assert audit.duplicated_bytes == audit.corrupted_bytes == 0


def test_missing_tail_is_lost_unless_still_spooled() -> None:
    chunks = make_chunks(10)
    stored = b"".join(chunks[:8])
    assert audit_stream(log(chunks), stored).lost_seqs == [8, 9]
    pending = audit_stream(log(chunks), stored, in_flight=[8, 9])
    assert pending.clean
    assert pending.pending_bytes == len(chunks[8]) + len(chunks[9])


def test_duplicated_append_is_detected() -> None:
    chunks = make_chunks(10)
    stored = b"".join([*chunks[:5], chunks[4], *chunks[5:]])
    audit = audit_stream(log(chunks), stored)
    assert audit.duplicated_seqs == [4]
    assert audit.duplicated_bytes == len(chunks[4])
    assert audit.lost_bytes == audit.corrupted_bytes == 0


def test_duplicated_tail_is_detected() -> None:
    chunks = make_chunks(6)
    stored = b"".join([*chunks, chunks[-1]])
    audit = audit_stream(log(chunks), stored)
    assert audit.duplicated_seqs == [5]


def test_flipped_byte_is_corruption() -> None:
    chunks = make_chunks(10)
    stored = bytearray(b"".join(chunks))
    stored[len(chunks[0]) + 3] ^= 0x01
    audit = audit_stream(log(chunks), bytes(stored))
    assert not audit.clean
    assert audit.corrupted_bytes > 0
    assert audit.corrupt_at == len(chunks[0])


def test_policy_drops_are_counted_separately() -> None:
    chunks = make_chunks(10)
    stored = b"".join(chunks[3:])
    audit = audit_stream(log(chunks), stored, dropped=[0, 1, 2])
    assert audit.clean
    assert audit.dropped_bytes == sum(len(c) for c in chunks[:3])


def test_drops_the_camera_reports_are_dropped_and_the_rest_stays_lost() -> None:
    chunks = make_chunks(10)
    stored = b"".join(chunks[:2] + chunks[4:])  # chunks 2 and 3 missing
    missing = len(chunks[2]) + len(chunks[3])
    dropped = count_policy_drops(audit_stream(log(chunks), stored), len(chunks[2]) + 5000)
    assert dropped.clean
    assert (dropped.dropped_bytes, dropped.lost_bytes) == (missing, 0)
    partly = count_policy_drops(audit_stream(log(chunks), stored), len(chunks[2]))
    assert not partly.clean
    assert (partly.dropped_bytes, partly.lost_bytes) == (len(chunks[2]), len(chunks[3]))


def test_reported_drops_do_not_excuse_duplicates_or_corruption() -> None:
    chunks = make_chunks(10)
    duplicated = count_policy_drops(
        audit_stream(log(chunks), b"".join(chunks[:5] + chunks[4:])), 10_000
    )
    assert duplicated.duplicated_bytes == len(chunks[4])
    assert not duplicated.clean


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 30), data=st.data())
def test_any_single_fault_is_caught(seed: int, n: int, data: st.DataObject) -> None:
    chunks = make_chunks(n, seed)
    k = data.draw(st.integers(0, n - 1))
    kind = data.draw(st.sampled_from(["drop", "dup", "flip"]))
    parts = list(chunks)
    if kind == "drop":
        del parts[k]
    elif kind == "dup":
        parts.insert(k, chunks[k])
    stored = bytearray(b"".join(parts))
    if kind == "flip":
        offset = sum(len(c) for c in chunks[:k])
        stored[offset] ^= 0x80
    assert not audit_stream(log(chunks), bytes(stored)).clean


def test_object_report_mismatches_are_named() -> None:
    a, b = b"first object", b"second object"
    objects = [
        StoredObject("videos/cam-1/a", a, server_crc64=crc64(a)),
        StoredObject("videos/cam-1/b", b + b"!", server_crc64=crc64(b + b"!")),
    ]
    closed = [
        ClosedSegment("videos/cam-1/a", len(a), crc64(a)),
        ClosedSegment("videos/cam-1/b", len(b), crc64(b)),
        ClosedSegment("videos/cam-1/c", 3, 0),
    ]
    problems = audit_objects(objects, closed, crc64)
    assert [p.key for p in problems] == ["videos/cam-1/b", "videos/cam-1/c"]


def test_server_crc_mismatch_is_reported() -> None:
    obj = StoredObject("k", b"abc", server_crc64=crc64(b"abd"))
    problems = audit_objects([obj], [], crc64)
    assert len(problems) == 1
    assert "server CRC64" in problems[0].reason


@pytest.mark.parametrize("size", [0, 1])
def test_empty_and_tiny_streams(size: int) -> None:
    chunks = make_chunks(size)
    assert audit_stream(log(chunks), b"".join(chunks)).clean
