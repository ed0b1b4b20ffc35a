"""Which files of an encoder's segment directory are complete, and in which order.

An encoder writes segment files into a directory while the agent takes the finished ones
away. Nothing on a file says "done", so the agent follows conventions that real encoders
keep (measured with ffmpeg's segment and HLS muxers and GStreamer's ``splitmuxsink``):

* **Temporary names are never taken.** A name starting with ``.`` or ending in ``.tmp``,
  ``.part``, ``.partial``, ``.temp`` or ``~`` is a file still being written under the
  "write to a temporary name, rename when done" convention (ffmpeg's
  ``-hls_flags temp_file``); the renamed file appears whole.
* **Playlists are not media.** ``.m3u8``, ``.m3u`` and ``.mpd`` files are skipped.
* **An empty file is never complete.** ffmpeg's segment muxer creates each segment as an
  empty file and writes it when the segment ends; its HLS muxer does the same with the
  fMP4 ``init.mp4``.
* **A file is complete when the encoder has moved on**, that is when a later name exists:
  segment muxers close a segment before they open the next one.
* **Or when it has not changed for ``settle_s``** with a non-zero size: the last segment
  once the encoder stopped.
* **Names are taken in natural order**, digit runs compared as numbers (``seg7`` before
  ``seg10``), one after another: a file that is not complete yet holds back every file
  after it, so segments are never stored out of order.
* **An empty file the encoder left behind** (it stayed empty for ``settle_s`` while a
  later file was written) is skipped with a warning instead of blocking the directory.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from device.clock import Clock

__all__ = ["SegmentScanner", "is_in_progress_name", "natural_key"]

log = logging.getLogger(__name__)

_IN_PROGRESS_SUFFIXES = (".tmp", ".part", ".partial", ".temp", "~")
_PLAYLIST_SUFFIXES = (".m3u8", ".m3u", ".mpd")
_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple[tuple[tuple[int, str], ...], str]:
    """Sort key comparing digit runs as numbers: ``seg7`` < ``seg10`` < ``seg11``."""
    parts = tuple(
        (int(part), "") if part.isdigit() else (-1, part) for part in _DIGITS.split(name) if part
    )
    return parts, name


def is_in_progress_name(name: str) -> bool:
    """Whether ``name`` is a temporary name (hidden or with a temporary-file suffix)."""
    return name.startswith(".") or name.endswith(_IN_PROGRESS_SUFFIXES)


def _is_candidate(name: str) -> bool:
    return not is_in_progress_name(name) and not name.lower().endswith(_PLAYLIST_SUFFIXES)


@dataclass
class _Seen:
    size: int
    mtime_ns: int
    since: float


class SegmentScanner:
    """Finds the complete segment files of a directory (rules in the module docstring).

    Args:
        directory: where the encoder writes.
        clock: measures how long a file has been unchanged.
        settle_s: a non-empty file unchanged this long is complete even as the newest.
    """

    def __init__(self, directory: Path, clock: Clock, *, settle_s: float) -> None:
        self.directory = directory
        self._clock = clock
        self._settle_s = settle_s
        self._seen: dict[str, _Seen] = {}
        self._abandoned: set[str] = set()

    def _listing(self) -> list[tuple[str, int, int]]:
        files = []
        for entry in self.directory.iterdir():
            if not _is_candidate(entry.name) or entry.name in self._abandoned:
                continue
            try:
                stat = entry.stat()
            except FileNotFoundError:
                continue  # removed since it was listed
            if entry.is_file():
                files.append((entry.name, stat.st_size, stat.st_mtime_ns))
        files.sort(key=lambda f: natural_key(f[0]))
        return files

    def _settled(self, name: str, size: int, mtime_ns: int, now: float) -> bool:
        seen = self._seen.get(name)
        if seen is None or (seen.size, seen.mtime_ns) != (size, mtime_ns):
            self._seen[name] = _Seen(size, mtime_ns, now)
            return self._settle_s <= 0
        return now - seen.since >= self._settle_s

    def complete(self) -> list[Path]:
        """Return the complete files that can be taken now, in order.

        The list stops at the first file that is not complete yet.
        """
        now = self._clock.monotonic()
        files = self._listing()
        self._seen = {name: s for name, s in self._seen.items() if name in {f[0] for f in files}}
        ready: list[Path] = []
        for index, (name, size, mtime_ns) in enumerate(files):
            settled = self._settled(name, size, mtime_ns, now)
            later = files[index + 1 :]
            if size > 0 and (later or settled):
                ready.append(self.directory / name)
                continue
            if size == 0 and settled and self._settle_s > 0 and any(f[1] > 0 for f in later):
                log.warning(
                    "segment %s stayed empty while the encoder wrote later files; skipped",
                    self.directory / name,
                )
                self._abandoned.add(name)
                continue
            break
        return ready

    def taken(self, path: Path) -> None:
        """Forget a file that was taken (and is being removed)."""
        self._seen.pop(path.name, None)
        self._abandoned.discard(path.name)
