"""Recordings in progress: opened objects, their fragment indexes and live playlists."""

from cloud.console.live.fmp4 import Fragment, IndexState, MediaFormatError, scan
from cloud.console.live.store import LiveObject, LiveStore, OpenedFacts
from cloud.console.live.tracker import LiveRecordings

__all__ = [
    "Fragment",
    "IndexState",
    "LiveObject",
    "LiveRecordings",
    "LiveStore",
    "MediaFormatError",
    "OpenedFacts",
    "scan",
]
