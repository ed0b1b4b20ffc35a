"""``Uploader``: drains the spool, in order, into time-ordered appendable objects.

For each spooled chunk, oldest first:

1. roll over first if the chunk was recorded ``rollover_s`` or more after the current
   object started, or if appending it would take the object past ``max_object_bytes``;
2. append it exactly once at the journal's committed position (:mod:`device.appender`);
3. record the new position and CRC-64 and the chunk's sequence number in the journal
   (crash point ``upload.appended`` lies between 2 and 3);
4. remove the chunk from the spool (crash point ``upload.journaled`` lies before it).

A crash anywhere replays from the journal: a chunk whose append landed but was not yet
journaled is sent again at the old position, which OSS refuses, and the HEAD comparison
then finds it landed; a chunk journaled but not removed is skipped by sequence number.

Whole-object entries (HLS segments and playlists, :meth:`Spool.put_object`) take their turn
in the same order: the object is put under the granted prefix (repeating a put after a lost
answer stores the same bytes again), the journal records its sequence number, and the
entry leaves the spool. They do not touch the current appendable object. Because nothing
overtakes an entry that failed, a playlist queued after its segments is stored only once
every one of them is. An entry marked for it (a finished HLS playlist) is announced with a
signed ``segment.closed`` event once stored, like a closed appendable object; an entry
marked as opened (the first live version of an HLS playlist) with a signed
``segment.opened`` event, under the sequence number its ``segment.closed`` will carry.

The first append to a new object records a signed ``segment.opened`` event in the journal
(in the same atomic write as that append's position), so viewers can follow the object while
it grows. Closing an object records a signed ``segment.closed`` event in the journal (in the
same atomic write that forgets the object). Events stay there until the broker acknowledges
them, so an offline camera reports every segment once it is back.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from device.appender import Appender, AppendState
from device.backoff import Backoff
from device.clock import AdjustedClock
from device.crc64 import crc64
from device.errors import (
    AppendDiverged,
    DeviceError,
    DeviceRejected,
    ObjectExists,
    ObjectNotAppendable,
    ObjectTooLarge,
)
from device.naming import object_key
from device.putter import put_object
from device.settings import UploadSettings
from device.spool import (
    NO_CRASH,
    Chunk,
    CrashPoints,
    HeaderStore,
    Journal,
    JournalState,
    ObjectRecord,
    Spool,
    decode_object_put,
)
from device.spool.chunkfile import ChunkFormatError
from device.store import rewritable
from device.target import UploadTarget
from schemas.ids import new_event_id
from schemas.keys import DeviceKeys
from schemas.messages import encode
from schemas.protocol import sign_segment_closed, sign_segment_opened

__all__ = ["EventSink", "Uploader", "UploaderStats"]

log = logging.getLogger(__name__)


def _interruptible(stop: threading.Event) -> Callable[[float], None]:
    def sleep(seconds: float) -> None:
        stop.wait(seconds)

    return sleep


class _Ack(Protocol):
    def wait(self, timeout: float | None = None) -> bool: ...

    @property
    def acknowledged(self) -> bool: ...


class EventSink(Protocol):
    """Publishes ``segment.opened`` and ``segment.closed`` payloads (the MQTT link)."""

    def publish_event(self, payload: bytes) -> _Ack | None:
        """Queue one event; return a handle, or ``None`` when not connected."""
        ...


@dataclass
class UploaderStats:
    """In-memory figures since start (the journal keeps the durable ones)."""

    appended_chunks: int = 0
    appended_bytes: int = 0
    objects_put: int = 0
    put_bytes: int = 0
    skipped_chunks: int = 0
    outage_waits: int = 0
    last_error: str | None = None

    @property
    def stored_bytes(self) -> int:
        """Bytes appended plus bytes of whole objects put (HLS segments and playlists)."""
        return self.appended_bytes + self.put_bytes


class Uploader:
    """Move spooled chunks into objects.

    Args:
        device_id: this device.
        keys: signs ``segment.closed`` events.
        spool: the chunk queue.
        journal: the upload journal.
        target: store and prefix (with credentials).
        settings: rollover, size limit, retries, backoff.
        clock: the device clock (offset applied to key and event times).
        events: where closed-segment events go.
        crash: crash point hook (tests).
    """

    def __init__(
        self,
        *,
        device_id: str,
        keys: DeviceKeys,
        spool: Spool,
        journal: Journal,
        target: UploadTarget,
        settings: UploadSettings,
        clock: AdjustedClock,
        events: EventSink | None = None,
        crash: CrashPoints = NO_CRASH,
    ) -> None:
        self.device_id = device_id
        self._keys = keys
        self._spool = spool
        self._journal = journal
        self._target = target
        self._settings = settings
        self._clock = clock
        self._events = events
        self._crash = crash
        self._header = HeaderStore(spool.directory)
        self._stop = threading.Event()
        self._in_flight: dict[str, _Ack] = {}
        self.stats = UploaderStats()
        self.idle = threading.Event()

    # -- loop -----------------------------------------------------------------------

    def run(self, stop: threading.Event | None = None) -> None:
        """Upload until ``stop`` is set (or :meth:`stop` is called).

        Raises:
            DeviceRejected: the responder revoked this device; uploading cannot continue.
        """
        stop = stop or self._stop
        backoff = Backoff(
            initial=self._settings.outage_initial_s,
            maximum=max(self._settings.outage_max_s, self._settings.outage_initial_s),
        )
        while not stop.is_set() and not self._stop.is_set():
            try:
                if self.step(timeout=0.2, stop=stop):
                    backoff.reset()
            except DeviceRejected:
                raise
            except DeviceError as exc:
                self.stats.outage_waits += 1
                self.stats.last_error = str(exc)
                delay = backoff.next_delay()
                log.warning("upload paused %.1f s: %s", delay, exc)
                stop.wait(delay)

    def stop(self) -> None:
        """Ask :meth:`run` to return after the current step."""
        self._stop.set()

    def step(self, timeout: float = 0.0, stop: threading.Event | None = None) -> bool:
        """Do one unit of work: flush events, then upload one chunk or roll over when idle.

        Returns:
            Whether a chunk was uploaded or skipped.

        Raises:
            DeviceError: the store, the credentials or the spool failed; nothing was lost
                and the same step can be retried.
        """
        self._flush_events()
        chunk = self._spool.peek(timeout)
        if chunk is None:
            self.idle.set()
            self._roll_if_idle()
            return False
        self.idle.clear()
        state = self._journal.state
        if chunk.seq <= state.last_chunk_seq:
            self._spool.ack(chunk.seq)  # its bytes were journaled before a crash
            self.stats.skipped_chunks += 1
            return True
        if chunk.whole_object:
            self._put(chunk, stop or self._stop)
        elif chunk.init_segment:
            self._take_header(chunk)
        else:
            self._upload(chunk, stop or self._stop)
        return True

    # -- whole objects --------------------------------------------------------------

    def _put(self, chunk: Chunk, stop: threading.Event) -> None:
        try:
            entry = decode_object_put(chunk.data)
        except ChunkFormatError as exc:
            # Its CRC checked out, so the writer made it this way: it can never be sent.
            log.error("spool entry %d is not a valid object put (%s); skipped", chunk.seq, exc)
            self._spool.ack(chunk.seq)
            self.stats.skipped_chunks += 1
            return
        store, prefix = self._target.open()
        key = prefix + entry.name
        self._crash.reached("upload.putting")
        try:
            put_object(
                store,
                key,
                entry.data,
                entry.content_type,
                retry=self._settings.retry,
                sleep=_interruptible(stop),
                refresh_credentials=self._target.refresh_after_auth_error,
                forbid_overwrite=not rewritable(entry.content_type),
            )
        except ObjectExists:
            # Another object holds the name (camera credentials never replace one): this
            # entry can never be stored there, and waiting would hold up everything after it.
            log.error("%s already holds another object; spool entry %d not stored", key, chunk.seq)
            self._spool.ack(chunk.seq)
            self.stats.skipped_chunks += 1
            return
        self._crash.reached("upload.put")
        state = self._journal.state
        counters = state.counters.model_copy(
            update={
                "uploaded_bytes": state.counters.uploaded_bytes + len(entry.data),
                "uploaded_chunks": state.counters.uploaded_chunks + 1,
                "objects_put": state.counters.objects_put + 1,
                "last_upload_ms": self._clock.wall_ms(),
            }
        )
        update: dict[str, object] = {"last_chunk_seq": chunk.seq, "counters": counters}
        if chunk.mark is not None:
            update["source"] = chunk.mark
        if entry.report is not None:
            # Recorded in the same atomic journal write as the put itself, so the event
            # is neither lost nor made twice by a crash (the put may be repeated).
            seq = state.next_object_seq
            event = sign_segment_closed(
                self._keys,
                device_id=self.device_id,
                event_id=new_event_id(),
                seq=seq,
                key=key,
                bytes=len(entry.data),
                crc64=crc64(entry.data),
                start_ms=entry.report.start_ms + self._clock.offset_ms,
                end_ms=entry.report.end_ms + self._clock.offset_ms,
            )
            update["pending_events"] = (*state.pending_events, encode(event).decode())
            update["next_object_seq"] = seq + 1
            update["counters"] = counters.model_copy(
                update={"objects_closed": counters.objects_closed + 1}
            )
            log.info("stored %s; reported closed", key)
        elif entry.opened_ms is not None:
            # Same atomic write as above. The sequence number is the one the playlist's
            # segment.closed takes later (next_object_seq moves on only then), so a camera
            # restarted into the same session announces the same object again, never a new one.
            opened = sign_segment_opened(
                self._keys,
                device_id=self.device_id,
                event_id=new_event_id(),
                seq=state.next_object_seq,
                key=key,
                start_ms=entry.opened_ms + self._clock.offset_ms,
            )
            update["pending_events"] = (*state.pending_events, encode(opened).decode())
            log.info("stored %s; reported opened", key)
        self._journal.commit(state.model_copy(update=update))
        self._crash.reached("upload.journaled")
        self._spool.ack(chunk.seq)
        if entry.opened_ms is not None:
            self._flush_events()  # viewers learn of the recording now
        self.stats.objects_put += 1
        self.stats.put_bytes += len(entry.data)
        log.debug("stored %s (%d bytes, %s)", key, len(entry.data), entry.content_type)

    # -- initialisation segments ----------------------------------------------------

    def _take_header(self, chunk: Chunk) -> None:
        state = self._journal.state
        if chunk.data != self._header.data:
            current = state.current
            if current is not None and current.position > 0:
                # The object so far was made for the old one; later media goes elsewhere.
                state = self._close(state, "new initialisation segment")
            self._header.replace(chunk.data)
            log.info("initialisation segment of %d bytes for new objects", chunk.size)
        self._journal.commit(state.model_copy(update={"last_chunk_seq": chunk.seq}))
        self._spool.ack(chunk.seq)

    # -- uploading ------------------------------------------------------------------

    def _upload(self, chunk: Chunk, stop: threading.Event) -> None:
        store, prefix = self._target.open()
        chunk_ms = chunk.wall_ms + self._clock.offset_ms
        state = self._journal.state
        current = state.current
        if current is not None and self._must_roll(current, chunk, chunk_ms):
            state = self._close(state, "rollover")
            current = None
        if current is None:
            state = self._open(state, prefix, chunk_ms)
            current = state.current
            if current is None:  # pragma: no cover - _open always sets it
                raise DeviceError("no current object after opening one")
        appender = Appender(
            store,
            current.key,
            AppendState(current.position, current.crc64),
            retry=self._settings.retry,
            sleep=_interruptible(stop),
            refresh_credentials=self._target.refresh_after_auth_error,
        )
        data, data_crc = chunk.data, chunk.crc64
        header = self._header.data
        if current.position == 0 and header:
            # Every object starts with the initialisation segment, so each plays alone. A
            # repeat after a crash sends the same bytes: the header changes only with a
            # later chunk.
            data = header + data
            data_crc = crc64(data)
        self._crash.reached("upload.appending")
        try:
            after = appender.append(data, data_crc)
        except (AppendDiverged, ObjectNotAppendable) as exc:
            # The chunk stays queued; the next step puts it in a new object (a new key, so
            # this cannot repeat forever).
            log.error("object %s cannot be continued (%s); starting a new one", current.key, exc)
            self._abandon(state)
            return
        except ObjectTooLarge as exc:
            if current.position == 0:
                raise  # even an empty object cannot take this chunk
            log.warning("store refused to grow %s (%s); rolling over", current.key, exc)
            self._close(state, "size limit")
            return
        self._crash.reached("upload.appended")
        now_ms = self._clock.wall_ms()
        record = current.model_copy(
            update={
                "position": after.position,
                "crc64": after.crc64,
                "end_ms": max(current.end_ms, chunk_ms),
                "chunks": current.chunks + 1,
            }
        )
        counters = state.counters.model_copy(
            update={
                "uploaded_bytes": state.counters.uploaded_bytes + len(data),
                "uploaded_chunks": state.counters.uploaded_chunks + 1,
                "last_upload_ms": now_ms,
            }
        )
        update: dict[str, object] = {
            "current": record,
            "last_chunk_seq": chunk.seq,
            "counters": counters,
        }
        if chunk.mark is not None:
            update["source"] = chunk.mark  # the position outlives the chunk's removal
        if current.position == 0:
            # The object now exists: announce it in the same journal write, so a crash can
            # neither lose the announcement nor make a second one for this object.
            opened = sign_segment_opened(
                self._keys,
                device_id=self.device_id,
                event_id=new_event_id(),
                seq=current.seq,
                key=current.key,
                start_ms=current.start_ms,
            )
            update["pending_events"] = (*state.pending_events, encode(opened).decode())
        self._journal.commit(state.model_copy(update=update))
        self._crash.reached("upload.journaled")
        self._spool.ack(chunk.seq)
        if current.position == 0:
            self._flush_events()  # viewers learn of the object now, not after the next chunk
        self.stats.appended_chunks += 1
        self.stats.appended_bytes += len(data)

    def _must_roll(self, current: ObjectRecord, chunk: Chunk, chunk_ms: int) -> bool:
        if current.position == 0:
            return False
        if self._header.data and not chunk.segment_start:
            return False  # fragmented MP4: an object must not begin inside a fragment
        if chunk_ms - current.start_ms >= self._settings.rollover_s * 1000:
            return True
        return current.position + chunk.size > self._settings.max_object_bytes

    def _roll_if_idle(self) -> None:
        state = self._journal.state
        current = state.current
        if current is None or current.position == 0:
            return
        if self._clock.wall_ms() - current.start_ms >= self._settings.rollover_s * 1000:
            self._close(state, "rollover while idle")

    def _open(self, state: JournalState, prefix: str, start_ms: int) -> JournalState:
        seq = state.next_object_seq
        record = ObjectRecord(
            key=object_key(prefix, start_ms, seq, self._settings.key_suffix),
            seq=seq,
            start_ms=start_ms,
            end_ms=start_ms,
        )
        new_state = state.model_copy(update={"current": record, "next_object_seq": seq + 1})
        self._journal.commit(new_state)
        log.info("new object %s", record.key)
        return new_state

    def _close(self, state: JournalState, reason: str) -> JournalState:
        current = state.current
        if current is None:
            return state
        events = state.pending_events
        counters = state.counters
        if current.position > 0:
            event = sign_segment_closed(
                self._keys,
                device_id=self.device_id,
                event_id=new_event_id(),
                seq=current.seq,
                key=current.key,
                bytes=current.position,
                crc64=current.crc64,
                start_ms=current.start_ms,
                end_ms=max(current.end_ms, current.start_ms),
            )
            events = (*events, encode(event).decode())
            counters = counters.model_copy(update={"objects_closed": counters.objects_closed + 1})
            log.info(
                "closed %s (%s): %d bytes, crc64 %d",
                current.key,
                reason,
                current.position,
                current.crc64,
            )
        new_state = state.model_copy(
            update={"current": None, "pending_events": events, "counters": counters}
        )
        self._journal.commit(new_state)
        return new_state

    def _abandon(self, state: JournalState) -> None:
        counters = state.counters.model_copy(
            update={"diverged_objects": state.counters.diverged_objects + 1}
        )
        self._journal.commit(state.model_copy(update={"current": None, "counters": counters}))

    def close_current(self) -> None:
        """Close the current object now (end of recording); its event is queued."""
        self._close(self._journal.state, "end of recording")
        self._flush_events()

    # -- events ---------------------------------------------------------------------

    def _flush_events(self) -> None:
        if self._events is None:
            return
        state = self._journal.state
        if not state.pending_events:
            return
        done = [p for p in state.pending_events if self._acknowledged(p)]
        if done:
            remaining = tuple(p for p in state.pending_events if p not in done)
            self._journal.commit(state.model_copy(update={"pending_events": remaining}))
            for payload in done:
                self._in_flight.pop(payload, None)
            state = self._journal.state
        for payload in state.pending_events:
            if payload not in self._in_flight:
                handle = self._events.publish_event(payload.encode())
                if handle is None:
                    return
                self._in_flight[payload] = handle

    def _acknowledged(self, payload: str) -> bool:
        handle = self._in_flight.get(payload)
        return handle is not None and handle.acknowledged

    def pending_events(self) -> int:
        """Segment events not yet acknowledged by the broker."""
        return len(self._journal.state.pending_events)

    def wait_events(self, timeout: float, clock: Callable[[], float]) -> bool:
        """Flush events until none is pending or ``timeout`` passes; return whether done."""
        deadline = clock() + timeout
        while self.pending_events() and clock() < deadline:
            self._flush_events()
            handles = list(self._in_flight.values())
            if handles:
                handles[0].wait(min(0.2, max(0.0, deadline - clock())))
            else:
                self._stop.wait(0.05)
        return self.pending_events() == 0
