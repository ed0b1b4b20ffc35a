"""The reconciler: checks each recording against the object in OSS.

A recording is *verified* when a HEAD of its object returns exactly the length and the
CRC-64 (``x-oss-hash-crc64ecma``) the camera reported in ``segment.closed``; it is
*flagged* when the object is missing or either value differs (truncated, appended to after
the event, or overwritten). Verified recordings are checked again after a while, so an
object changed later is caught too. When OSS cannot be reached the recording keeps its
state and is tried again on the next pass.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from cloud.console.errors import ConsoleError, RecordingNotFoundError, StorageError
from cloud.console.ledger import Ledger, Recording, Verification
from cloud.console.ledger.leases import Lease
from cloud.console.storage import ObjectInfo, ObjectStore
from cloud.errors import CloudError

__all__ = ["PassReport", "ReconcileLoop", "Reconciler", "judge"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PassReport:
    """What one reconciler pass did.

    Attributes:
        checked: recordings looked at.
        verified: found matching.
        flagged: found missing or different.
        errors: could not be checked (OSS unreachable or failing).
    """

    checked: int
    verified: int
    flagged: int
    errors: int


def judge(recording: Recording, info: ObjectInfo | None) -> tuple[Verification, str]:
    """Compare what the camera reported with what OSS holds.

    Args:
        recording: the ledger entry.
        info: the HEAD result, or None when the object does not exist.

    Returns:
        The verdict and, when flagged, why (``missing``, ``length``, ``crc64``).
    """
    if info is None:
        return Verification.FLAGGED, "missing"
    if info.size != recording.facts.size:
        return Verification.FLAGGED, "length"
    if info.crc64 is None:
        # Without a CRC the content cannot be confirmed; try again on a later pass.
        return Verification.PENDING, "no crc64 from OSS"
    if info.crc64 != recording.facts.crc64:
        return Verification.FLAGGED, "crc64"
    return Verification.VERIFIED, ""


class Reconciler:
    """Checks recordings and writes the verdicts into the ledger.

    Args:
        ledger: the recording ledger.
        store: the bucket, with the console's own credentials.
        clock: wall clock in seconds.
        recheck_after_s: verified or flagged recordings are checked again after this long.
        batch: recordings per pass.
    """

    def __init__(
        self,
        ledger: Ledger,
        store: ObjectStore,
        *,
        clock: Callable[[], float],
        recheck_after_s: int,
        batch: int,
    ) -> None:
        self._ledger = ledger
        self._store = store
        self._clock = clock
        self._recheck_after_ms = recheck_after_s * 1000
        self._batch = batch

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def check(self, recording: Recording) -> Verification:
        """HEAD one recording's object and record the verdict.

        Args:
            recording: the ledger entry.

        Returns:
            The new verification state.

        Raises:
            StorageError: OSS failed; the ledger is unchanged.
        """
        info = self._store.head(recording.facts.object_key)
        verdict, reason = judge(recording, info)
        if verdict is Verification.FLAGGED:
            log.warning("reconcile: %s flagged (%s)", recording.facts.object_key, reason)
        self._ledger.set_verification(
            recording.recording_id,
            verdict,
            reason=reason,
            observed_size=info.size if info is not None else None,
            now_ms=self._now_ms(),
        )
        return verdict

    def check_id(self, recording_id: str) -> Recording:
        """Check one recording now (an operator's request).

        Returns:
            The updated recording.

        Raises:
            RecordingNotFoundError: no such recording, or it was deleted.
            StorageError: OSS failed.
        """
        recording = self._ledger.recording(recording_id)
        if recording is None or recording.verification is Verification.DELETED:
            raise RecordingNotFoundError(recording_id)
        self.check(recording)
        updated = self._ledger.recording(recording_id)
        if updated is None:  # pragma: no cover - rows are never removed
            raise RecordingNotFoundError(recording_id)
        return updated

    def run_once(self) -> PassReport:
        """Check the recordings that are due, oldest unchecked first."""
        due = self._ledger.due_for_check(
            now_ms=self._now_ms(), recheck_after_ms=self._recheck_after_ms, limit=self._batch
        )
        verified = flagged = errors = 0
        for recording in due:
            try:
                verdict = self.check(recording)
            except StorageError as exc:
                errors += 1
                log.warning("reconcile: cannot check %s: %s", recording.recording_id, exc)
                continue
            if verdict is Verification.VERIFIED:
                verified += 1
            elif verdict is Verification.FLAGGED:
                flagged += 1
        return PassReport(len(due), verified, flagged, errors)


class ReconcileLoop:
    """Runs passes in a background thread until stopped.

    Args:
        reconciler: what to run.
        interval_s: pause between passes.
        before_pass: called at the start of every pass (the console refreshes its list of
            provisioned cameras there); its errors are logged, not raised.
        lease: taken (or renewed) before every pass; a pass runs only while this replica
            holds it, so among replicas on one ledger one reconciles at a time.
    """

    def __init__(
        self,
        reconciler: Reconciler,
        *,
        interval_s: float,
        before_pass: Callable[[], None] | None = None,
        lease: Lease | None = None,
    ) -> None:
        self._reconciler = reconciler
        self._lease = lease
        self._interval_s = interval_s
        self._before_pass = before_pass
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="ossmedia-console-reconcile", daemon=True
            )
            self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Ask the thread to stop and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        # Event.wait doubles as the pause between passes and as the stop signal.
        while not self._stop.is_set():
            try:
                if self._lease is None or self._lease.acquire():
                    if self._before_pass is not None:
                        self._before_pass()
                    self._reconciler.run_once()
            except (ConsoleError, CloudError) as exc:
                log.warning("reconcile pass failed: %s", exc)
            self._stop.wait(self._interval_s)
        if self._lease is not None:
            try:
                self._lease.release()
            except CloudError as exc:
                log.warning("reconcile lease not released (it lapses by itself): %s", exc)
