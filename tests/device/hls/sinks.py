"""Sinks for the stream tests: real ``SegmentSink`` implementations with faults and checks."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from device.errors import TransientStorageError
from device.hls import PLAYLIST_CONTENT_TYPE, MemorySink


def playlist_uris(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def resolve(playlist_key: str, uri: str) -> str:
    return posixpath.normpath(posixpath.join(posixpath.dirname(playlist_key), uri))


@dataclass
class Attempt:
    key: str
    outcome: str  # "stored", "refused", "lost" (stored, answer lost)


@dataclass
class FaultySink:
    """Stores into a MemorySink, with switchable outage and lost-response faults.

    Every playlist put is checked at the moment it lands: each segment it lists must
    already be stored. Violations are collected, not raised, so the stream under test
    cannot swallow them.
    """

    store: MemorySink = field(default_factory=MemorySink)
    down: bool = False
    lose_responses: bool = False
    attempts: list[Attempt] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    playlists_checked: int = 0
    playlist_versions: list[str] = field(default_factory=list)

    def put_object(self, key: str, data: bytes, content_type: str) -> None:
        if self.down:
            self.attempts.append(Attempt(key, "refused"))
            raise TransientStorageError("connection refused", code="transport", object_key=key)
        if content_type == PLAYLIST_CONTENT_TYPE:
            self._check(key, data.decode())
        self.store.put_object(key, data, content_type)
        if self.lose_responses:
            self.attempts.append(Attempt(key, "lost"))
            raise TransientStorageError("read timed out", code="transport", object_key=key)
        self.attempts.append(Attempt(key, "stored"))

    def _check(self, key: str, text: str) -> None:
        self.playlists_checked += 1
        self.playlist_versions.append(text)
        for uri in playlist_uris(text):
            target = resolve(key, uri)
            if target not in self.store.objects:
                self.violations.append(f"{key} lists {target} before it is stored")
