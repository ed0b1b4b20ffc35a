"""Ingest: turns camera messages from MQTT into ledger entries.

Each message is checked before anything is stored: the topic must be a protocol v1
``events`` or ``status`` topic, the payload must parse, the device in the body must be the
device in the topic, the device must be provisioned and active, and the signature must
verify with that device's signing key. A ``segment.closed`` object key must lie under the
device's own prefix, and so must a ``segment.opened`` one, which starts following a
recording in progress (:class:`~cloud.console.live.LiveStore`). An ``hls.key`` must also open with the device's sealing key; the
content key inside is kept sealed at rest (:class:`~cloud.console.content_keys.ContentKeys`).
Duplicates change nothing (see :class:`~cloud.console.ledger.Ledger`).

The one unsigned message is a camera's last will: a ``status`` with state ``offline``
that the broker publishes when the camera drops off. It is accepted only as "this camera
is offline" and changes no other field; who may publish on a camera's topics is the
broker's access control (one account per camera, see ``deploy/mosquitto``).
"""

from __future__ import annotations

import enum
import logging
import threading
from collections import Counter
from collections.abc import Callable

from cloud.console.content_keys import ContentKeyError, ContentKeys
from cloud.console.devices import DeviceAdmin
from cloud.console.errors import RejectedMessageError
from cloud.console.ledger import Ledger, SegmentFacts, StatusFacts
from cloud.console.live import LiveStore, OpenedFacts
from cloud.console.settings import OssSettings
from schemas import (
    Channel,
    DeviceKeys,
    HlsKey,
    InvalidMessage,
    SchemaError,
    SealError,
    SegmentClosed,
    SegmentOpened,
    Status,
    StatusState,
    Topics,
    open_hls_key,
    parse_event,
    parse_status,
    verify_hls_key,
    verify_segment_closed,
    verify_segment_opened,
    verify_status,
)

__all__ = ["Ingestor", "Outcome"]

log = logging.getLogger(__name__)


class Outcome(enum.StrEnum):
    """What happened to an accepted message."""

    STORED = "stored"
    DUPLICATE = "duplicate"
    STALE = "stale"  # a status older than the one on file
    OFFLINE = "offline"  # a last will


class Ingestor:
    """Checks and stores camera messages.

    Args:
        ledger: where recordings and statuses go.
        devices: signing-key lookup.
        oss: bucket layout (each device's key prefix).
        topics: topic names under the configured prefix.
        content_keys: where HLS content keys go.
        live: where recordings in progress go.
        clock: wall clock in seconds.
    """

    def __init__(
        self,
        ledger: Ledger,
        devices: DeviceAdmin,
        oss: OssSettings,
        topics: Topics,
        *,
        content_keys: ContentKeys,
        live: LiveStore,
        clock: Callable[[], float],
    ) -> None:
        self._ledger = ledger
        self._live = live
        self._content_keys = content_keys
        self._devices = devices
        self._oss = oss
        self._topics = topics
        self._clock = clock
        self._counts: Counter[str] = Counter()
        self._counts_lock = threading.Lock()

    def counts(self) -> dict[str, int]:
        """Messages seen so far, by outcome or rejection reason."""
        with self._counts_lock:
            return dict(self._counts)

    def _count(self, what: str) -> None:
        with self._counts_lock:
            self._counts[what] += 1

    def handle(self, topic: str, payload: bytes) -> Outcome:
        """Check one message and store it.

        Args:
            topic: the topic it arrived on.
            payload: its raw bytes.

        Returns:
            What happened.

        Raises:
            RejectedMessageError: the message was not stored; ``reason`` says why.
            ProvisioningError: the registry could not be read (the message may be retried).
        """
        try:
            outcome = self._handle(topic, payload)
        except RejectedMessageError as exc:
            self._count(f"rejected:{exc.reason}")
            raise
        self._count(outcome.value)
        return outcome

    def _handle(self, topic: str, payload: bytes) -> Outcome:
        try:
            device_id, channel = self._topics.parse(topic)
        except SchemaError:
            raise RejectedMessageError(topic, "bad_topic") from None
        if channel is Channel.EVENTS:
            return self._event(topic, str(device_id), payload)
        if channel is Channel.STATUS:
            return self._status(topic, str(device_id), payload)
        raise RejectedMessageError(topic, "bad_topic", "not an events or status topic")

    def _keys(self, topic: str, device_id: str) -> DeviceKeys:
        found = self._devices.signing_key(device_id)
        if found is None:
            raise RejectedMessageError(topic, "unknown_device")
        if not found.active:
            raise RejectedMessageError(topic, "revoked")
        return found.keys

    def _event(self, topic: str, device_id: str, payload: bytes) -> Outcome:
        try:
            event = parse_event(payload)
        except SchemaError as exc:
            raise RejectedMessageError(topic, "malformed", _reason(exc)) from None
        if event.device_id != device_id:
            raise RejectedMessageError(topic, "topic_mismatch")
        if isinstance(event, HlsKey):
            return self._content_key(topic, device_id, event)
        if isinstance(event, SegmentOpened):
            return self._opened(topic, device_id, event)
        return self._segment(topic, device_id, event)

    def _opened(self, topic: str, device_id: str, event: SegmentOpened) -> Outcome:
        if not verify_segment_opened(self._keys(topic, device_id), event):
            raise RejectedMessageError(topic, "bad_signature")
        if not event.key.startswith(self._oss.device_prefix(device_id)):
            raise RejectedMessageError(topic, "bad_key", "object key outside the device prefix")
        facts = OpenedFacts(
            event_id=event.event_id,
            device_id=device_id,
            seq=event.seq,
            object_key=event.key,
            start_ms=event.start_ms,
        )
        stored = self._live.record_opened(facts, now_ms=self._now_ms())
        return Outcome.STORED if stored else Outcome.DUPLICATE

    def _content_key(self, topic: str, device_id: str, event: HlsKey) -> Outcome:
        keys = self._keys(topic, device_id)
        if not verify_hls_key(keys, event):
            raise RejectedMessageError(topic, "bad_signature")
        try:
            key = open_hls_key(keys, event)
        except SealError:
            # Signed by the device but sealed wrongly: a camera bug, never a key to keep.
            raise RejectedMessageError(topic, "bad_seal") from None
        try:
            stored = self._content_keys.put(
                device_id, event.key_id, key, created_ms=event.created_ms, now_ms=self._now_ms()
            )
        except ContentKeyError:
            raise RejectedMessageError(topic, "key_conflict", f"key id {event.key_id}") from None
        return Outcome.STORED if stored else Outcome.DUPLICATE

    def _segment(self, topic: str, device_id: str, event: SegmentClosed) -> Outcome:
        if not verify_segment_closed(self._keys(topic, device_id), event):
            raise RejectedMessageError(topic, "bad_signature")
        if not event.key.startswith(self._oss.device_prefix(device_id)):
            # A camera's credentials only reach its own prefix; anything else is a lie.
            raise RejectedMessageError(topic, "bad_key", "object key outside the device prefix")
        if event.start_ms > event.end_ms:
            raise RejectedMessageError(topic, "malformed", "start_ms is after end_ms")
        facts = SegmentFacts(
            event_id=event.event_id,
            device_id=device_id,
            seq=event.seq,
            object_key=event.key,
            size=event.bytes,
            crc64=event.crc64,
            start_ms=event.start_ms,
            end_ms=event.end_ms,
        )
        stored = self._ledger.record_segment(facts, now_ms=self._now_ms())
        self._live.mark_closed(device_id, event.seq)  # whatever order open and close came in
        return Outcome.STORED if stored else Outcome.DUPLICATE

    def _status(self, topic: str, device_id: str, payload: bytes) -> Outcome:
        try:
            status: Status = parse_status(payload)
        except SchemaError as exc:
            raise RejectedMessageError(topic, "malformed", _reason(exc)) from None
        if status.device_id != device_id:
            raise RejectedMessageError(topic, "topic_mismatch")
        if status.sig is None:
            # The unsigned last will; parse_status guarantees it says "offline".
            if self._devices.signing_key(device_id) is None:
                raise RejectedMessageError(topic, "unknown_device")
            changed = self._ledger.mark_offline(device_id, now_ms=self._now_ms())
            return Outcome.OFFLINE if changed else Outcome.DUPLICATE
        if not verify_status(self._keys(topic, device_id), status):
            raise RejectedMessageError(topic, "bad_signature")
        facts = StatusFacts(
            device_id=device_id,
            issued_at_ms=status.ts_ms,
            online=status.state is StatusState.ONLINE,
            last_upload_ms=status.last_upload_ms,
            spool_bytes=status.spool_bytes,
            oldest_unsent_age_ms=status.oldest_unsent_age_ms,
            credential_expires_ms=status.cred_expires_at_ms,
            clock_offset_ms=status.clock_offset_ms,
            uploaded_bytes=status.uploaded_bytes,
            dropped_bytes=status.dropped_bytes,
        )
        stored = self._ledger.record_status(facts, now_ms=self._now_ms())
        return Outcome.STORED if stored else Outcome.STALE

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)


def _reason(exc: SchemaError) -> str:
    if isinstance(exc, InvalidMessage):
        return exc.reason[:200]
    return type(exc).__name__
