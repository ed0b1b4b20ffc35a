"""The console's operations, shared by the web pages and the REST API.

Handlers validate input and render output; everything they do goes through
:class:`ConsoleService`, so a page and its API twin cannot drift apart. All methods block
(SQLite, OSS, the registry): the web layer calls them from worker threads.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from cloud.console.audit import audit
from cloud.console.clips import ClipPlan, Clips
from cloud.console.content_keys import ContentKeys
from cloud.console.devices import DeviceAdmin, DeviceInfo, NewSecret
from cloud.console.errors import (
    DeviceNotFoundError,
    ProvisioningError,
    RecordingNotFoundError,
    StorageError,
)
from cloud.console.hls import (
    MAX_PLAYLIST_BYTES,
    SEGMENT_CONTENT_TYPE,
    PlaylistError,
    is_hls_key,
    rewrite_playlist,
)
from cloud.console.ledger import CameraState, Ledger, Page, Recording, Verification
from cloud.console.live import LiveObject, LiveRecordings
from cloud.console.reconcile import Reconciler
from cloud.console.retention import Retention, RetentionDrift, RetentionPlan
from cloud.console.settings import ConsoleSettings
from cloud.console.storage import ObjectStore
from cloud.console.timeline import Timeline, build_timeline, day_bounds
from cloud.errors import BrokerAccountError
from cloud.registry import CameraConfig
from cloud.registry.broker_accounts import CameraAccounts, issue_password
from schemas.ids import DeviceId

__all__ = ["Clip", "ConsoleService", "SignedLink"]

TIMELINE_MAX_RECORDINGS = 5000


@dataclass(frozen=True)
class SignedLink:
    """A presigned OSS URL for one recording.

    Attributes:
        url: the URL (carries a signature; valid until ``expires_at_ms``).
        expires_at_ms: when OSS stops accepting it.
    """

    url: str
    expires_at_ms: int


CLIP_MEMORY_BYTES = 128 << 20  # larger clips go to a temporary file


@dataclass(frozen=True)
class Clip:
    """A built clip, ready to send.

    Attributes:
        plan: what it is made of.
        size: its length in bytes.
        sha256: lowercase hex SHA-256 of its bytes.
        filename: a name to save it under.
        file: its bytes, rewound; close it when sent.
    """

    plan: ClipPlan
    size: int
    sha256: str
    filename: str
    file: IO[bytes]


def download_name(recording: Recording) -> str:
    """A file name for a downloaded recording: ``cam-0001-20250101T120000Z.mp4`` (``.m3u8``
    for an HLS playlist)."""
    start = dt.datetime.fromtimestamp(recording.facts.start_ms / 1000, tz=dt.UTC)
    suffix = ".m3u8" if is_hls_key(recording.facts.object_key) else ".mp4"
    return f"{recording.facts.device_id}-{start:%Y%m%dT%H%M%SZ}{suffix}"


class ConsoleService:
    """Everything an operator can do.

    Args:
        settings: console settings.
        ledger: the recording ledger.
        store: the bucket, with the console's own credentials.
        devices: the device registry seam.
        reconciler: object verification.
        content_keys: HLS content keys delivered by cameras.
        live: recordings in progress.
        clips: clip export.
        clock: wall clock in seconds.
        on_action: told the name of every operator action (metrics).
        accounts: the cameras' broker accounts, when the broker has one per camera.
    """

    def __init__(
        self,
        settings: ConsoleSettings,
        *,
        ledger: Ledger,
        store: ObjectStore,
        devices: DeviceAdmin,
        reconciler: Reconciler,
        content_keys: ContentKeys,
        live: LiveRecordings,
        clips: Clips,
        clock: Callable[[], float],
        on_action: Callable[[str], None] | None = None,
        accounts: CameraAccounts | None = None,
    ) -> None:
        self.settings = settings
        self._accounts = accounts
        self.live = live
        self.clips = clips
        self._on_action = on_action
        self._content_keys = content_keys
        self._ledger = ledger
        self._store = store
        self._devices = devices
        self._reconciler = reconciler
        self._retention = Retention(ledger, store, settings.oss)
        self._clock = clock

    def _audit(self, actor: str, action: str, **target: str | int | None) -> None:
        audit(actor, action, **target)
        if self._on_action is not None:
            self._on_action(action)

    def now_ms(self) -> int:
        """Current wall-clock time in milliseconds."""
        return int(self._clock() * 1000)

    # -- cameras and recordings -------------------------------------------------------

    def sync_cameras(self) -> None:
        """Copy the registry's device list into the ledger, so never-heard-from cameras show."""
        self._ledger.sync_registry((d.device_id, d.status) for d in self._devices.list_devices())

    def cameras(self, *, after: str | None, limit: int) -> Page[CameraState]:
        """A page of the fleet, ordered by device id."""
        return self._ledger.list_cameras(after=after, limit=limit)

    def camera(self, device_id: str) -> CameraState:
        """One camera.

        Raises:
            DeviceNotFoundError: neither provisioned nor ever heard from.
        """
        state = self._ledger.camera(device_id)
        if state is None:
            raise DeviceNotFoundError(device_id)
        return state

    def recordings(
        self,
        device_id: str,
        *,
        from_ms: int,
        to_ms: int,
        after: tuple[int, str] | None,
        limit: int,
    ) -> Page[Recording]:
        """A page of one camera's recordings overlapping ``[from_ms, to_ms)``, oldest first.

        Raises:
            DeviceNotFoundError: unknown camera.
        """
        self.camera(device_id)
        return self._ledger.list_recordings(
            device_id, from_ms=from_ms, to_ms=to_ms, after=after, limit=limit
        )

    def timeline(self, device_id: str, day: dt.date) -> Timeline:
        """One camera's recordings and gaps on a UTC day.

        Raises:
            DeviceNotFoundError: unknown camera.
        """
        start_ms, end_ms = day_bounds(day)
        page = self.recordings(
            device_id, from_ms=start_ms, to_ms=end_ms, after=None, limit=TIMELINE_MAX_RECORDINGS
        )
        now_ms = self.now_ms()
        live = self.live.in_progress(device_id)
        return build_timeline(
            day,
            page.items,
            now_ms=now_ms,
            truncated=page.next_after is not None,
            live=(live.live_id, live.facts.start_ms, now_ms) if live is not None else None,
        )

    def export_clip(self, device_id: str, from_ms: int, to_ms: int) -> Clip:
        """Build the clip of ``[from_ms, to_ms)`` into a temporary file, hashed on the way.

        Returns:
            The clip, its file rewound (the caller closes it).

        Raises:
            DeviceNotFoundError: unknown camera.
            NoMediaError: nothing stored overlaps the range.
            ConflictError: the range mixes kinds, or holds encrypted HLS.
            ClipError: stored bytes differ from the ledger.
            StorageError: OSS could not be read.
        """
        self.camera(device_id)
        plan = self.clips.plan(device_id, from_ms, to_ms)
        spool = tempfile.SpooledTemporaryFile(max_size=CLIP_MEMORY_BYTES)  # noqa: SIM115
        try:
            size, sha256 = self.clips.build(plan, spool)  # type: ignore[arg-type]
        except BaseException:
            spool.close()
            raise
        spool.seek(0)
        start = dt.datetime.fromtimestamp(plan.start_ms / 1000, tz=dt.UTC)
        name = f"{device_id}-{start:%Y%m%dT%H%M%SZ}-{plan.end_ms - plan.start_ms}ms{plan.suffix}"
        return Clip(plan, size, sha256, name, spool)

    def in_progress(self, device_id: str) -> LiveObject | None:
        """The camera's recording in progress, with its length as of now.

        Raises:
            DeviceNotFoundError: unknown camera.
        """
        self.camera(device_id)
        return self.live.in_progress(device_id)

    def recording(self, recording_id: str) -> Recording:
        """A recording that has not been deleted.

        Raises:
            RecordingNotFoundError: unknown or deleted.
        """
        found = self._ledger.recording(recording_id)
        if found is None or found.verification is Verification.DELETED:
            raise RecordingNotFoundError(recording_id)
        return found

    def _link(self, recording: Recording, *, download: bool) -> SignedLink:
        ttl = self.settings.oss.presign_ttl_s
        expires = self.now_ms() + ttl * 1000
        url = self._store.presign_get(
            recording.facts.object_key,
            ttl,
            download_name=download_name(recording) if download else None,
        )
        return SignedLink(url, expires)

    def playback_link(self, recording_id: str) -> tuple[Recording, SignedLink]:
        """A short-lived URL that plays one recording in the browser.

        Raises:
            RecordingNotFoundError: unknown or deleted.
        """
        recording = self.recording(recording_id)
        return recording, self._link(recording, download=False)

    def download_link(self, recording_id: str) -> SignedLink:
        """A short-lived URL that downloads one recording as a file.

        Raises:
            RecordingNotFoundError: unknown or deleted.
        """
        return self._link(self.recording(recording_id), download=True)

    def delete_recording(self, recording_id: str, *, actor: str) -> Recording:
        """Delete a recording's object from OSS, then mark it deleted in the ledger.

        Args:
            recording_id: the recording.
            actor: the operator, for the audit line.

        Returns:
            The recording as it was before deletion.

        Raises:
            RecordingNotFoundError: unknown or already deleted.
            StorageError: OSS refused; the ledger is unchanged.
        """
        recording = self.recording(recording_id)
        self._store.delete(recording.facts.object_key)
        self._ledger.mark_deleted(recording_id, now_ms=self.now_ms())
        self._audit(
            actor,
            "recording.delete",
            recording_id=recording_id,
            device_id=recording.facts.device_id,
            object_key=recording.facts.object_key,
        )
        return recording

    def verify_recording(self, recording_id: str) -> Recording:
        """Check a recording against OSS now.

        Raises:
            RecordingNotFoundError: unknown or deleted.
            StorageError: OSS could not be asked.
        """
        return self._reconciler.check_id(recording_id)

    # -- HLS ----------------------------------------------------------------------------

    def hls_playlist(self, recording_id: str) -> str:
        """An HLS recording's playlist, rewritten for this viewer (see :mod:`cloud.console.hls`).

        Segment URIs become presigned GETs valid for ``presign_ttl_s``; key URIs point at
        the console's key endpoint.

        Raises:
            RecordingNotFoundError: unknown, deleted, or not an HLS recording.
            StorageError: OSS could not be read, or the playlist is missing.
            PlaylistError: the stored playlist is not one the console serves.
        """
        recording = self.recording(recording_id)
        if not is_hls_key(recording.facts.object_key):
            raise RecordingNotFoundError(recording_id)
        return self._rewritten(recording.facts.object_key, recording.facts.device_id)

    def live_playlist(self, live_id: str) -> str:
        """A recording in progress as an HLS playlist the player reloads while it grows.

        For fragmented MP4, a playlist over byte ranges of the object
        (:meth:`LiveRecordings.playlist`); for a camera's HLS session, the camera's own live
        playlist as stored now, rewritten like a finished one (no ``EXT-X-ENDLIST`` until
        the camera writes it).

        Raises:
            RecordingNotFoundError: unknown id.
            StorageError: OSS could not be read.
            PlaylistError: the stored playlist is not one the console serves.
        """
        live = self.live.get(live_id)
        if is_hls_key(live.facts.object_key):
            self.live.refresh(live)
            return self._rewritten(live.facts.object_key, live.facts.device_id)
        return self.live.playlist(live_id)

    def _rewritten(self, key: str, device_id: str) -> str:
        data = self._store.get(key, MAX_PLAYLIST_BYTES)
        if data is None:
            raise StorageError("get", object_key=key, code="NoSuchKey", status=404)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise PlaylistError(key, "not UTF-8") from None
        ttl = self.settings.oss.presign_ttl_s
        return rewrite_playlist(
            text,
            playlist_key=key,
            device_id=device_id,
            device_prefix=self.settings.oss.device_prefix(device_id),
            presign=lambda segment: self._store.presign_get(
                segment, ttl, content_type=SEGMENT_CONTENT_TYPE
            ),
        )

    def content_key(self, device_id: str, key_id: str) -> bytes:
        """One HLS content key, for a player decrypting a recording.

        Raises:
            ContentKeyNotFoundError: no such key was delivered by the camera.
            ContentKeyError: the stored key does not open (the master key changed).
        """
        return self._content_keys.get(device_id, key_id)

    # -- retention ----------------------------------------------------------------------

    def retention(self) -> RetentionPlan:
        """Saved retention settings and their lifecycle rules."""
        return self._retention.current()

    def retention_drift(self) -> RetentionDrift:
        """The bucket's lifecycle rules against the saved settings; see :meth:`Retention.drift`."""
        return self._retention.drift()

    def reapply_retention(self, *, actor: str) -> RetentionPlan:
        """Write the saved retention settings to the bucket again."""
        plan = self._retention.reapply()
        self._audit(actor, "retention.reapply")
        return plan

    def set_fleet_retention(self, days: int | None, *, actor: str) -> RetentionPlan:
        """Set the fleet retention; see :meth:`Retention.set_fleet`."""
        plan = self._retention.set_fleet(days)
        self._audit(actor, "retention.fleet", days=days)
        return plan

    def set_camera_retention(
        self, device_id: str, days: int | None, *, actor: str
    ) -> RetentionPlan:
        """Set one camera's retention; see :meth:`Retention.set_camera`.

        Raises:
            DeviceNotFoundError: unknown camera.
        """
        self.camera(device_id)
        plan = self._retention.set_camera(device_id, days)
        self._audit(actor, "retention.camera", device_id=device_id, days=days)
        return plan

    # -- devices ------------------------------------------------------------------------

    def devices(self) -> list[DeviceInfo]:
        """Every provisioned device."""
        return self._devices.list_devices()

    def provision(
        self, device_id: str, *, actor: str, access: frozenset[str] | None = None
    ) -> NewSecret:
        """Provision a device; the secret and the ``camera.toml`` holding it in the result are
        shown once and never again."""
        made = self._devices.provision(device_id, access)
        self._ledger.sync_registry([(made.device.device_id, made.device.status)])
        self._audit(actor, "device.provision", device_id=made.device.device_id)
        return self._with_camera_config(made)

    def revoke(self, device_id: str, *, actor: str) -> DeviceInfo:
        """Revoke a device."""
        info = self._devices.revoke(device_id)
        self._ledger.sync_registry([(info.device_id, info.status)])
        self._audit(actor, "device.revoke", device_id=info.device_id)
        if self._accounts is not None:
            try:
                self._accounts.disable(DeviceId(info.device_id))
            except BrokerAccountError as exc:
                raise ProvisioningError(
                    info.device_id,
                    f"revoked in the registry, but its broker account could not be disabled: "
                    f"{exc.message}",
                ) from None
        return info

    def rotate(self, device_id: str, *, actor: str) -> NewSecret:
        """Give a device a new secret, shown once."""
        made = self._devices.rotate(device_id)
        self._audit(actor, "device.rotate", device_id=made.device.device_id)
        return self._with_camera_config(made)

    def _with_camera_config(self, made: NewSecret) -> NewSecret:
        # The same camera.toml `ossmedia devices add` prints, from the console's settings,
        # with the camera's own broker account when the broker has one per camera.
        device_id = made.device.device_id
        mqtt_password = None
        if self._accounts is not None:
            try:
                mqtt_password = issue_password(self._accounts, DeviceId(device_id))
            except BrokerAccountError as exc:
                raise ProvisioningError(
                    device_id,
                    f"{exc.message}; the registry has the device, rotate its secret once the "
                    "broker is reachable",
                ) from None
        provisioning = self.settings.provisioning
        config = CameraConfig(
            device_id=made.device.device_id,
            secret=made.secret,
            broker_url=provisioning.broker_url or self.settings.mqtt.url,
            topic_prefix=self.settings.mqtt.topic_prefix,
            ca_file=provisioning.ca_file,
            mqtt_password=mqtt_password,
        )
        return dataclasses.replace(made, camera_config=config.render())
