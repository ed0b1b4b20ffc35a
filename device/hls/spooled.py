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
a finished HLS recording without listing the bucket. The first live version queued (one
without ``EXT-X-ENDLIST``) is queued with a request for a signed ``segment.opened`` event
instead, carrying the recording's start: the console then lists the recording in progress
and plays the playlist as the camera rewrites it. A camera restarted into the same session
asks again; the event carries the same object sequence number, so the console keeps one.

A recording that can resume after a restart (``mark`` given) counts its steps: one per
segment queued, one more for the final playlist. Each playlist is queued with the source
mark ``offset = steps so far``, committed with the playlist entry. A restarted camera
replays the same source through the same session from its start, and the sink drops every
segment and playlist the mark says are already queued (``skip``): the segments that follow
get the names and bytes they would have had without the restart, and no segment is stored
twice under two names. A segment queued after the last mark is queued again under its own
name with the same bytes, which is harmless.
"""

from __future__ import annotations

from device.clock import Clock
from device.errors import SpoolError, StorageError, TransientStorageError
from device.hls.sink import PLAYLIST_CONTENT_TYPE
from device.spool import NO_CRASH, CrashPoints, ObjectPut, Report, SourceMark, Spool

__all__ = ["SpoolSink"]


class SpoolSink:
    """A :class:`~device.hls.sink.SegmentSink` that queues whole objects in a spool.

    Args:
        spool: the camera's spool (shared with its uploader).
        clock: stamps each entry with the device's wall time.
        mark: the recording's source mark (kind, identity, session as ``name``); playlists
            are queued with it, ``offset`` set to the steps done.
        skip: steps already queued before a restart: dropped, not queued again.
        crash: crash point hook (tests): ``source.spooled`` after each entry is queued.
    """

    def __init__(
        self,
        spool: Spool,
        clock: Clock,
        *,
        mark: SourceMark | None = None,
        skip: int = 0,
        crash: CrashPoints = NO_CRASH,
    ) -> None:
        self._spool = spool
        self._clock = clock
        self._mark = mark
        self._skip = skip
        self._crash = crash
        self._segments = 0
        self._started_ms: int | None = None
        self._announced = False
        self.queued_objects = 0
        self.queued_bytes = 0
        self.skipped_objects = 0

    def name_session(self, session: str) -> None:
        """Name the recording's session (made when it starts) in the mark playlists carry."""
        if self._mark is not None:
            self._mark = self._mark.model_copy(update={"name": session})

    @property
    def skipping(self) -> bool:
        """Whether the segments now produced were queued before the restart."""
        return self._segments < self._skip

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
        playlist = content_type == PLAYLIST_CONTENT_TYPE
        ended = playlist and data.rstrip().endswith(b"#EXT-X-ENDLIST")
        opened_ms = None
        if ended:
            report = Report(min(self._started_ms, now), now)
        elif playlist and not self._announced:
            opened_ms = min(self._started_ms, now)
        try:
            put = ObjectPut(key, data, content_type, report, opened_ms)
        except ValueError as exc:
            raise StorageError(str(exc), code="bad_name", object_key=key) from None
        step = self._segments + (1 if ended else 0) if playlist else self._segments + 1
        if self._skip and step <= self._skip:
            if not playlist:
                self._segments = step
            self.skipped_objects += 1
            return  # queued before the restart
        mark = None
        if playlist and self._mark is not None:
            mark = self._mark.model_copy(update={"offset": step})
        try:
            self._spool.put_object(put, now, mark=mark)
        except SpoolError as exc:
            raise TransientStorageError(
                f"spool: {exc.message}", code=exc.code, object_key=key
            ) from None
        if not playlist:
            self._segments = step
        elif opened_ms is not None:
            self._announced = True
        self.queued_objects += 1
        self.queued_bytes += len(data)
        self._crash.reached("source.spooled")

    def __repr__(self) -> str:
        return f"SpoolSink(spool={str(self._spool.directory)!r})"
