"""``HlsStream``: a camera's H.264 (+ AAC) in, TS segments and an m3u8 playlist out.

Usage::

    stream = HlsStream(OssBucketSink(bucket))
    stream.open(HlsOptions(prefix="videos/cam-0001/", frame_rate=25, audio_sample_rate=16000))
    for picture, pts in camera:                  # one access unit per call
        stream.write(video=picture, pts=pts)     # pts in 90 kHz ticks (optional)
        stream.write(audio=adts_frames)          # ADTS; timed by sample count if no pts
    stream.close()

The stream starts at the first IDR picture; earlier pictures and audio are dropped and
counted. ``write`` stores a segment (and then the playlist) as soon as the segment is cut;
storage failures do not escape ``write``: the segment waits in order, is retried after
jittered delays, and is listed only once stored. When too many finished segments wait,
``write`` raises :class:`HlsBackpressureError` and the frame is not taken; the stream then
skips pictures up to the next IDR so nothing references the refused one.

Not thread-safe: one thread feeds one stream.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from device.backoff import Backoff
from device.clock import Clock, SystemClock
from device.errors import DeviceError
from device.hls.encryption import (
    ContentKey,
    KeyDelivery,
    encrypt_segment,
    iv_for_sequence,
    new_content_key,
)
from device.hls.errors import HlsBackpressureError, HlsStateError, KeyDeliveryError
from device.hls.options import HlsOptions, segment_uri
from device.hls.playlist import KeyTag, PlaylistEntry, PlaylistWindow
from device.hls.publisher import PendingSegment, Publisher
from device.hls.segmenter import Segmenter, TsSegment
from device.hls.sink import SegmentSink

__all__ = ["HlsStats", "HlsStream"]


@dataclass(frozen=True)
class HlsStats:
    """A snapshot of a stream's counters.

    Attributes:
        segments_finished: segments cut so far.
        segments_stored: segments stored (and so listable).
        pending_segments: finished segments waiting for storage.
        bytes_stored: bytes of stored segments.
        playlist_writes: playlist versions stored.
        storage_failures: puts that failed (each is retried).
        dropped_video_frames: pictures before the first (or a resync) IDR picture.
        dropped_audio_frames: ADTS frames before the first IDR picture.
        key_deliveries: content keys delivered.
        key_delivery_failures: rotations postponed because the key could not be delivered.
        last_error: the last storage error, as text.
    """

    segments_finished: int
    segments_stored: int
    pending_segments: int
    bytes_stored: int
    playlist_writes: int
    storage_failures: int
    dropped_video_frames: int
    dropped_audio_frames: int
    key_deliveries: int
    key_delivery_failures: int
    last_error: str | None


class _Session:
    """Everything that lives from ``open`` to the end of ``close``."""

    def __init__(self, options: HlsOptions, session: str, publisher: Publisher) -> None:
        self.options = options
        self.session = session
        self.publisher = publisher
        self.playlist_key = options.playlist_key(session)
        self.segmenter = Segmenter(
            target_duration_s=options.target_duration_s,
            frame_rate=options.frame_rate,
            audio_sample_rate=options.audio_sample_rate,
            first_sequence=options.first_sequence,
        )
        self.key: ContentKey | None = None
        self.segments_finished = 0
        self.key_deliveries = 0
        self.key_delivery_failures = 0
        self.closed = False


class HlsStream:
    """Write one HLS recording (live or VOD) through a :class:`SegmentSink`.

    Args:
        sink: where segments and playlists are stored.
        key_delivery: receives content keys; required when the options ask for encryption.
        clock: wall time (default session names), monotonic time and sleep (retries).
        random_bytes: source of content keys and key ids.
        backoff: delays between storage retries (full-jitter exponential by default).
    """

    def __init__(
        self,
        sink: SegmentSink,
        *,
        key_delivery: KeyDelivery | None = None,
        clock: Clock | None = None,
        random_bytes: Callable[[int], bytes] = os.urandom,
        backoff: Backoff | None = None,
    ) -> None:
        self._sink = sink
        self._key_delivery = key_delivery
        self._clock = clock or SystemClock()
        self._random_bytes = random_bytes
        # Capped low: after an outage a live playlist lags by up to one delay.
        self._backoff = backoff or Backoff(initial=0.5, maximum=10.0)
        self._session: _Session | None = None

    # -- lifecycle -------------------------------------------------------------------

    def open(self, options: HlsOptions) -> None:
        """Start a recording.

        With encryption, the first content key is delivered here, before any segment
        exists, so the console can serve it as soon as the playlist appears.

        Args:
            options: the stream's settings.

        Raises:
            HlsStateError: the stream is open, or the previous recording still has
                segments waiting for storage (call :meth:`flush` or :meth:`close` again).
            KeyDeliveryError: encryption is on and the key could not be delivered (or no
                ``key_delivery`` was given).
        """
        current = self._session
        if current is not None and not (current.closed and current.publisher.idle):
            raise HlsStateError("the stream is open or still storing its last recording")
        session = options.session or time.strftime(
            "%Y%m%dT%H%M%SZ", time.gmtime(self._clock.wall_ms() / 1000)
        )
        window = PlaylistWindow(mode=options.mode, list_size=options.list_size)
        publisher = Publisher(
            self._sink,
            window,
            options.playlist_key(session),
            clock=self._clock,
            backoff=self._backoff,
        )
        state = _Session(options, session, publisher)
        if options.encryption is not None:
            if self._key_delivery is None:
                raise KeyDeliveryError("encryption needs a key delivery", key_id="")
            key = new_content_key(
                options.encryption.device_id, options.first_sequence, self._random_bytes
            )
            self._deliver(key)  # raises: nothing is open yet
            state.key = key
            state.key_deliveries += 1
        self._session = state

    def write(
        self,
        video: bytes | None = None,
        audio: bytes | None = None,
        *,
        pts: int | None = None,
        dts: int | None = None,
        audio_pts: int | None = None,
    ) -> None:
        """Feed one video access unit and/or audio frames.

        Args:
            video: exactly one coded picture, H.264 Annex B (AUD, SPS, PPS, SEI as the
                encoder made them; an AUD is added when missing, SPS/PPS are repeated at
                every segment start).
            audio: one or more complete AAC ADTS frames.
            pts: the picture's presentation time, 90 kHz ticks on a clock that does not
                wrap or go back; ``None``: previous picture + ``1 / frame_rate``.
            dts: the picture's decoding time (streams with B-frames); default ``pts``.
            audio_pts: presentation time of the first ADTS frame, same clock as ``pts``;
                ``None``: continue after the previous audio by sample count.

        Raises:
            HlsStateError: the stream is not open.
            HlsInputError: a buffer is malformed or timestamps go backwards (nothing of
                this call is muxed when the video is refused).
            HlsBackpressureError: too many segments wait for storage; nothing of this call
                is muxed.
        """
        state = self._require_open()
        publisher = state.publisher
        if publisher.pending_segments >= state.options.max_pending_segments:
            publisher.pump()
            if publisher.pending_segments >= state.options.max_pending_segments:
                state.segmenter.require_key_frame()
                raise HlsBackpressureError(
                    "segments are not being stored; frame refused",
                    pending=publisher.pending_segments,
                )
        if video is not None:
            finished = state.segmenter.add_video(video, pts=pts, dts=dts)
            if finished is not None:
                self._finish_segment(state, finished)
        if audio is not None:
            state.segmenter.add_audio(audio, pts=audio_pts)
        publisher.pump()

    def flush(self) -> bool:
        """Try to store waiting segments and the playlist now (ignoring the retry delay).

        Call it from the agent's loop while no frames arrive, to catch up after an outage.

        Returns:
            True when nothing is waiting.
        """
        if self._session is None:
            return True
        return self._session.publisher.pump(force=True)

    def close(self, *, timeout_s: float = 30.0) -> bool:
        """End the recording: cut the last segment, store everything, end the playlist.

        Storage is retried (with backoff, on the injected clock) for up to ``timeout_s``.
        If it is still failing, the stream is closed but keeps what is unstored; later
        :meth:`flush` calls finish the job.

        Args:
            timeout_s: how long to keep retrying storage.

        Returns:
            True when every segment and the final playlist are stored.
        """
        state = self._session
        if state is None:
            return True
        if not state.closed:
            last = state.segmenter.finish()
            if last is not None:
                self._finish_segment(state, last)
            state.publisher.end()
            state.closed = True
        return state.publisher.drain(timeout_s)

    def __enter__(self) -> HlsStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- introspection ---------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        """Whether ``write`` is accepted."""
        return self._session is not None and not self._session.closed

    @property
    def playlist_key(self) -> str | None:
        """The playlist's object key of the current (or last) recording."""
        return self._session.playlist_key if self._session else None

    @property
    def session(self) -> str | None:
        """The session name of the current (or last) recording."""
        return self._session.session if self._session else None

    def stats(self) -> HlsStats:
        """Return the current counters."""
        state = self._session
        if state is None:
            return HlsStats(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, None)
        pub = state.publisher.stats
        seg = state.segmenter.stats
        return HlsStats(
            segments_finished=state.segments_finished,
            segments_stored=pub.segments_stored,
            pending_segments=state.publisher.pending_segments,
            bytes_stored=pub.bytes_stored,
            playlist_writes=pub.playlist_writes,
            storage_failures=pub.failures,
            dropped_video_frames=seg.dropped_video_frames,
            dropped_audio_frames=seg.dropped_audio_frames,
            key_deliveries=state.key_deliveries,
            key_delivery_failures=state.key_delivery_failures,
            last_error=pub.last_error,
        )

    # -- internals -------------------------------------------------------------------

    def _require_open(self) -> _Session:
        state = self._session
        if state is None or state.closed:
            raise HlsStateError("the stream is not open")
        return state

    def _finish_segment(self, state: _Session, segment: TsSegment) -> None:
        options = state.options
        object_key = options.segment_key(state.session, segment.sequence)
        data = segment.data
        tag = None
        if options.encryption is not None and state.key is not None:
            self._maybe_rotate(state, segment.sequence)
            iv = iv_for_sequence(segment.sequence)
            data = encrypt_segment(data, state.key.key, iv)
            tag = KeyTag(
                uri=options.encryption.key_uri(state.key.key_id),
                iv=iv if options.encryption.explicit_iv else None,
            )
        entry = PlaylistEntry(
            sequence=segment.sequence,
            uri=segment_uri(state.playlist_key, object_key),
            duration_s=segment.duration_s,
            key=tag,
        )
        state.publisher.enqueue(PendingSegment(object_key, data, entry))
        state.segments_finished += 1

    def _maybe_rotate(self, state: _Session, sequence: int) -> None:
        encryption = state.options.encryption
        key = state.key
        if encryption is None or key is None or encryption.rotate_every_segments is None:
            return
        if sequence - key.first_sequence < encryption.rotate_every_segments:
            return
        fresh = new_content_key(key.device_id, sequence, self._random_bytes)
        try:
            self._deliver(fresh)
        except KeyDeliveryError:
            # Keep encrypting with the delivered key; a segment must never use a key the
            # console does not have. The next segment tries again.
            state.key_delivery_failures += 1
            return
        state.key = fresh
        state.key_deliveries += 1

    def _deliver(self, key: ContentKey) -> None:
        if self._key_delivery is None:
            raise KeyDeliveryError("no key delivery configured", key_id=key.key_id)
        try:
            self._key_delivery.deliver(key)
        except KeyDeliveryError:
            raise
        except DeviceError as exc:
            raise KeyDeliveryError(f"key delivery failed: {exc.code}", key_id=key.key_id) from None
