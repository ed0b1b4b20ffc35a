"""An emulator whose object store reports every committed put, in commit order.

The OSS model calls its store's ``put_object`` while it holds the object's lock, right
before the new object becomes visible, so the order of these calls is the order in which
objects appeared in the bucket. Recording it lets a test check *every* playlist version
the emulator ever stored, not just the ones a poller happened to see. Nothing is ever
deleted by a camera, so "stored before" means "stored when the playlist appeared".
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from simulator.emulator.handle import EmulatorHandle, running_emulator
from simulator.emulator.oss_backend import OssBackend
from simulator.emulator.oss_wiring import build_oss_backend
from simulator.emulator.server import Emulator
from simulator.oss.records import ObjectRecord
from simulator.oss.storage import MemoryStore
from tests.device.hls.sinks import playlist_uris, resolve


@dataclass(frozen=True)
class Commit:
    key: str
    data: bytes
    content_type: str


class RecordingStore(MemoryStore):
    """The in-memory store, plus a log of every whole-object put it committed."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self.commits: list[Commit] = []

    def put_object(
        self, bucket: str, record: ObjectRecord, data: bytes, replaced: ObjectRecord | None
    ) -> None:
        super().put_object(bucket, record, data, replaced)
        with self._lock:
            self.commits.append(Commit(record.key, data, record.content_type))

    def log(self) -> list[Commit]:
        with self._lock:
            return list(self.commits)


def playlist_violations(commits: list[Commit]) -> tuple[int, list[str]]:
    """Check every playlist version against the objects committed before it.

    Returns:
        How many playlist versions were checked, and what each one listed too early.
    """
    stored: set[str] = set()
    versions = 0
    problems = []
    for commit in commits:
        if commit.key.endswith(".m3u8"):
            versions += 1
            for uri in playlist_uris(commit.data.decode()):
                target = resolve(commit.key, uri)
                if target not in stored:
                    problems.append(f"version {versions} of {commit.key} lists {target}")
        stored.add(commit.key)
    return versions, problems


@contextlib.contextmanager
def observed_emulator() -> Iterator[tuple[EmulatorHandle, RecordingStore]]:
    """Run an in-process emulator over a :class:`RecordingStore`."""
    store = RecordingStore()

    def factory(emulator: Emulator) -> OssBackend:
        return build_oss_backend(emulator.settings, emulator.iam, emulator.clock, store=store)

    with running_emulator(oss_factory=factory) as handle:
        yield handle, store
