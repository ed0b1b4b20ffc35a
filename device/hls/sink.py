"""Where finished segments and playlists go: the ``SegmentSink`` seam and two sinks.

:class:`HlsStream` stores objects only through :class:`SegmentSink`. The contract that keeps
a playlist honest (it never lists a segment that is not stored) is split between the two:
the stream calls ``put_object`` for a playlist only after ``put_object`` returned for every
segment it lists, and a sink returns only once the object is stored, or, for a queueing
sink, once it is durably queued behind everything put before it, so the playlist cannot
overtake its segments.

Both calls are whole-object puts of a fixed key and fixed bytes, so repeating one after an
ambiguous failure (the request landed but the answer was lost) stores the same object again
and is safe.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from device.store import convert_oss_error

__all__ = [
    "PLAYLIST_CONTENT_TYPE",
    "SEGMENT_CONTENT_TYPE",
    "MemorySink",
    "OssBucketSink",
    "SegmentSink",
    "StoredObject",
]

SEGMENT_CONTENT_TYPE = "video/mp2t"
PLAYLIST_CONTENT_TYPE = "application/vnd.apple.mpegurl"


@runtime_checkable
class SegmentSink(Protocol):
    """Stores whole objects under keys the stream chooses."""

    def put_object(self, key: str, data: bytes, content_type: str) -> None:
        """Store ``data`` at ``key``, replacing any previous object.

        Args:
            key: the full object key (granted prefix included).
            data: the object's bytes.
            content_type: its ``Content-Type``.

        Raises:
            StorageError: (``device.errors``) the object is not stored; it may or may not
                have landed (``TransientStorageError``), so the stream puts it again later.
        """
        ...


@dataclass(frozen=True)
class StoredObject:
    """An object held by :class:`MemorySink`."""

    data: bytes
    content_type: str


class MemorySink:
    """A :class:`SegmentSink` in memory, recording the order of puts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.objects: dict[str, StoredObject] = {}
        self.puts: list[str] = []

    def put_object(self, key: str, data: bytes, content_type: str) -> None:
        """Store the object."""
        with self._lock:
            self.objects[key] = StoredObject(bytes(data), content_type)
            self.puts.append(key)

    def get(self, key: str) -> bytes:
        """Return the stored bytes of ``key``.

        Raises:
            KeyError: nothing is stored at ``key``.
        """
        with self._lock:
            return self.objects[key].data


class OssBucketSink:
    """A :class:`SegmentSink` writing straight to OSS with one ``PutObject`` per object.

    It makes exactly one attempt per call; the stream retries unstored objects with
    jittered backoff. Playlists are sent with ``Cache-Control: no-cache`` so a CDN in front
    of the bucket does not serve a live playlist that stopped sliding.

    Args:
        bucket: an ``oss2.Bucket`` whose credentials may write under the stream's prefix
            (``oss:PutObject`` is the only permission needed: nothing is ever deleted).
    """

    def __init__(self, bucket: Any) -> None:
        self._bucket = bucket

    def put_object(self, key: str, data: bytes, content_type: str) -> None:
        """Put the object.

        Raises:
            StorageError: the put failed (converted from oss2 and transport errors).
        """
        # Imported here: a camera whose HLS output goes through its spool never loads oss2
        # for this module.
        import oss2.exceptions

        headers = {"Content-Type": content_type}
        if content_type == PLAYLIST_CONTENT_TYPE:
            headers["Cache-Control"] = "no-cache"
        try:
            self._bucket.put_object(key, data, headers=headers)
        except (oss2.exceptions.OssError, OSError) as exc:
            raise convert_oss_error(exc, key=key) from None

    def __repr__(self) -> str:
        return f"OssBucketSink(bucket={getattr(self._bucket, 'bucket_name', '?')!r})"
