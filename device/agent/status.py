"""The camera's ``status`` message (retained) and its last will."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from device.clock import AdjustedClock
from device.spool import Journal, Spool
from device.target import UploadTarget
from schemas.events import StatusAlert, StatusState
from schemas.keys import DeviceKeys
from schemas.messages import encode
from schemas.protocol import build_last_will, sign_status

__all__ = ["StatusFigures", "StatusReporter"]


@dataclass(frozen=True)
class StatusFigures:
    """The figures a status message reports."""

    spool_bytes: int
    oldest_unsent_age_ms: int | None
    last_upload_ms: int | None
    cred_expires_at_ms: int | None
    clock_offset_ms: int
    uploaded_bytes: int
    dropped_bytes: int
    alerts: tuple[StatusAlert, ...] = ()


class StatusReporter:
    """Build signed ``status`` messages and the unsigned ``offline`` will.

    Uploaded and dropped bytes are counted from when the reporter was created (agent
    start), as the protocol defines them.

    Args:
        device_id: this device.
        keys: signs the status.
        clock: the device clock.
        spool: the chunk queue.
        journal: the upload journal.
        target: credential expiry.
        credentials_refused: whether credential requests keep being refused with replies
            that cannot be verified (reported as the ``credentials_refused`` alert).
        source_changed: whether the source changed under the camera since its committed
            position (reported as the ``source_changed`` alert).
    """

    def __init__(
        self,
        *,
        device_id: str,
        keys: DeviceKeys,
        clock: AdjustedClock,
        spool: Spool,
        journal: Journal,
        target: UploadTarget,
        credentials_refused: Callable[[], bool] = lambda: False,
        source_changed: Callable[[], bool] = lambda: False,
    ) -> None:
        self.device_id = device_id
        self._keys = keys
        self._clock = clock
        self._spool = spool
        self._journal = journal
        self._target = target
        self._credentials_refused = credentials_refused
        self._source_changed = source_changed
        self._uploaded_at_start = journal.state.counters.uploaded_bytes
        self._dropped_at_start = self._dropped_total()

    def _dropped_total(self) -> int:
        counters = self._spool.stats().counters
        return counters.dropped_bytes + counters.rejected_bytes

    def figures(self) -> StatusFigures:
        """Return the current figures."""
        stats = self._spool.stats()
        journal = self._journal.state
        age = None
        if stats.oldest_wall_ms is not None:
            # Chunk times come from the unadjusted clock; compare like with like.
            age = max(0, self._clock.base.wall_ms() - stats.oldest_wall_ms)
        alerts = []
        if stats.alert is not None:
            alerts.append(StatusAlert(stats.alert))
        if self._source_changed():
            alerts.append(StatusAlert.SOURCE_CHANGED)
        if self._credentials_refused():
            alerts.append(StatusAlert.CREDENTIALS_REFUSED)
        return StatusFigures(
            spool_bytes=stats.bytes,
            oldest_unsent_age_ms=age,
            last_upload_ms=journal.counters.last_upload_ms,
            cred_expires_at_ms=self._target.expires_at_ms(),
            clock_offset_ms=self._clock.offset_ms,
            uploaded_bytes=max(0, journal.counters.uploaded_bytes - self._uploaded_at_start),
            dropped_bytes=max(0, self._dropped_total() - self._dropped_at_start),
            alerts=tuple(alerts),
        )

    def landmarks(self) -> tuple[object, ...]:
        """The figures whose change deserves a status before the next interval.

        Whether anything was uploaded yet, the credential expiry, whether the spool is empty,
        the dropped bytes and the alerts: an operator should see a first upload, new
        credentials, a backlog, a loss or a new alert within seconds, not at the next
        periodic status.
        """
        f = self.figures()
        return (f.last_upload_ms is not None, f.cred_expires_at_ms, f.spool_bytes == 0,
                f.dropped_bytes, f.alerts)  # fmt: skip

    def signed(self, state: StatusState = StatusState.ONLINE) -> bytes:
        """Return a signed status payload."""
        f = self.figures()
        status = sign_status(
            self._keys,
            device_id=self.device_id,
            ts_ms=self._clock.wall_ms(),
            state=state,
            spool_bytes=f.spool_bytes,
            oldest_unsent_age_ms=f.oldest_unsent_age_ms,
            last_upload_ms=f.last_upload_ms,
            cred_expires_at_ms=f.cred_expires_at_ms,
            clock_offset_ms=f.clock_offset_ms,
            uploaded_bytes=f.uploaded_bytes,
            dropped_bytes=f.dropped_bytes,
            alerts=f.alerts,
        )
        return encode(status)

    def will(self) -> bytes:
        """Return the unsigned ``offline`` status registered as the last will."""
        f = self.figures()
        status = build_last_will(
            device_id=self.device_id,
            ts_ms=self._clock.wall_ms(),
            spool_bytes=f.spool_bytes,
            oldest_unsent_age_ms=f.oldest_unsent_age_ms,
            last_upload_ms=f.last_upload_ms,
            cred_expires_at_ms=f.cred_expires_at_ms,
            clock_offset_ms=f.clock_offset_ms,
            uploaded_bytes=f.uploaded_bytes,
            dropped_bytes=f.dropped_bytes,
            alerts=f.alerts,
        )
        return encode(status)
