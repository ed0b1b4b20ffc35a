"""Prove that a camera lost nothing: compare what it produced with what the bucket holds.

The producer logs every chunk it hands to the camera's spool (sequence number, size, SHA-256).
The stored side is the camera's objects read back in key order (keys sort by time), joined
into one stream. :func:`audit_stream` walks both in step and accounts for every byte:

- a stored run equal to the next expected chunk is **ok**;
- a run equal to a chunk already matched is **duplicated** (an append applied twice);
- an expected chunk that is missing, with the stream continuing at a later chunk, is **lost**;
- chunks the spool dropped on purpose (its overflow policy) are **dropped**, never lost;
- anything else is **corrupted**: the rest of the stream cannot be trusted, so it is all counted.

Per-object checks (length and CRC64 against the camera's ``segment.closed`` event) are made by
:func:`audit_objects`, so a wrong object is named, not just a wrong total.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Chunk:
    """One piece of produced media, as the producer logged it."""

    seq: int
    size: int
    sha256: str

    @classmethod
    def of(cls, seq: int, data: bytes) -> Chunk:
        return cls(seq, len(data), hashlib.sha256(data).hexdigest())


@dataclass(frozen=True)
class StoredObject:
    """An object read back from the bucket, with the stored-side facts to check."""

    key: str
    data: bytes
    server_crc64: int | None = None


@dataclass(frozen=True)
class ClosedSegment:
    """What the camera reported in ``segment.closed`` for one object."""

    key: str
    size: int
    crc64: int


@dataclass
class StreamAudit:
    """Byte accounting for one camera; ``clean`` is what a fleet run must end with."""

    produced_bytes: int = 0
    stored_bytes: int = 0
    ok_bytes: int = 0
    lost_bytes: int = 0
    duplicated_bytes: int = 0
    corrupted_bytes: int = 0
    dropped_bytes: int = 0
    pending_bytes: int = 0
    lost_seqs: list[int] = field(default_factory=list)
    duplicated_seqs: list[int] = field(default_factory=list)
    corrupt_at: int | None = None

    @property
    def clean(self) -> bool:
        return not (self.lost_bytes or self.duplicated_bytes or self.corrupted_bytes)


def _digest(data: bytes | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


def audit_stream(
    expected: Sequence[Chunk],
    stored: bytes,
    *,
    dropped: Iterable[int] = (),
    in_flight: Iterable[int] = (),
) -> StreamAudit:
    """Account for every produced and every stored byte of one camera.

    Args:
        expected: every chunk the producer handed over, in order.
        stored: the camera's objects joined in key order.
        dropped: sequence numbers the spool dropped by policy (counted, never "lost").
        in_flight: sequence numbers still in the spool when the run ended (the camera was
            stopped before uploading them); they count as pending, not lost, but only when
            they form the tail of the stream.

    Returns:
        The audit; ``clean`` is false when any byte was lost, duplicated or corrupted.
    """
    dropped_set = set(dropped)
    pending_set = set(in_flight)
    audit = StreamAudit(produced_bytes=sum(c.size for c in expected), stored_bytes=len(stored))
    view = memoryview(stored)
    seen: dict[tuple[int, str], int] = {}
    pos = 0
    i = 0
    while i < len(expected):
        chunk = expected[i]
        if chunk.seq in dropped_set:
            audit.dropped_bytes += chunk.size
            i += 1
            continue
        window = view[pos : pos + chunk.size]
        if len(window) == chunk.size and _digest(window) == chunk.sha256:
            audit.ok_bytes += chunk.size
            seen[(chunk.size, chunk.sha256)] = chunk.seq
            pos += chunk.size
            i += 1
            continue
        if pos >= len(stored):
            # The stored stream ended: the rest is pending (still spooled) or lost.
            for rest in expected[i:]:
                if rest.seq in dropped_set:
                    audit.dropped_bytes += rest.size
                elif rest.seq in pending_set:
                    audit.pending_bytes += rest.size
                else:
                    audit.lost_bytes += rest.size
                    audit.lost_seqs.append(rest.seq)
            return audit
        dup = _match_seen(view, pos, seen)
        if dup is not None:
            size, seq = dup
            audit.duplicated_bytes += size
            audit.duplicated_seqs.append(seq)
            pos += size
            continue
        later = _match_later(view, pos, expected, i + 1)
        if later is not None:
            for skipped in expected[i:later]:
                if skipped.seq in dropped_set:
                    audit.dropped_bytes += skipped.size
                else:
                    audit.lost_bytes += skipped.size
                    audit.lost_seqs.append(skipped.seq)
            i = later
            continue
        audit.corrupt_at = pos
        audit.corrupted_bytes += len(stored) - pos
        return audit
    if pos < len(stored):
        # Bytes after everything produced: a duplicate of the tail or garbage.
        while pos < len(stored):
            dup = _match_seen(view, pos, seen)
            if dup is None:
                audit.corrupt_at = pos
                audit.corrupted_bytes += len(stored) - pos
                break
            audit.duplicated_bytes += dup[0]
            audit.duplicated_seqs.append(dup[1])
            pos += dup[0]
    return audit


def _match_seen(
    view: memoryview, pos: int, seen: Mapping[tuple[int, str], int]
) -> tuple[int, int] | None:
    for size in sorted({size for size, _ in seen}, reverse=True):
        window = view[pos : pos + size]
        if len(window) == size:
            seq = seen.get((size, _digest(window)))
            if seq is not None:
                return size, seq
    return None


def _match_later(view: memoryview, pos: int, expected: Sequence[Chunk], start: int) -> int | None:
    for j in range(start, len(expected)):
        chunk = expected[j]
        window = view[pos : pos + chunk.size]
        if len(window) == chunk.size and _digest(window) == chunk.sha256:
            return j
    return None


def count_policy_drops(audit: StreamAudit, dropped_bytes: int) -> StreamAudit:
    """Count missing bytes the camera says its spool policy dropped as dropped, not lost.

    The spool numbers its chunks itself, so the audit cannot tell a dropped chunk from a
    lost one; the camera's own count of dropped bytes can. Missing bytes up to that count
    become dropped; any beyond it stay lost. Use only when the run forced drops (a squeezed
    spool): otherwise a camera that drops anything has lost it.

    Args:
        audit: the stream audit (changed in place and returned).
        dropped_bytes: the bytes the camera's spool dropped by policy.
    """
    moved = min(audit.lost_bytes, max(0, dropped_bytes))
    audit.lost_bytes -= moved
    audit.dropped_bytes += moved
    if audit.lost_bytes == 0:
        audit.lost_seqs.clear()
    return audit


@dataclass(frozen=True)
class ObjectProblem:
    """One object whose stored bytes disagree with the camera's report."""

    key: str
    reason: str


def audit_objects(
    objects: Sequence[StoredObject],
    closed: Sequence[ClosedSegment],
    crc64: Callable[[bytes], int],
) -> list[ObjectProblem]:
    """Check each stored object against its ``segment.closed`` report and its server CRC.

    Args:
        objects: the camera's objects as read back.
        closed: the camera's reports; an object still open (no report yet) is only
            checked against the server's CRC.
        crc64: CRC-64/XZ (OSS's ``x-oss-hash-crc64ecma``) of a byte string.

    Returns:
        Problems found, empty when every object is consistent.
    """
    problems = []
    reports = {seg.key: seg for seg in closed}
    stored_keys = {obj.key for obj in objects}
    for obj in objects:
        actual = crc64(obj.data)
        if obj.server_crc64 is not None and obj.server_crc64 != actual:
            problems.append(ObjectProblem(obj.key, "server CRC64 does not match the bytes"))
        report = reports.get(obj.key)
        if report is None:
            continue
        if report.size != len(obj.data):
            problems.append(
                ObjectProblem(obj.key, f"reported {report.size} bytes, stored {len(obj.data)}")
            )
        elif report.crc64 != actual:
            problems.append(ObjectProblem(obj.key, "reported CRC64 differs from stored bytes"))
    for key in sorted(reports.keys() - stored_keys):
        problems.append(ObjectProblem(key, "reported closed but not stored"))
    return problems
