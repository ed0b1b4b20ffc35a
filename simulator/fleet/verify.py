"""Read back every camera's objects with the bucket owner's key and audit them.

Each camera's objects (``videos/{device_id}/`` by default) are listed, read in key order (keys
start with the recording time, so key order is recording order) and joined; HLS playlists are
left out of the join and checked instead (each may list only stored segments). The join is
audited byte by byte against the camera's chunk log; each object's bytes are also checked
against the CRC-64 the server computed while the appends arrived.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import oss2

from device.crc64 import crc64
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

    @property
    def clean(self) -> bool:
        return self.stream.clean and not self.problems


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
        # A camera that did not drain in time still holds its tail in the spool: pending.
        in_flight = () if cam.drained else [c.seq for c in cam.chunks]
        stream = audit_stream(cam.chunks, stored, in_flight=in_flight)
        if drops_forced:
            count_policy_drops(stream, cam.dropped_bytes)
        problems = audit_objects(media, [], crc64) + playlist_problems(objects)
        return CameraAudit(cam.device_id, stream, len(objects), problems, cam.drained)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, cameras))
