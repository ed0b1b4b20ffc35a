"""Store finished segments in order, then rewrite the playlist that lists them.

The playlist is the only thing players read, so it decides what "exists": an entry joins
the :class:`PlaylistWindow` only after its segment's ``put_object`` returned, and the
playlist is put after that. A segment that fails to store stays at the head of the queue;
nothing behind it is stored or listed until it is, which keeps media sequence numbers
consecutive. Failed attempts are retried after jittered exponential delays, not on every
frame, so an outage does not turn into a request storm.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from device.backoff import Backoff
from device.clock import Clock
from device.errors import StorageError
from device.hls.playlist import PlaylistEntry, PlaylistWindow
from device.hls.sink import PLAYLIST_CONTENT_TYPE, SEGMENT_CONTENT_TYPE, SegmentSink

__all__ = ["PendingSegment", "Publisher", "PublisherStats"]


@dataclass(frozen=True)
class PendingSegment:
    """A finished segment waiting to be stored.

    Attributes:
        object_key: where it is stored.
        data: its bytes (encrypted if the stream encrypts).
        entry: how the playlist will list it once stored.
    """

    object_key: str
    data: bytes
    entry: PlaylistEntry


@dataclass
class PublisherStats:
    """Counters of the storage side.

    Attributes:
        segments_stored: segments whose put returned.
        bytes_stored: their total size.
        playlist_writes: playlist puts that returned.
        failures: puts that raised ``StorageError``.
        last_error: the last such error, as text (it never holds secrets).
    """

    segments_stored: int = 0
    bytes_stored: int = 0
    playlist_writes: int = 0
    failures: int = 0
    last_error: str | None = None


class Publisher:
    """Ordered storage of segments followed by their playlist.

    Args:
        sink: where objects go.
        window: the playlist's entries; only stored segments are added to it.
        playlist_key: the playlist's object key.
        clock: monotonic time for retry deadlines and ``sleep`` for :meth:`drain`.
        backoff: delays between failed attempts.
    """

    def __init__(
        self,
        sink: SegmentSink,
        window: PlaylistWindow,
        playlist_key: str,
        *,
        clock: Clock,
        backoff: Backoff,
    ) -> None:
        self._sink = sink
        self._window = window
        self._playlist_key = playlist_key
        self._clock = clock
        self._backoff = backoff
        self._queue: deque[PendingSegment] = deque()
        self._playlist_dirty = False
        self._retry_at = float("-inf")
        self.stats = PublisherStats()

    @property
    def pending_segments(self) -> int:
        """Finished segments not stored yet."""
        return len(self._queue)

    @property
    def idle(self) -> bool:
        """Whether every segment and the latest playlist are stored."""
        return not self._queue and not self._playlist_dirty

    def enqueue(self, segment: PendingSegment) -> None:
        """Queue a finished segment behind the others."""
        self._queue.append(segment)

    def end(self) -> None:
        """Mark the stream ended: the playlist is rewritten with ``EXT-X-ENDLIST``."""
        self._window.end()
        if self._window.entries or self._queue:
            self._playlist_dirty = True

    def pump(self, *, force: bool = False) -> bool:
        """Store what is queued, in order, then the playlist if it changed.

        Args:
            force: try now even if the backoff delay after a failure has not passed.

        Returns:
            True when nothing is left to store.
        """
        if not force and self._clock.monotonic() < self._retry_at:
            return self.idle
        while self._queue:
            head = self._queue[0]
            if not self._put(head.object_key, head.data, SEGMENT_CONTENT_TYPE):
                return False
            self._queue.popleft()
            self._window.add(head.entry)
            self._playlist_dirty = True
            self.stats.segments_stored += 1
            self.stats.bytes_stored += len(head.data)
        if self._playlist_dirty:
            text = self._window.render().encode("utf-8")
            if not self._put(self._playlist_key, text, PLAYLIST_CONTENT_TYPE):
                return False
            self._playlist_dirty = False
            self.stats.playlist_writes += 1
        return True

    def drain(self, timeout_s: float) -> bool:
        """Keep trying, with the backoff delays, until everything is stored or time is up.

        Args:
            timeout_s: the longest this may take (on the injected clock).

        Returns:
            True when everything is stored.
        """
        deadline = self._clock.monotonic() + timeout_s
        while not self.pump(force=True):
            wait = max(0.0, self._retry_at - self._clock.monotonic())
            if self._clock.monotonic() + wait > deadline:
                return False
            self._clock.sleep(wait)
        return True

    def _put(self, key: str, data: bytes, content_type: str) -> bool:
        try:
            self._sink.put_object(key, data, content_type)
        except StorageError as exc:
            self.stats.failures += 1
            self.stats.last_error = str(exc)
            self._retry_at = self._clock.monotonic() + self._backoff.next_delay()
            return False
        self._backoff.reset()
        self._retry_at = float("-inf")
        return True
