"""Timestamps and segment cuts: from camera buffers to finished TS segments.

:class:`Segmenter` is pure (no I/O, no clock). It maps the camera's timestamps onto the
stream's timeline, starts the stream at the first IDR picture, cuts a new segment at the
first IDR picture once the target duration is reached, and gives every segment a PAT, a PMT
and the parameter sets it needs to decode on its own.

Timestamps are 90 kHz ticks. The first IDR picture's DTS maps to ``STREAM_START`` (1.4 s),
which leaves room for the PCR to run behind the DTS and for audio that starts slightly
earlier than the video. Missing timestamps are derived: video advances by one frame
interval (``frame_rate``), audio by its sample count (1024 samples per AAC block).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from device.hls.adts import split_adts
from device.hls.errors import HlsInputError
from device.hls.h264 import AccessUnit, ParameterSets
from device.hls.muxer import TsMuxer
from device.hls.pes import CLOCK_HZ

__all__ = ["STREAM_START", "Segmenter", "SegmenterStats", "TsSegment"]

STREAM_START = 126_000
# Frame intervals derived from a fractional frame rate are rounded to whole ticks; a cut
# that misses the target by less than a millisecond is still on time.
_CUT_TOLERANCE = 90


@dataclass(frozen=True)
class TsSegment:
    """One finished MPEG-TS segment.

    Attributes:
        sequence: the media sequence number.
        data: the TS packets (plain, not encrypted).
        start_dts: DTS of its first picture, 90 kHz ticks on the stream's timeline.
        duration_ticks: from its first picture to the next segment's first picture
            (for the last segment: to the end of its last picture).
        frames: video pictures in the segment.
    """

    sequence: int
    data: bytes
    start_dts: int
    duration_ticks: int
    frames: int

    @property
    def duration_s(self) -> float:
        """The duration in seconds."""
        return self.duration_ticks / CLOCK_HZ


@dataclass
class SegmenterStats:
    """Counters of input the segmenter did not put into any segment.

    Attributes:
        dropped_video_frames: pictures before the first IDR (or after a forced resync).
        dropped_audio_frames: ADTS frames before the first IDR, or timed before the stream.
    """

    dropped_video_frames: int = 0
    dropped_audio_frames: int = 0


class _Open:
    """The segment being filled."""

    def __init__(self, sequence: int, start_dts: int) -> None:
        self.sequence = sequence
        self.start_dts = start_dts
        self.buffer = bytearray()
        self.frames = 0


class Segmenter:
    """Cut a camera's H.264 (+ AAC) into TS segments that each start with an IDR picture.

    Args:
        target_duration_s: a segment ends at the first IDR picture at least this far
            after its start, so segments last the target plus at most one GOP.
        frame_rate: pictures per second, used for missing video timestamps and for the
            duration of the very last picture.
        audio_sample_rate: the AAC sample rate, or ``None`` for a video-only stream.
        first_sequence: the media sequence number of the first segment.
    """

    def __init__(
        self,
        *,
        target_duration_s: float,
        frame_rate: float,
        audio_sample_rate: int | None,
        first_sequence: int = 0,
    ) -> None:
        self._target = round(target_duration_s * CLOCK_HZ)
        self._frame_interval = Fraction(CLOCK_HZ) / Fraction(frame_rate)
        self._sample_rate = audio_sample_rate
        self._muxer = TsMuxer(audio=audio_sample_rate is not None)
        self._params = ParameterSets()
        self._next_sequence = first_sequence
        self._origin: Fraction | None = None  # input DTS of the first muxed picture
        self._first_pts: Fraction | None = None  # and its PTS: where implicit audio starts
        self._video_clock: Fraction | None = None  # input DTS of the last picture
        self._video_pts: Fraction | None = None  # input PTS of the last picture
        self._audio_clock: Fraction | None = None  # input PTS of the next audio frame
        self._last_out_dts: int | None = None
        self._last_interval: int | None = None
        self._open: _Open | None = None
        self._need_key_frame = True
        self.stats = SegmenterStats()

    @property
    def started(self) -> bool:
        """Whether the first IDR picture has arrived."""
        return self._origin is not None

    def require_key_frame(self) -> None:
        """Drop pictures until the next IDR picture (after frames were lost upstream).

        The segment in progress stays open; the IDR picture is a clean restart point, so
        nothing referencing a lost picture is muxed.
        """
        self._need_key_frame = True

    def add_video(
        self, data: bytes, *, pts: int | None = None, dts: int | None = None
    ) -> TsSegment | None:
        """Mux one access unit.

        Args:
            data: exactly one coded picture in Annex B (with its SPS/PPS/SEI if any).
            pts: presentation timestamp in 90 kHz ticks, monotonic across calls (not
                wrapped). ``None``: the previous picture's plus one frame interval.
            dts: decoding timestamp; ``None`` means equal to ``pts`` (no B-frames).

        Returns:
            The segment this picture completed, if it starts a new one.

        Raises:
            HlsInputError: the buffer is not one Annex B access unit, DTS does not
                increase, PTS is before DTS, or a key frame lacks known parameter sets.
        """
        unit = AccessUnit.parse(data)
        in_pts, in_dts = self._video_times(pts, dts)
        self._params.learn(unit.nals)
        if self._need_key_frame and not unit.is_idr:
            self._video_clock, self._video_pts = in_dts, in_pts
            self.stats.dropped_video_frames += 1
            return None
        origin = self._origin if self._origin is not None else in_dts
        out_dts = round(in_dts - origin) + STREAM_START
        out_pts = round(in_pts - origin) + STREAM_START
        starts = self._open is None or (
            unit.is_idr and out_dts - self._open.start_dts >= self._target - _CUT_TOLERANCE
        )
        annexb = unit.to_annexb(self._params if starts else None)  # may raise: no state yet
        finished = None
        current = self._open
        if starts or current is None:
            finished = self._close(end_dts=out_dts)
            current = self._open = _Open(self._next_sequence, out_dts)
            self._next_sequence += 1
            current.buffer += self._muxer.tables()
        if self._first_pts is None:
            self._first_pts = in_pts
        self._origin = origin
        self._need_key_frame = False
        if self._last_out_dts is not None:
            self._last_interval = out_dts - self._last_out_dts
        self._last_out_dts = out_dts
        self._video_clock, self._video_pts = in_dts, in_pts
        current.buffer += self._muxer.video(annexb, pts=out_pts, dts=out_dts, key_frame=unit.is_idr)
        current.frames += 1
        return finished

    def add_audio(self, data: bytes, *, pts: int | None = None) -> None:
        """Mux one or more ADTS frames.

        Args:
            data: complete ADTS frames, back to back.
            pts: presentation timestamp of the first frame, 90 kHz ticks, on the same clock
                as the video. ``None``: continue from the previous audio by sample count
                (the first audio then starts with the first muxed picture's PTS).

        Raises:
            HlsInputError: the stream is video-only, the buffer is not ADTS, or a frame's
                sample rate differs from the configured one.
        """
        if self._sample_rate is None:
            raise HlsInputError("audio written to a video-only stream")
        frames = split_adts(data)
        for frame in frames:
            if frame.sample_rate != self._sample_rate:
                raise HlsInputError(
                    f"ADTS sample rate {frame.sample_rate} Hz, stream expects "
                    f"{self._sample_rate} Hz"
                )
        if self._open is None or self._origin is None:
            self.stats.dropped_audio_frames += len(frames)
            return
        clock = Fraction(pts) if pts is not None else self._audio_clock
        if clock is None:
            clock = self._first_pts if self._first_pts is not None else self._origin
        kept, stamps = [], []
        for frame in frames:
            out = round(clock - self._origin) + STREAM_START
            if out >= 0:
                kept.append(frame)
                stamps.append(out)
            else:
                self.stats.dropped_audio_frames += 1
            clock += Fraction(frame.samples * CLOCK_HZ, frame.sample_rate)
        self._audio_clock = clock
        if kept:
            self._open.buffer += self._muxer.audio(kept, stamps)

    def finish(self) -> TsSegment | None:
        """Close the segment in progress and return it (``None`` if there is none).

        Its duration runs to the end of its last picture: the last DTS plus the previous
        picture interval (or one nominal frame interval for a one-picture stream).
        """
        if self._open is None or self._last_out_dts is None:
            return None
        interval = self._last_interval or round(self._frame_interval)
        segment = self._close(end_dts=self._last_out_dts + interval)
        self._need_key_frame = True
        return segment

    def _close(self, *, end_dts: int) -> TsSegment | None:
        current, self._open = self._open, None
        if current is None:
            return None
        return TsSegment(
            sequence=current.sequence,
            data=bytes(current.buffer),
            start_dts=current.start_dts,
            duration_ticks=end_dts - current.start_dts,
            frames=current.frames,
        )

    def _video_times(self, pts: int | None, dts: int | None) -> tuple[Fraction, Fraction]:
        if pts is None:
            if dts is not None:
                raise HlsInputError("a video DTS needs a PTS")
            if self._video_pts is None or self._video_clock is None:
                return Fraction(0), Fraction(0)
            # Without B-frames PTS equals DTS, so both advance by one frame.
            return (
                self._video_pts + self._frame_interval,
                self._video_clock + self._frame_interval,
            )
        in_pts = Fraction(pts)
        in_dts = Fraction(dts) if dts is not None else in_pts
        if in_pts < in_dts:
            raise HlsInputError(f"video PTS {pts} is before its DTS {dts}")
        if self._video_clock is not None and in_dts <= self._video_clock:
            raise HlsInputError(f"video DTS {int(in_dts)} does not increase")
        return in_pts, in_dts
