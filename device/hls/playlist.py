"""HLS media playlists (m3u8, protocol version 3): entries, a window, and rendering.

Live playlists slide: they list the last ``list_size`` stored segments and advance
``EXT-X-MEDIA-SEQUENCE`` as old entries fall off (the objects stay in the bucket; retention
is the bucket lifecycle's job). VOD playlists list every segment, are marked
``EXT-X-PLAYLIST-TYPE:EVENT`` while recording (players may start at the beginning and
segments are only ever appended) and get ``EXT-X-ENDLIST`` when the recording ends.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

__all__ = ["KeyTag", "PlaylistEntry", "PlaylistWindow", "render_media_playlist"]

PlaylistMode = Literal["live", "vod"]
VERSION = 3


@dataclass(frozen=True)
class KeyTag:
    """An ``EXT-X-KEY`` tag for AES-128 encrypted segments.

    Attributes:
        uri: where players fetch the 16-byte key (the console, never the bucket).
        iv: the explicit initialisation vector, or ``None`` to let players use the
            segment's media sequence number (the protocol's default IV).
    """

    uri: str
    iv: bytes | None = None

    def render(self) -> str:
        """Return the tag line."""
        if '"' in self.uri or "\n" in self.uri:
            raise ValueError("a key URI cannot contain quotes or line breaks")
        line = f'#EXT-X-KEY:METHOD=AES-128,URI="{self.uri}"'
        if self.iv is not None:
            line += f",IV=0x{self.iv.hex().upper()}"
        return line


@dataclass(frozen=True)
class PlaylistEntry:
    """One stored segment as the playlist lists it.

    Attributes:
        sequence: media sequence number.
        uri: the segment's URI relative to the playlist.
        duration_s: duration in seconds.
        key: the key tag that applies, ``None`` for a clear segment.
    """

    sequence: int
    uri: str
    duration_s: float
    key: KeyTag | None = None

    @property
    def rounded_duration(self) -> float:
        """The duration as written in ``EXTINF`` (milliseconds)."""
        return round(self.duration_s, 3)


def render_media_playlist(
    entries: Iterable[PlaylistEntry],
    *,
    mode: PlaylistMode,
    ended: bool,
    target_duration: int | None = None,
) -> str:
    """Render a media playlist.

    Args:
        entries: consecutive segments, oldest first.
        mode: ``live`` (sliding window, no playlist type) or ``vod`` (``EVENT`` type).
        ended: append ``EXT-X-ENDLIST`` (no segment will be added).
        target_duration: ``EXT-X-TARGETDURATION``; by default the ceiling of the longest
            listed ``EXTINF`` (at least 1).

    Returns:
        The playlist text (UTF-8, ``\\n`` line ends).

    Raises:
        ValueError: the entries are not consecutive, or a URI holds a line break.
    """
    items = list(entries)
    for before, after in itertools.pairwise(items):
        if after.sequence != before.sequence + 1:
            raise ValueError("playlist entries must have consecutive sequence numbers")
    if target_duration is None:
        target_duration = max((math.ceil(e.rounded_duration) for e in items), default=1)
    lines = [
        "#EXTM3U",
        f"#EXT-X-VERSION:{VERSION}",
        f"#EXT-X-TARGETDURATION:{max(1, target_duration)}",
        f"#EXT-X-MEDIA-SEQUENCE:{items[0].sequence if items else 0}",
    ]
    if mode == "vod":
        lines.append("#EXT-X-PLAYLIST-TYPE:EVENT")
    current_key: KeyTag | None = None
    for entry in items:
        if entry.key is not None and entry.key != current_key:
            lines.append(entry.key.render())
        elif entry.key is None and current_key is not None:
            lines.append("#EXT-X-KEY:METHOD=NONE")
        current_key = entry.key
        if "\n" in entry.uri or "\r" in entry.uri:
            raise ValueError("a segment URI cannot contain line breaks")
        lines.append(f"#EXTINF:{entry.rounded_duration:.3f},")
        lines.append(entry.uri)
    if ended:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


class PlaylistWindow:
    """The segments a playlist lists, and the target duration over the whole stream.

    Args:
        mode: ``live`` keeps the last ``list_size`` entries; ``vod`` keeps all.
        list_size: live window length.
    """

    def __init__(self, *, mode: PlaylistMode, list_size: int) -> None:
        if list_size < 1:
            raise ValueError("list_size must be at least 1")
        self.mode: PlaylistMode = mode
        self._entries: deque[PlaylistEntry] = deque(maxlen=list_size if mode == "live" else None)
        self._target = 1
        self.ended = False

    @property
    def entries(self) -> tuple[PlaylistEntry, ...]:
        """The listed entries, oldest first."""
        return tuple(self._entries)

    @property
    def target_duration(self) -> int:
        """Ceiling of the longest ``EXTINF`` so far (it never shrinks as the window slides,
        since players size their buffers and reload timers by it)."""
        return self._target

    def add(self, entry: PlaylistEntry) -> None:
        """List one more stored segment (the next sequence number)."""
        if self._entries and entry.sequence != self._entries[-1].sequence + 1:
            raise ValueError(
                f"segment {entry.sequence} does not follow {self._entries[-1].sequence}"
            )
        self._entries.append(entry)
        self._target = max(self._target, math.ceil(entry.rounded_duration))

    def end(self) -> None:
        """Mark the stream as ended (the next render carries ``EXT-X-ENDLIST``)."""
        self.ended = True

    def render(self) -> str:
        """Render the playlist as it stands."""
        return render_media_playlist(
            self._entries, mode=self.mode, ended=self.ended, target_duration=self._target
        )
