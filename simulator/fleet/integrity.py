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
from collections.abc import Callable, Iterable, Sequence
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


@dataclass(frozen=True)
class Finding:
    """One damaged stretch of a camera's stream.

    Attributes:
        kind: ``lost``, ``duplicated`` or ``corrupted``.
        offset: where in the joined stored stream (for ``lost``: where the missing bytes
            belong); :func:`~simulator.fleet.verify.verify_cameras` names the object.
        size: bytes concerned (produced bytes for ``lost``, stored bytes otherwise).
        seq: the produced chunk concerned (the first one of a run of chunks).
    """

    kind: str
    offset: int
    size: int
    seq: int | None


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
    findings: list[Finding] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.lost_bytes or self.duplicated_bytes or self.corrupted_bytes)

    def note(self, kind: str, offset: int, size: int, seq: int | None) -> None:
        """Count ``size`` bytes of damage and keep where it is."""
        if size <= 0:
            return
        if kind == "lost":
            self.lost_bytes += size
        elif kind == "duplicated":
            self.duplicated_bytes += size
        else:
            self.corrupted_bytes += size
            if self.corrupt_at is None:
                self.corrupt_at = offset
        self.findings.append(Finding(kind, offset, size, seq))


def _digest(data: bytes | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


Regenerate = Callable[[int, int], bytes]
"""The bytes of produced chunk ``seq`` of length ``size``, for a source that can repeat them."""

# Chunks ahead of the expected one whose sizes are tried at a candidate position.
_LOOKAHEAD = 256


def audit_stream(
    expected: Sequence[Chunk],
    stored: bytes,
    *,
    dropped: Iterable[int] = (),
    in_flight: Iterable[int] = (),
    starts: Sequence[int] = (),
    regenerate: Regenerate | None = None,
) -> StreamAudit:
    """Account for every produced and every stored byte of one camera.

    Args:
        expected: every chunk the producer handed over, in order.
        stored: the camera's objects joined in key order.
        dropped: sequence numbers the spool dropped by policy (counted, never "lost").
        in_flight: sequence numbers still in the spool when the run ended (the camera was
            stopped before uploading them); they count as pending, not lost, but only when
            they form the tail of the stream.
        starts: where each object begins in ``stored``: after damage the walk picks the
            stream up again at the next object or expected chunk boundary.
        regenerate: rebuilds a produced chunk's bytes; with it, damage inside a chunk is
            counted to the byte (a flipped byte is one corrupted byte, a cut tail the missing
            bytes lost); without it, to the chunk.

    Returns:
        The audit; ``clean`` is false when any byte was lost, duplicated or corrupted.
    """
    return _Walk(expected, stored, set(dropped), set(in_flight), starts, regenerate).run()


class _Walk:
    """Walks the stored stream against the produced chunks (see :func:`audit_stream`)."""

    def __init__(
        self,
        expected: Sequence[Chunk],
        stored: bytes,
        dropped: set[int],
        pending: set[int],
        starts: Sequence[int],
        regenerate: Regenerate | None,
    ) -> None:
        self.expected = expected
        self.view = memoryview(stored)
        self.size = len(stored)
        self.dropped = dropped
        self.pending = pending
        self.starts = sorted(set(starts))
        self.regenerate = regenerate
        self.index: dict[tuple[int, str], list[int]] = {}
        for j, chunk in enumerate(expected):
            self.index.setdefault((chunk.size, chunk.sha256), []).append(j)
        self.seen: dict[tuple[int, str], int] = {}
        self.audit = StreamAudit(
            produced_bytes=sum(c.size for c in expected), stored_bytes=len(stored)
        )

    def _matches(self, pos: int, chunk: Chunk) -> bool:
        window = self.view[pos : pos + chunk.size]
        return len(window) == chunk.size and _digest(window) == chunk.sha256

    def _find(self, pos: int, first: int) -> tuple[str, int, int] | None:
        """What the stored bytes at ``pos`` are: ``("chunk", j, size)`` for produced chunk
        ``j >= first``, ``("dup", seq, size)`` for a chunk already matched, or ``None``."""
        sizes = {c.size for c in self.expected[first : first + _LOOKAHEAD]}
        sizes |= {size for size, _ in self.seen}
        best: int | None = None
        dup: tuple[str, int, int] | None = None
        for size in sorted(sizes, reverse=True):
            window = self.view[pos : pos + size]
            if len(window) != size:
                continue
            key = (size, _digest(window))
            later = [j for j in self.index.get(key, ()) if j >= first]
            if later and (best is None or later[0] < best):
                best = later[0]
            if key in self.seen and dup is None:
                dup = ("dup", self.seen[key], size)
        if best is not None:
            return "chunk", best, self.expected[best].size
        return dup

    def _resync(self, pos: int, first: int) -> tuple[int, tuple[str, int, int] | None]:
        """The next position after damage at ``pos`` where the stream makes sense again:
        the next object start, or where a following chunk would begin had the damaged
        ones kept their length."""
        candidates = {q for q in self.starts if q > pos}
        edge = pos
        for chunk in self.expected[first:]:
            edge += chunk.size
            if edge >= self.size:
                break
            candidates.add(edge)
        for q in sorted(candidates):
            found = self._find(q, first)
            if found is not None:
                return q, found
        return self.size, None

    def _ok(self, pos: int, chunk: Chunk) -> None:
        self.audit.ok_bytes += chunk.size
        self.seen[(chunk.size, chunk.sha256)] = chunk.seq

    def _missing(self, chunks: Sequence[Chunk], pos: int, at_end: bool) -> None:
        """Chunks with no stored bytes: dropped, pending (tail only) or lost."""
        for chunk in chunks:
            if chunk.seq in self.dropped:
                self.audit.dropped_bytes += chunk.size
            elif at_end and chunk.seq in self.pending:
                self.audit.pending_bytes += chunk.size
            else:
                self.audit.lost_seqs.append(chunk.seq)
                self.audit.note("lost", pos, chunk.size, chunk.seq)

    def _damaged(self, pos: int, end: int, chunks: Sequence[Chunk], at_end: bool) -> None:
        """Stored bytes ``[pos, end)`` stand where ``chunks`` should be."""
        kept = [c for c in chunks if c.seq not in self.dropped]
        self.audit.dropped_bytes += sum(c.size for c in chunks if c.seq in self.dropped)
        region = self.view[pos:end]
        first_seq = kept[0].seq if kept else None
        want_size = sum(c.size for c in kept)
        if self.regenerate is None or not kept:
            # Without the produced bytes only whole chunks can be told apart: the stored
            # stretch is corrupted, and what it falls short of the chunks it stands for is lost.
            self.audit.note("corrupted", pos, len(region), first_seq)
        else:
            want = b"".join(self.regenerate(c.seq, c.size) for c in kept)
            common = min(len(region), len(want))
            same = _equal_bytes(region[:common], want[:common])
            self.audit.ok_bytes += same
            if common - same:
                first_bad = next(k for k in range(common) if region[k] != want[k])
                self.audit.note("corrupted", pos + first_bad, common - same, first_seq)
            if len(region) > common:
                self.audit.note("corrupted", pos + common, len(region) - common, first_seq)
        missing = want_size - len(region)
        if missing > 0 and kept:
            last = kept[-1]
            if at_end and last.seq in self.pending:
                self.audit.pending_bytes += missing
            else:
                self.audit.lost_seqs.append(last.seq)
                self.audit.note("lost", end, missing, last.seq)

    def run(self) -> StreamAudit:
        pos, i = 0, 0
        expected = self.expected
        while i < len(expected):
            chunk = expected[i]
            if chunk.seq in self.dropped:
                self.audit.dropped_bytes += chunk.size
                i += 1
                continue
            if self._matches(pos, chunk):
                self._ok(pos, chunk)
                pos += chunk.size
                i += 1
                continue
            if pos >= self.size:
                # The stored stream ended: the rest is pending (still spooled) or lost.
                self._missing(expected[i:], pos, at_end=True)
                return self.audit
            found = self._find(pos, i)
            if found is not None and found[0] == "dup":
                self._duplicate(pos, found)
                pos += found[2]
                continue
            if found is not None:
                self._missing(expected[i : found[1]], pos, at_end=False)
                i = found[1]
                continue
            end, after = self._resync(pos, i)
            upto = after[1] if after is not None and after[0] == "chunk" else i
            if after is None:
                upto = len(expected)
            self._damaged(pos, end, expected[i:upto], at_end=after is None)
            pos, i = end, upto
        while pos < self.size:
            # Bytes after everything produced: a duplicate of the tail or garbage.
            found = self._find(pos, len(expected))
            if found is None:
                end, _ = self._resync(pos, len(expected))
                self.audit.note("corrupted", pos, end - pos, None)
                pos = end
                continue
            self._duplicate(pos, found)
            pos += found[2]
        return self.audit

    def _duplicate(self, pos: int, found: tuple[str, int, int]) -> None:
        self.audit.duplicated_seqs.append(found[1])
        self.audit.note("duplicated", pos, found[2], found[1])


def _equal_bytes(a: bytes | memoryview, b: bytes | memoryview) -> int:
    """How many positions hold the same byte in two equally long strings."""
    if not a:
        return 0
    x = int.from_bytes(a, "big") ^ int.from_bytes(b, "big")
    return x.to_bytes(len(a), "big").count(0)


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
        audit.findings = [f for f in audit.findings if f.kind != "lost"]
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
