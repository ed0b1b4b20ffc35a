"""``Agent``: the camera agent wired together.

Threads: the MQTT loop (one link), the recorder (source to spool), the uploader (spool to
OSS) and the caller's thread, which publishes the retained ``status`` and progress lines
and decides when to stop. Everything is built from one :class:`~device.settings.AgentSettings`.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from device.clock import AdjustedClock, Clock, SystemClock
from device.credentials import CredentialClient
from device.errors import ConfigError, DeviceError, DeviceRejected, SpoolError
from device.mqtt import MqttLink, Publication, SelectorLoop
from device.recorder import (
    DirectorySource,
    FileSource,
    PatternSource,
    Recorder,
    Source,
    StreamSource,
)
from device.resume import Resumable, newest_mark
from device.settings import AgentSettings, SourceSettings
from device.spool import NO_CRASH, CrashPoints, Journal, SourceMark, Spool
from device.spool.sizing import plan_capacity
from device.target import GrantTarget
from device.uploader import Uploader
from schemas.errors import SchemaError
from schemas.events import StatusState
from schemas.keys import DeviceKeys
from schemas.topics import Topics

from .status import StatusReporter

if TYPE_CHECKING:  # device.hls is imported only when the HLS output is configured
    from device.hls import KeyDelivery, SegmentSink

    from .hls_mode import HlsRecorder

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_REJECTED", "Agent", "Progress", "make_source"]

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_REJECTED = 3
PROMPT_STATUS_S = 5.0
"""Least time between two statuses sent early because a landmark figure changed."""


@dataclass(frozen=True)
class Progress:
    """One progress report."""

    recorded_bytes: int
    spool_bytes: int
    spool_chunks: int
    uploaded_bytes: int
    dropped_bytes: int
    current_key: str | None
    position: int
    connected: bool
    cred_expires_in_s: float | None
    alerts: tuple[str, ...] = ()
    source_note: str = ""

    def line(self) -> str:
        """A one-line human summary."""
        expiry = "-" if self.cred_expires_in_s is None else f"{self.cred_expires_in_s:.0f}s"
        return (
            f"recorded {self.recorded_bytes / 1e6:.1f} MB | spool {self.spool_bytes / 1e6:.1f} MB "
            f"({self.spool_chunks} chunks) | uploaded {self.uploaded_bytes / 1e6:.1f} MB | "
            f"dropped {self.dropped_bytes / 1e6:.1f} MB | "
            f"{self.current_key or '-'}@{self.position} | "
            f"mqtt {'up' if self.connected else 'down'} | creds {expiry}"
            + (f" | source {self.source_note}" if self.source_note else "")
            + "".join(f" | ALERT {alert}" for alert in self.alerts)
        )


def make_source(
    settings: SourceSettings,
    clock: Clock,
    stdin: BinaryIO | None = None,
    *,
    resume: SourceMark | None = None,
) -> Source:
    """Build the configured recording source.

    Args:
        settings: the ``[source]`` settings.
        clock: paces the source.
        stdin: stream for the ``stdin`` source.
        resume: the newest committed source mark; a file, directory or pattern source that
            is still the same one continues after it (``stdin`` always starts afresh).

    Raises:
        ConfigError: the source's file or directory does not exist.
    """
    if settings.kind == "pattern":
        return PatternSource(
            clock,
            bitrate_bps=settings.bitrate_bps,
            duration_s=settings.duration_s,
            seed=settings.seed,
            resume=resume,
        )
    if settings.kind == "stdin":
        return StreamSource(stdin or sys.stdin.buffer, clock, settings.bitrate_bps)
    path = settings.path
    if path is None:  # pragma: no cover - the settings validator requires it
        raise ConfigError(f"source {settings.kind} needs a path")
    if settings.kind == "file":
        if not path.is_file():
            raise ConfigError(f"source file {path} does not exist")
        return FileSource(path, clock, settings.bitrate_bps, resume=resume)
    if not path.is_dir():
        raise ConfigError(f"source directory {path} does not exist")
    return DirectorySource(path, clock, settle_s=settings.settle_s, resume=resume)


def _resume_note(source: object) -> str:
    return source.resume_note if isinstance(source, Resumable) else ""


def _source_changed(source: object) -> bool:
    return isinstance(source, Resumable) and source.source_changed


def _mqtt_key_delivery(agent: Agent) -> KeyDelivery:
    from device.hls.delivery import MqttKeyDelivery

    return MqttKeyDelivery(
        agent.link,
        device_id=agent.device_id,
        keys=agent.keys,
        topics=agent.topics,
        clock=agent.clock,
    )


class Agent:
    """The camera agent.

    Args:
        settings: the whole configuration.
        clock: base clock (the agent adds the adopted offset on top).
        crash: crash point hook for the spool, journal and uploader (tests).
        loop: run the MQTT link on this loop instead of a thread of its own.
        source: the recording source (default: built from ``settings.source``); append
            output only.
        stdin: stream for the ``stdin`` source.
        key_delivery: builds the content-key delivery of encrypted HLS output
            (``[output] encrypt = true``) from the agent; default: ``hls.key`` events over
            the agent's MQTT link (:class:`device.hls.delivery.MqttKeyDelivery`).
        hls_sink: wraps the spool sink of the HLS output (to observe what is produced).

    Raises:
        ConfigError: the secret or the source is invalid.
        SpoolError: the spool directory cannot be used.
    """

    def __init__(
        self,
        settings: AgentSettings,
        *,
        clock: Clock | None = None,
        crash: CrashPoints = NO_CRASH,
        loop: SelectorLoop | None = None,
        source: Source | None = None,
        stdin: BinaryIO | None = None,
        key_delivery: Callable[[Agent], KeyDelivery] | None = None,
        hls_sink: Callable[[SegmentSink], SegmentSink] | None = None,
    ) -> None:
        self.settings = settings
        self.device_id = settings.device_id
        self.clock = AdjustedClock(clock or SystemClock())
        try:
            self.keys = DeviceKeys.from_secret(settings.secret.get_secret_value())
        except SchemaError:
            raise ConfigError("device secret is not a 32-byte base64url value") from None
        self.topics = Topics(settings.topic_prefix)
        spool_dir = settings.spool.dir
        if settings.spool.must_exist and not spool_dir.is_dir():
            # Not a configuration error (exit 1, not 2): the storage may be mounted later.
            raise SpoolError(
                f"spool directory {spool_dir} does not exist and [spool] must_exist is set"
                " (is its storage mounted?)"
            )
        self.journal = Journal(spool_dir, crash=crash)
        self.spool = Spool(
            spool_dir,
            max_bytes=settings.spool.max_bytes,
            policy=settings.spool.policy,
            crash=crash,
            done_through=self.journal.state.last_chunk_seq,
        )
        self.spool.max_bytes = plan_capacity(
            spool_dir,
            max_bytes=settings.spool.max_bytes,
            queued=self.spool.stats().bytes,
            free_fraction=settings.spool.max_free_fraction,
        )
        # Where the recording stands: the newest mark still queued, else the last stored one.
        self._crash = crash
        self.resume_mark = newest_mark(self.spool.recovered_mark, self.journal.state.source)
        self._stop = threading.Event()
        self.link = MqttLink(
            settings.broker,
            client_id=settings.broker.client_id or self.device_id,
            subscriptions=[self.topics.creds_res(self.device_id)],
            on_message=self._on_message,
            on_connect=self._on_connect,
            will=self._will,
            loop=loop,
        )
        self.credentials = CredentialClient(
            device_id=self.device_id,
            keys=self.keys,
            topics=self.topics,
            bus=self.link,
            clock=self.clock,
            settings=settings.credentials,
        )
        self.target = GrantTarget(
            self.credentials,
            timeout_s=settings.upload.retry.request_timeout_s,
            client=settings.oss.client,
        )
        self.reporter = StatusReporter(
            device_id=self.device_id,
            keys=self.keys,
            clock=self.clock,
            spool=self.spool,
            journal=self.journal,
            target=self.target,
            credentials_refused=lambda: self.credentials.refused,
            source_changed=lambda: _source_changed(self.source or self.recorder),
        )
        self.uploader = Uploader(
            device_id=self.device_id,
            keys=self.keys,
            spool=self.spool,
            journal=self.journal,
            target=self.target,
            settings=settings.upload,
            clock=self.clock,
            events=self,
            crash=crash,
        )
        # Chunks carry the unadjusted time; the uploader adds the offset in force when it
        # names objects, so chunks spooled before a clock_skew correction are named right too.
        self.recorder: Recorder | HlsRecorder
        self.source: Source | None = None
        if settings.output.format == "hls":
            self.recorder = self._hls_recorder(stdin, key_delivery, hls_sink)
        else:
            self.source = source or make_source(
                settings.source, self.clock, stdin, resume=self.resume_mark
            )
            self.recorder = Recorder(
                self.source,
                self.spool,
                self.clock.base,
                chunk_bytes=settings.spool.chunk_bytes,
                chunk_max_age_s=settings.spool.chunk_max_age_s,
                crash=crash,
            )
        self._threads: list[threading.Thread] = []
        self._failure: DeviceError | None = None
        self._uploader_stop = threading.Event()

    def _hls_recorder(
        self,
        stdin: BinaryIO | None,
        key_delivery: Callable[[Agent], KeyDelivery] | None,
        hls_sink: Callable[[SegmentSink], SegmentSink] | None,
    ) -> HlsRecorder:
        from .hls_mode import build_hls_recorder

        delivery = None
        if self.settings.output.encrypt:
            delivery = (key_delivery or _mqtt_key_delivery)(self)
        return build_hls_recorder(
            self.settings,
            self.spool,
            self.clock.base,
            stdin=stdin,
            key_delivery=delivery,
            sink_wrapper=hls_sink,
            session_clock=self.clock,
            clock_settled=self._credentials_ready,
            resume=self.resume_mark,
            crash=self._crash,
        )

    def _credentials_ready(self, timeout: float) -> bool:
        # Asking for credentials corrects the clock (a signed clock_skew reply comes first).
        try:
            self.credentials.get(timeout)
        except DeviceError:
            return False
        return True

    # -- MQTT glue (loop thread) ------------------------------------------------------

    def _on_message(self, topic: str, payload: bytes) -> None:
        if topic == self.topics.creds_res(self.device_id):
            self.credentials.handle_message(topic, payload)

    def _on_connect(self) -> None:
        self.publish_status()

    def _will(self) -> tuple[str, bytes]:
        return self.topics.status(self.device_id), self.reporter.will()

    def publish_event(self, payload: bytes) -> Publication | None:
        """Publish a ``segment.closed`` payload; ``None`` while the link is down."""
        if not self.link.is_connected():
            return None
        return self.link.publish(self.topics.events(self.device_id), payload, qos=1)

    def publish_status(self, state: StatusState = StatusState.ONLINE) -> Publication | None:
        """Publish the retained status now; ``None`` while the link is down."""
        if not self.link.is_connected():
            return None
        return self.link.publish(
            self.topics.status(self.device_id), self.reporter.signed(state), qos=1, retain=True
        )

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        """Start the link, the recorder and the uploader (returns at once)."""
        self.link.start()
        self._spawn("recorder", self._run_recorder)
        self._spawn("uploader", self._run_uploader)

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=f"{name}-{self.device_id}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _run_recorder(self) -> None:
        try:
            self.recorder.run(self._stop)
        except DeviceError as exc:
            log.error("recorder failed: %s", exc)
            self._failure = exc
            self._stop.set()

    def _run_uploader(self) -> None:
        try:
            self.uploader.run(self._uploader_stop)
        except DeviceRejected as exc:
            log.error("%s", exc)
            self._failure = exc
            self._stop.set()
        except DeviceError as exc:  # pragma: no cover - run() handles the others
            log.error("uploader failed: %s", exc)
            self._failure = exc
            self._stop.set()

    def stop(self) -> None:
        """Ask :meth:`run` to shut down (from any thread or a signal handler)."""
        self._stop.set()

    def progress(self) -> Progress:
        """Return a progress snapshot."""
        stats = self.spool.stats()
        state = self.journal.state
        figures = self.reporter.figures()
        lease = self.credentials.current
        expires = None
        if lease is not None:
            expires = lease.expires_mono - self.clock.monotonic()
        return Progress(
            recorded_bytes=self.recorder.stats.read_bytes,
            spool_bytes=stats.bytes,
            spool_chunks=stats.chunks,
            uploaded_bytes=figures.uploaded_bytes,
            dropped_bytes=figures.dropped_bytes,
            current_key=state.current.key if state.current else None,
            position=state.current.position if state.current else 0,
            connected=self.link.is_connected(),
            cred_expires_in_s=expires,
            alerts=tuple(alert.value for alert in figures.alerts),
            source_note=_resume_note(self.source or self.recorder),
        )

    def drained(self) -> bool:
        """Whether the source ended and every recorded byte is in the store."""
        return (
            self.recorder.finished.is_set()
            and self.spool.stats().chunks == 0
            and self.uploader.idle.is_set()
        )

    def run(
        self,
        *,
        until_drained: bool = False,
        progress: Callable[[Progress], None] | None = None,
        progress_interval_s: float = 10.0,
        event_timeout_s: float = 10.0,
        heartbeat: Callable[[], None] | None = None,
    ) -> int:
        """Start (if needed) and run until stopped, or until drained when asked.

        Args:
            until_drained: return once the source has ended and everything is uploaded;
                the last object is then closed and its event published.
            progress: called with a progress snapshot every ``progress_interval_s``.
            progress_interval_s: progress period.
            event_timeout_s: how long to wait for the last events' acknowledgement.
            heartbeat: called on every turn of the main loop (the service watchdog's
                keep-alive, :class:`~device.agent.notify.ServiceNotifier`).

        Returns:
            An exit code: 0 done, 3 the device was revoked, 1 another failure.
        """
        if not self._threads:
            self.start()
        status_every = self.settings.upload.status_interval_s
        next_status = self.clock.monotonic() + status_every
        # A change of a landmark figure (first upload, new credentials, backlog, loss) sends
        # a status early, at most every PROMPT_STATUS_S, instead of at the next interval.
        landmarks = self.reporter.landmarks()
        prompt_after = self.clock.monotonic()
        next_progress = self.clock.monotonic() + progress_interval_s
        drained = False
        try:
            while not self._stop.is_set():
                if until_drained and self.drained():
                    drained = True
                    break
                self._stop.wait(0.1)
                if heartbeat is not None:
                    heartbeat()
                now = self.clock.monotonic()
                if now >= prompt_after:
                    prompt_after = now + 1.0
                    if (seen := self.reporter.landmarks()) != landmarks:
                        landmarks = seen
                        next_status = now  # published just below
                if now >= next_status and self.publish_status() is not None:
                    next_status = now + status_every
                    prompt_after = now + PROMPT_STATUS_S
                if progress is not None and now >= next_progress:
                    next_progress = now + progress_interval_s
                    progress(self.progress())
        finally:
            self._shutdown(drained=drained, event_timeout_s=event_timeout_s)
        if progress is not None:
            progress(self.progress())
        if isinstance(self._failure, DeviceRejected):
            return EXIT_REJECTED
        return EXIT_FAILED if self._failure is not None else EXIT_OK

    def _shutdown(self, *, drained: bool, event_timeout_s: float) -> None:
        self._stop.set()
        recorder, uploader = self._threads[0], self._threads[1]
        recorder.join(30)  # the recorder spools what it has buffered before it returns
        self._uploader_stop.set()
        if not drained:
            self.credentials.close()  # cut short a credential wait the uploader may be in
        uploader.join(60)
        if drained and self._failure is None:
            try:
                self.uploader.close_current()
                self.uploader.wait_events(event_timeout_s, self.clock.monotonic)
            except DeviceError as exc:
                log.warning("could not close the last object: %s", exc)
        offline = self.publish_status(StatusState.OFFLINE)
        if offline is not None:
            offline.wait(2.0)
        self.credentials.close()
        self.link.stop()
        self.spool.close()
