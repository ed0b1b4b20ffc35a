"""``SpoolSink``: HLS objects go through the camera's durable spool and uploader.

With this sink a segment counts as "stored" for :class:`~device.hls.stream.HlsStream` once
it is durably queued (fsync'd and renamed into the spool), not once OSS holds it. That is
enough for the playlist rule because the uploader sends spool entries strictly in order
and never skips one that failed: the playlist the stream queues after a segment reaches
OSS only after that segment does. Retries, credentials, outages and crashes are then the
uploader's business, as for every other upload, and survive a restart.

Names are relative to the device's granted prefix, which the camera learns only with its
credentials; open the stream with ``prefix=""`` and the uploader adds the grant's prefix.

The final version of a playlist (the one with ``EXT-X-ENDLIST``) is queued with a report
request: once it is stored, the uploader announces it with a signed ``segment.closed``
event (key, length, CRC-64, first and last frame time), which is how the console learns of
a finished HLS recording without listing the bucket.
"""

from __future__ import annotations

from device.clock import Clock
from device.errors import SpoolError, StorageError, TransientStorageError
from device.hls.sink import PLAYLIST_CONTENT_TYPE
from device.spool import ObjectPut, Report, Spool

__all__ = ["SpoolSink"]


class SpoolSink:
    """A :class:`~device.hls.sink.SegmentSink` that queues whole objects in a spool.

    Args:
        spool: the camera's spool (shared with its uploader).
        clock: stamps each entry with the device's wall time.
    """

    def __init__(self, spool: Spool, clock: Clock) -> None:
        self._spool = spool
        self._clock = clock
        self._started_ms: int | None = None
        self.queued_objects = 0
        self.queued_bytes = 0

    def recording_started(self, wall_ms: int) -> None:
        """Note when the recording's first frame was taken (for the final report).

        Without it, the time of the first object queued is used.
        """
        self._started_ms = wall_ms

    def put_object(self, key: str, data: bytes, content_type: str) -> None:
        """Queue the object durably behind everything queued before it.

        Args:
            key: the object's name below the granted prefix.
            data: its bytes.
            content_type: its ``Content-Type``.

        Raises:
            TransientStorageError: the spool is full or cannot be written right now; the
                stream keeps the object and offers it again later.
            StorageError: the name is not a clean relative key (never queued).
        """
        now = self._clock.wall_ms()
        if self._started_ms is None:
            self._started_ms = now
        report = None
        if content_type == PLAYLIST_CONTENT_TYPE and data.rstrip().endswith(b"#EXT-X-ENDLIST"):
            report = Report(min(self._started_ms, now), now)
        try:
            put = ObjectPut(key, data, content_type, report)
        except ValueError as exc:
            raise StorageError(str(exc), code="bad_name", object_key=key) from None
        try:
            self._spool.put_object(put, now)
        except SpoolError as exc:
            raise TransientStorageError(
                f"spool: {exc.message}", code=exc.code, object_key=key
            ) from None
        self.queued_objects += 1
        self.queued_bytes += len(data)

    def __repr__(self) -> str:
        return f"SpoolSink(spool={str(self._spool.directory)!r})"
