"""Read back every camera's objects with the bucket owner's key and audit them.

Each camera's objects (``videos/{device_id}/`` by default) are listed, read in key order (keys
start with the recording time, so key order is recording order) and joined; HLS playlists are
left out of the join and checked instead (each may list only stored segments). The join is
audited byte by byte against the camera's chunk log, picking the stream up again at object and
chunk boundaries after damage; every finding names its object and the offset in it. Each
object's bytes are also checked against the CRC-64 the server computed while the appends
arrived and against the size and CRC-64 the camera reported when it closed the object.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import oss2

from device.crc64 import crc64
from simulator.fleet.camera import piece_bytes
from simulator.fleet.group import CameraResult
from simulator.fleet.hls import PLAYLIST_SUFFIX, playlist_problems
from simulator.fleet.integrity import (
    ObjectProblem,
    StoredObject,
    StreamAudit,
    audit_objects,
    audit_stream,
    count_policy_drops,
)

__all__ = ["CameraAudit", "read_objects", "verify_cameras"]


@dataclass
class CameraAudit:
    """The audit of one camera."""

    device_id: str
    stream: StreamAudit
    objects: int
    problems: list[ObjectProblem]
    drained: bool
    findings: list[dict[str, Any]]

    @property
    def clean(self) -> bool:
        return self.stream.clean and not self.problems

    def figures(self) -> dict[str, Any]:
        """This camera's figures for the JSON report."""
        s = self.stream
        return {
            "device_id": self.device_id,
            "produced_bytes": s.produced_bytes,
            "stored_bytes": s.stored_bytes,
            "ok_bytes": s.ok_bytes,
            "lost_bytes": s.lost_bytes,
            "duplicated_bytes": s.duplicated_bytes,
            "corrupted_bytes": s.corrupted_bytes,
            "dropped_bytes": s.dropped_bytes,
            "pending_bytes": s.pending_bytes,
            "objects": self.objects,
            "drained": self.drained,
            "findings": self.findings,
            "object_problems": [{"key": p.key, "reason": p.reason} for p in self.problems],
        }


def locate(keys: list[str], starts: list[int], total: int, offset: int) -> tuple[str, int]:
    """The object holding ``offset`` of a joined stream, and the offset within it (an offset
    at the very end belongs to the last object)."""
    if not keys:
        return "", offset
    index = max(0, bisect.bisect_right(starts, offset) - 1)
    if offset >= total:
        index = len(keys) - 1
    return keys[index], offset - starts[index]


def read_objects(bucket: oss2.Bucket, prefix: str) -> list[StoredObject]:
    """Every object under ``prefix`` in key order, with its server CRC-64."""
    keys = sorted(obj.key for obj in oss2.ObjectIteratorV2(bucket, prefix=prefix))
    out = []
    for key in keys:
        result = bucket.get_object(key)
        data = result.read()
        server = result.headers.get("x-oss-hash-crc64ecma")
        out.append(StoredObject(key, data, int(server) if server else None))
    return out


def verify_cameras(
    cameras: list[CameraResult],
    bucket: oss2.Bucket,
    prefix_of: Callable[[str], str] = lambda device_id: f"videos/{device_id}/",
    workers: int = 8,
    drops_forced: bool = False,
) -> list[CameraAudit]:
    """Audit every camera's stored bytes against what it produced.

    Args:
        cameras: each camera's chunk log and end state.
        bucket: the bucket, opened with a key that may list and read every prefix.
        prefix_of: a camera's object prefix.
        workers: parallel readers.
        drops_forced: the scenario squeezed the spools, so bytes a camera reports dropped
            by its spool policy are counted as dropped (see
            :func:`~simulator.fleet.integrity.count_policy_drops`); otherwise they are lost.

    Returns:
        One audit per camera, in the order given.
    """

    def one(cam: CameraResult) -> CameraAudit:
        objects = read_objects(bucket, prefix_of(cam.device_id))
        # HLS playlists are rewritten in place: they are checked, not part of the stream.
        media = [obj for obj in objects if not obj.key.endswith(PLAYLIST_SUFFIX)]
        stored = b"".join(obj.data for obj in media)
        starts, total = [], 0
        for obj in media:
            starts.append(total)
            total += len(obj.data)
        # A camera that did not drain in time still holds its tail in the spool: pending.
        in_flight = () if cam.drained else [c.seq for c in cam.chunks]
        seed = cam.source_seed
        stream = audit_stream(
            cam.chunks,
            stored,
            in_flight=in_flight,
            starts=starts,
            regenerate=None
            if seed is None
            else (lambda n, size: piece_bytes(cam.device_id, seed, n, size)),
        )
        if drops_forced:
            count_policy_drops(stream, cam.dropped_bytes)
        keys = [obj.key for obj in media]
        findings = []
        for finding in stream.findings:
            if finding.kind == "lost" and finding.offset > 0:
                # Missing bytes belong after what was stored before them: name that object
                # (a cut tail), not the next one.
                key, before = locate(keys, starts, total, finding.offset - 1)
                offset = before + 1
            else:
                key, offset = locate(keys, starts, total, finding.offset)
            findings.append(
                {
                    "kind": finding.kind,
                    "bytes": finding.size,
                    "key": key,
                    "offset": offset,
                    "seq": finding.seq,
                }
            )
        problems = audit_objects(objects, cam.closed, crc64) + playlist_problems(objects)
        return CameraAudit(cam.device_id, stream, len(objects), problems, cam.drained, findings)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, cameras))
