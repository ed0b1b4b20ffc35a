"""The agent's HLS output: H.264 in, TS segments and a playlist out, through the spool.

Loaded only when ``[output] format = "hls"``, so the plain append mode never imports
``device.hls``. :class:`HlsRecorder` takes the recorder's place in the agent: it reads
access units from the source, feeds an :class:`~device.hls.HlsStream` whose sink is the
camera's spool (:class:`~device.hls.SpoolSink`), and the agent's uploader stores the
queued segments and playlists in order with the camera's credentials. A playlist is
queued only after the segments it lists, and the spool keeps that order all the way to OSS.

Sources (``[source] kind``):

- ``file``: an H.264 Annex B elementary stream (``.h264``), paced at the frame rate, with
  optional AAC in ADTS from ``audio_path`` interleaved by time;
- ``stdin``: the same from a pipe (an encoder's output), as fast as it arrives;
- ``pattern``: a generated H.264 test pattern (pure Python, :mod:`device.agent.hls_pattern`).

Raw Annex B carries no timestamps: pictures are timed by the configured frame rate, so the
source must not contain B-frames (camera encoders in baseline or main profile without
B-frames qualify).

After a restart, an unencrypted recording from a ``file`` source continues in the same
session: each playlist is queued with a source mark (the file's identity, the output
settings and the session, and how many segments are queued), and the restarted camera
replays the file from its start without pacing, muxing the same segments again but queuing
only those after the mark (:class:`~device.hls.SpoolSink`), then goes on at the frame rate.
The segments keep their names and numbers, none is stored twice, and the playlist goes on
listing the earlier ones. A changed file, changed output settings, ``stdin``, the pattern
and encrypted output (whose content keys are not kept) start a new session instead.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from device.agent.hls_timing import PictureTiming
from device.backoff import Backoff
from device.clock import Clock
from device.errors import ConfigError, SourceError
from device.hls import (
    EncryptionOptions,
    HlsBackpressureError,
    HlsInputError,
    HlsOptions,
    HlsStream,
    KeyDelivery,
    KeyDeliveryError,
    SegmentSink,
    SpoolSink,
)
from device.hls.adts import AdtsFrame, split_adts
from device.hls.annexb import AccessUnitSplitter
from device.recorder import RecorderStats
from device.resume import NEW, ResumeDecision, file_identity, resume_offset
from device.settings import AgentSettings, OutputSettings, SourceSettings
from device.spool import NO_CRASH, CrashPoints, SourceMark, Spool

__all__ = ["HlsRecorder", "access_units", "adts_frames", "build_hls_recorder", "hls_options"]

log = logging.getLogger(__name__)

_READ_BYTES = 64 * 1024
ADTS_HEADER_BYTES = 7


def hls_options(
    output: OutputSettings, wall_ms: int, *, device_id: str | None = None, tag: str = ""
) -> HlsOptions:
    """Build the stream's options from the agent's output settings.

    Names are relative to the granted prefix (the uploader adds it). The default session
    is the start time to the millisecond followed by ``-{tag}`` when a tag is given (the
    agent gives a random one per start): a camera without a real-time clock boots to the
    same time every time, and only the tag keeps its recordings apart.

    Raises:
        ConfigError: a name pattern or a timing value is not acceptable.
    """
    if output.encrypt and device_id is None:
        raise ConfigError("encrypted HLS output needs the device id")
    session = output.session
    if session is None:
        seconds, millis = divmod(wall_ms, 1000)
        session = time.strftime("%Y%m%dT%H%M%S", time.gmtime(seconds)) + f"{millis:03d}Z"
        if tag:
            session += f"-{tag}"
    try:
        return HlsOptions(
            prefix="",
            stream=output.stream,
            session=session,
            segment_name=output.segment_name,
            playlist_name=output.playlist_name,
            mode=output.mode,
            target_duration_s=output.target_duration_s,
            list_size=output.list_size,
            frame_rate=output.frame_rate,
            max_pending_segments=output.max_pending_segments,
            audio_sample_rate=output.audio_sample_rate,
            encryption=EncryptionOptions(
                device_id=device_id,
                key_uri_template=output.key_uri_template,
                rotate_every_segments=output.rotate_every_segments,
            )
            if output.encrypt and device_id is not None
            else None,
        )
    except ValueError as exc:
        raise ConfigError(f"invalid [output] settings: {exc}") from None


def access_units(
    source: SourceSettings,
    output: OutputSettings,
    stdin: BinaryIO | None = None,
) -> tuple[Iterator[bytes], bool]:
    """Open the configured source as access units.

    Returns:
        The access units, and whether they should be paced at the frame rate (a file or
        the pattern would otherwise be read far faster than a camera records).

    Raises:
        ConfigError: the source cannot be used for HLS (a missing file, a directory).
    """
    if source.kind == "pattern":
        from device.agent.hls_pattern import PatternVideo

        gop = max(1, round(output.frame_rate * min(1.0, output.target_duration_s)))
        units: Iterator[bytes] = iter(PatternVideo(gop=gop))
        if source.duration_s is not None:
            units = _limit(units, round(source.duration_s * output.frame_rate))
        return units, True
    if source.kind == "stdin":
        return _split(stdin or sys.stdin.buffer), False
    if source.kind == "file" and source.path is not None:
        if not source.path.is_file():
            raise ConfigError(f"source file {source.path} does not exist")
        return _split_file(source), True
    raise ConfigError(f"source kind {source.kind!r} cannot feed HLS output")


def adts_frames(path: Path) -> Iterator[AdtsFrame]:
    """Read an ADTS file one frame at a time.

    Raises:
        ConfigError: the file does not exist.
        HlsInputError: a header is broken or the last frame is cut short.
    """
    if not path.is_file():
        raise ConfigError(f"audio file {path} does not exist")
    return _read_adts(path)


def _read_adts(path: Path) -> Iterator[AdtsFrame]:
    with path.open("rb") as fh:
        while header := fh.read(ADTS_HEADER_BYTES):
            length = (
                ((header[3] & 0x03) << 11) | (header[4] << 3) | (header[5] >> 5)
                if len(header) == ADTS_HEADER_BYTES
                else 0
            )
            rest = fh.read(max(0, length - len(header)))
            # split_adts checks the sync word, the header fields and the length.
            yield from split_adts(header + rest)


def _limit(units: Iterator[bytes], count: int) -> Iterator[bytes]:
    for _, unit in zip(range(count), units, strict=False):
        yield unit


def _split_file(source: SourceSettings) -> Iterator[bytes]:
    assert source.path is not None  # noqa: S101 - checked by the caller
    with source.path.open("rb") as fh:
        yield from _split(fh)


def _split(stream: BinaryIO) -> Iterator[bytes]:
    splitter = AccessUnitSplitter()
    read = getattr(stream, "read1", stream.read)
    while True:
        data = read(_READ_BYTES)
        if not data:
            break
        yield from splitter.feed(bytes(data))
    yield from splitter.finish()


class HlsRecorder:
    """Feeds the source's pictures into an HLS stream that writes into the spool.

    It has the recorder's surface (``run``, ``stats``, ``finished``), so the agent runs and
    reports it the same way.

    Args:
        units: the source's access units.
        paced: release pictures at the frame rate.
        audio: ADTS frames to interleave, each written once the pictures have reached its
            time (audio and video start together).
        options: the stream's options.
        spool: the camera's spool.
        clock: wall time for spool entries and session names; monotonic time for pacing.
        key_delivery: receives content keys when the options ask for encryption.
        sink_wrapper: wraps the spool sink (the fleet simulator logs segments with it).
        close_timeout_s: how long closing waits for room in a full spool.
        mark: the recording's source mark (``None``: it cannot resume).
        skip: steps queued before a restart (see :class:`~device.hls.SpoolSink`).
        resume_note: what was decided about resuming, for progress reports.
        source_changed: the recording's source changed under the camera since the committed
            mark (replaced, truncated or rewritten), so a new session began.
        crash: crash point hook (tests).
        name_session: gives the options to open the stream with, called when the recording
            starts (names the session by the clock as corrected by then); default:
            ``options`` as given.
    """

    def __init__(
        self,
        units: Iterator[bytes],
        *,
        paced: bool,
        options: HlsOptions,
        spool: Spool,
        audio: Iterator[AdtsFrame] | None = None,
        clock: Clock,
        key_delivery: KeyDelivery | None = None,
        sink_wrapper: Callable[[SegmentSink], SegmentSink] | None = None,
        close_timeout_s: float = 30.0,
        mark: SourceMark | None = None,
        skip: int = 0,
        resume_note: str = NEW,
        source_changed: bool = False,
        crash: CrashPoints = NO_CRASH,
        name_session: Callable[[threading.Event], HlsOptions] | None = None,
    ) -> None:
        self._spool_sink = SpoolSink(spool, clock, mark=mark, skip=skip, crash=crash)
        self._name_session = name_session
        self._resumable = mark is not None
        self.resume_note = resume_note
        self.source_changed = source_changed
        sink: SegmentSink = self._spool_sink
        if sink_wrapper is not None:
            sink = sink_wrapper(sink)
        self._units = units
        self._audio = audio
        self._audio_s = 0.0  # audio written so far, in seconds
        self._paced = paced
        self.options = options
        self._clock = clock
        self._close_timeout_s = close_timeout_s
        self.stream = HlsStream(sink, key_delivery=key_delivery, clock=clock)
        self.stats = RecorderStats()
        self.finished = threading.Event()
        self.refused_pictures = 0
        self.refused_audio_frames = 0
        self.bad_pictures = 0
        self.key_waits = 0

    def run(self, stop: threading.Event) -> None:
        """Record until the source ends or ``stop`` is set, then end the recording.

        With encryption, the recording starts once the first key is delivered (retried
        until then; the source is not read meanwhile).

        Raises:
            SourceError: the source cannot be read.
        """
        try:
            if not self._open(stop):
                return
            log.info("HLS recording %s -> %s", self.options.session, self.stream.playlist_key)
            read_to_end = False
            try:
                read_to_end = self._feed(stop)
            except OSError as exc:
                raise SourceError(f"recording source failed: {exc.strerror or exc}") from None
            finally:
                self._end(read_to_end)
        finally:
            self.stats.finished = True
            self.finished.set()

    def _end(self, read_to_end: bool) -> None:
        if self._resumable and not read_to_end:
            # Stopped before the end of a recording that resumes: the next start continues
            # the session after the last queued segment, so cut no short segment here and
            # do not end the playlist. Queue what is finished (waits only on a full spool).
            self.stream.flush()
            log.info("HLS recording %s stopped; a restart continues it", self.options.session)
            return
        # Cuts the last segment and ends the playlist; with the spool as sink this only
        # waits when the spool is full.
        if not self.stream.close(timeout_s=self._close_timeout_s):
            log.warning("HLS recording ended with segments not queued (spool full)")

    def _open(self, stop: threading.Event) -> bool:
        # With encryption, opening delivers the first key, which needs the MQTT link: at
        # boot it may not be up yet, so keep trying (with jittered delays) until it is.
        if self._name_session is not None:
            self.options = self._name_session(stop)
            self._spool_sink.name_session(self.options.session or "")
        backoff = Backoff(initial=0.5, maximum=10.0)
        while not stop.is_set():
            try:
                self.stream.open(self.options)
                return True
            except KeyDeliveryError as exc:
                self.key_waits += 1
                delay = backoff.next_delay()
                log.warning("HLS recording waits %.1f s for key delivery: %s", delay, exc)
                stop.wait(delay)
        return False

    def _feed(self, stop: threading.Event) -> bool:
        """Feed the source; return whether it was read to its end."""
        timing = PictureTiming(self.options.frame_rate, trust_stream_rate=not self._paced)
        start = self._clock.monotonic()
        for index, unit in enumerate(self._units):
            if stop.is_set():
                return False
            pts = timing.check(unit, index)
            interval = timing.interval_s
            if self._spool_sink.skipping:
                # Replaying what was queued before a restart: as fast as it muxes.
                start = self._clock.monotonic() - index * interval
            elif self._paced:
                delay = start + index * interval - self._clock.monotonic()
                if delay > 0 and stop.wait(delay):
                    return False
            if index == 0:
                self._spool_sink.recording_started(self._clock.wall_ms())
            self.stats.read_bytes += len(unit)
            try:
                self.stream.write(video=unit, pts=pts)
            except HlsBackpressureError:
                self.refused_pictures += 1
                if self.refused_pictures in (1, 10, 100) or self.refused_pictures % 1000 == 0:
                    log.warning("spool full: %d pictures refused so far", self.refused_pictures)
            except HlsInputError as exc:
                self.bad_pictures += 1
                log.warning("picture %d skipped: %s", index, exc.message)
            self._feed_audio(until_s=(index + 1) * timing.interval_s)
        return True

    def _feed_audio(self, until_s: float) -> None:
        # Audio is timed by sample count from the first picture on, so it is written as
        # soon as the pictures cover its start: players then find both in each segment.
        if self._audio is None:
            return
        rate = self.options.audio_sample_rate or 1
        while self._audio_s < until_s:
            try:
                frame = next(self._audio, None)
            except HlsInputError as exc:
                log.warning("audio ends early: %s", exc.message)
                frame = None
            if frame is None:
                self._audio = None
                return
            self._audio_s += frame.samples / rate
            try:
                self.stream.write(audio=frame.data)
            except HlsBackpressureError:
                self.refused_audio_frames += 1
            except HlsInputError as exc:
                log.warning("audio frame skipped: %s", exc.message)


def build_hls_recorder(
    settings: AgentSettings,
    spool: Spool,
    clock: Clock,
    *,
    stdin: BinaryIO | None = None,
    key_delivery: KeyDelivery | None = None,
    sink_wrapper: Callable[[SegmentSink], SegmentSink] | None = None,
    resume: SourceMark | None = None,
    crash: CrashPoints = NO_CRASH,
    session_clock: Clock | None = None,
    clock_settled: Callable[[float], bool] | None = None,
) -> HlsRecorder:
    """Build the HLS recorder from the agent's settings.

    With ``output.encrypt``, every segment is encrypted with AES-128 and each content key
    is handed to ``key_delivery`` before any segment encrypted with it is queued.

    Args:
        settings: the agent's settings.
        spool: the camera's spool.
        clock: wall time and pacing.
        stdin: stream for the ``stdin`` source.
        key_delivery: receives content keys (encrypted output).
        sink_wrapper: wraps the spool sink.
        resume: the newest committed source mark; the same recording continues after it.
        crash: crash point hook (tests).
        session_clock: names a new session (the clock with the adopted offset).
        clock_settled: waits, up to the time it is given, for the first credentials
            (which correct the clock); returns whether they came.

    A new session with a default name is named when the recording starts: after
    ``clock_settled`` returned (or the credential request timeout passed), by
    ``session_clock``, with a random tag so that boots at the same clock time never share
    a name.

    Raises:
        ConfigError: the output settings or the source do not fit HLS.
    """
    if settings.output.encrypt and key_delivery is None:
        raise ConfigError("encrypted HLS output needs a key delivery")
    here = _recording_mark(settings)
    decision = ResumeDecision(0, NEW if here is not None else "cannot resume: new session")
    output = settings.output
    if here is not None and resume is not None and resume.kind == here.kind:
        # The session is the mark's name: compare the rest of the identity.
        decision = resume_offset(
            resume, here.model_copy(update={"name": resume.name}), size=None,
            what=f"HLS recording of {settings.source.path}",
        )  # fmt: skip
        if not decision.changed:
            output = output.model_copy(update={"session": resume.name})
            decision = ResumeDecision(
                decision.offset, f"resumed session {resume.name} after step {decision.offset}"
            )
    options = hls_options(output, clock.wall_ms(), device_id=settings.device_id)
    mark = None if here is None else here.model_copy(update={"name": options.session})
    name_session = None
    if output.session is None:  # a new recording, named when it starts
        named_by = session_clock or clock
        wait_s = settings.credentials.request_timeout_s

        def name_session(stop: threading.Event) -> HlsOptions:
            deadline = clock.monotonic() + wait_s
            while clock_settled is not None and not stop.is_set():
                if clock_settled(min(0.5, max(0.0, deadline - clock.monotonic()))):
                    break
                if clock.monotonic() >= deadline:
                    log.info("HLS session named before the clock was confirmed")
                    break
            return hls_options(
                output, named_by.wall_ms(), device_id=settings.device_id, tag=secrets.token_hex(3)
            )

    units, paced = access_units(settings.source, settings.output, stdin)
    audio = None
    if settings.source.audio_path is not None:
        audio = adts_frames(settings.source.audio_path)
    return HlsRecorder(
        units,
        paced=paced,
        audio=audio,
        options=options,
        spool=spool,
        clock=clock,
        key_delivery=key_delivery,
        sink_wrapper=sink_wrapper,
        mark=mark,
        skip=decision.offset,
        resume_note=decision.note,
        source_changed=decision.changed,
        crash=crash,
        name_session=name_session,
    )


def _recording_mark(settings: AgentSettings) -> SourceMark | None:
    """The mark of a recording that can resume (an unencrypted file source), at step 0."""
    source, output = settings.source, settings.output
    if source.kind != "file" or source.path is None or output.encrypt:
        return None
    parts = [output.model_dump_json(exclude={"session"})]
    for path in (source.path, source.audio_path):
        if path is None:
            continue
        try:
            with path.open("rb") as fh:
                parts.append(file_identity(fh, os.fstat(fh.fileno())))
        except OSError:
            return None  # reported when the source is opened
    identity = hashlib.blake2b("|".join(parts).encode(), digest_size=20).hexdigest()
    return SourceMark(kind="hls-file", identity=identity, offset=0)
