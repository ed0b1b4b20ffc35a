"""Recordings in progress: how far each has grown, and an HLS playlist that follows it.

The console learns of an appendable object from the camera's ``segment.opened`` event and
then looks at the object itself with its own credentials: a HEAD for the current length and
ranged reads of what is new for the fragment index (:mod:`cloud.console.live.fmp4`). The
index is saved after every look, so it survives a restart.

The playlist is an HLS media playlist over byte ranges of the one object: ``EXT-X-MAP`` for
the init segment, an ``EXT-X-BYTERANGE`` per complete fragment, presigned V4 URLs, and no
``EXT-X-ENDLIST`` while the object may still grow, so hls.js reloads it and follows the live
edge. An object that does not start with an init segment (a camera that rolled over in the
middle of its stream) borrows the init segment of the camera's previous object.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

from cloud.console.errors import RecordingNotFoundError, StorageError
from cloud.console.hls import is_hls_key
from cloud.console.live.fmp4 import IndexState, MediaFormatError, scan
from cloud.console.live.store import LiveObject, LiveStore
from cloud.console.storage import ObjectStore

__all__ = ["LiveRecordings"]

log = logging.getLogger(__name__)

FRESH_MS = 1000
"""A length seen less than this long ago is not asked for again."""


class LiveRecordings:
    """Follow recordings in progress.

    Args:
        store: the live objects and their indexes.
        objects: the bucket, with the console's own credentials.
        presign_ttl_s: how long playlist links stay valid.
        clock: wall clock in seconds.
    """

    def __init__(
        self,
        store: LiveStore,
        objects: ObjectStore,
        *,
        presign_ttl_s: int,
        clock: Callable[[], float],
    ) -> None:
        self._store = store
        self._objects = objects
        self._ttl = presign_ttl_s
        self._clock = clock

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def get(self, live_id: str) -> LiveObject:
        """A followed object by id.

        Raises:
            RecordingNotFoundError: unknown id.
        """
        found = self._store.get(live_id)
        if found is None:
            raise RecordingNotFoundError(live_id)
        return found

    def in_progress(self, device_id: str) -> LiveObject | None:
        """The camera's recording in progress, looked at again if the last look is stale."""
        found = self._store.in_progress(device_id)
        if found is None:
            return None
        return self.refresh(found)

    def refresh(self, live: LiveObject) -> LiveObject:
        """Look at the object now: its length and, for fragmented MP4, new fragments.

        A failed look leaves what was known (the next one tries again).
        """
        now_ms = self._now_ms()
        if live.size_at_ms is not None and now_ms - live.size_at_ms < FRESH_MS:
            return live
        key = live.facts.object_key
        try:
            info = self._objects.head(key)
        except StorageError as exc:
            log.warning("live %s: cannot look at the object (%s)", key, exc)
            return live
        if info is None:
            return live
        end_ms = live.end_ms
        if not is_hls_key(key):
            state = self.index(live, info.size)
            if state is not None and state.timescale:
                end_ms = live.facts.start_ms + round(state.duration_s * 1000)
        self._store.set_progress(live.live_id, size=info.size, end_ms=end_ms, now_ms=now_ms)
        return self.get(live.live_id)

    def index(self, live: LiveObject, size: int) -> IndexState | None:
        """Bring the saved fragment index of a followed object up to ``size`` bytes."""
        previous = self._store.previous(live.facts.device_id, live.facts.seq)
        return self.index_object(
            live.facts.object_key,
            size,
            previous_key=previous.facts.object_key if previous is not None else None,
        )

    def index_object(
        self, key: str, size: int, *, previous_key: str | None = None
    ) -> IndexState | None:
        """Bring the saved fragment index of ``key`` up to ``size`` bytes and save it.

        Args:
            key: the object.
            size: its length now.
            previous_key: the camera's object before it, whose track settings a stream
                continued without an init segment takes over.

        Returns:
            The index, or None when the object is not fragmented MP4.
        """
        state = self._store.load_index(key)
        if state is None:
            state = IndexState()
            seed = self._store.load_index(previous_key) if previous_key is not None else None
            if seed is not None:
                # Fragments of a stream continued from the previous object: same track.
                state.timescale, state.default_duration = seed.timescale, seed.default_duration
        if state.scanned_to >= size and state.pending_moof is None:
            return state
        try:
            changed = scan(state, size, lambda offset, n: self._objects.get_range(key, offset, n))
        except MediaFormatError as exc:
            log.warning("live %s: %s", key, exc)
            return None
        except StorageError as exc:
            log.warning("live %s: read failed (%s)", key, exc)
            return self._store.load_index(key)  # the scan may have gone part way
        if changed or state.pending_moof is not None:
            self._store.save_index(key, state)
        return state

    def presigned(self, live: LiveObject) -> str:
        """A short-lived GET URL of the object (the player reads byte ranges of it)."""
        return self._objects.presign_get(live.facts.object_key, self._ttl)

    def playlist(self, live_id: str) -> str:
        """An HLS media playlist over the object's complete fragments.

        Raises:
            RecordingNotFoundError: unknown id, or not fragmented MP4.
            StorageError: the object could not be read.
        """
        live = self.refresh(self.get(live_id))
        key = live.facts.object_key
        state = self._store.load_index(key)
        if state is None:
            state = IndexState()
        init_key, init_size = key, state.init_size
        if init_size == 0:
            init_key, init_size = self._borrowed_init(live)
        lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
        timescale = state.timescale or 1
        longest = max((f.duration for f in state.fragments), default=0) / timescale
        lines.append(f"#EXT-X-TARGETDURATION:{max(1, math.ceil(longest))}")
        lines.append("#EXT-X-MEDIA-SEQUENCE:0")
        url = self._objects.presign_get(key, self._ttl)
        if init_size and state.fragments:
            init_url = url if init_key == key else self._objects.presign_get(init_key, self._ttl)
            lines.append(f'#EXT-X-MAP:URI="{init_url}",BYTERANGE="{init_size}@0"')
            for fragment in state.fragments:
                lines.append(f"#EXTINF:{fragment.duration / timescale:.3f},")
                lines.append(f"#EXT-X-BYTERANGE:{fragment.size}@{fragment.offset}")
                lines.append(url)
        if live.closed and self._complete(state, live):
            lines.append("#EXT-X-ENDLIST")
        return "\n".join(line for line in lines if line) + "\n"

    def _complete(self, state: IndexState, live: LiveObject) -> bool:
        return state.pending_moof is None and state.scanned_to >= live.size

    def saved_index(self, key: str) -> IndexState | None:
        """The saved fragment index of ``key``, as far as it got."""
        return self._store.load_index(key)

    def _previous_index(self, live: LiveObject) -> IndexState | None:
        previous = self._store.previous(live.facts.device_id, live.facts.seq)
        if previous is None:
            return None
        return self._store.load_index(previous.facts.object_key)

    def _borrowed_init(self, live: LiveObject) -> tuple[str, int]:
        previous = self._store.previous(live.facts.device_id, live.facts.seq)
        state = self._previous_index(live)
        if previous is None or state is None or not state.init_size:
            return live.facts.object_key, 0
        return previous.facts.object_key, state.init_size
