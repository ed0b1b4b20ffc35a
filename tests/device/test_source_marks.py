"""Source marks: committed with their chunk, recovered after a restart, and a changed source
recorded as new (the fast, in-process half of the resume tests; the SIGKILL half is in
test_source_resume.py)."""

from __future__ import annotations

import io
import logging
import os
import threading
from pathlib import Path

import pytest

from device.agent.agent import Agent
from device.clock import SystemClock
from device.recorder import (
    FileSource,
    PatternSource,
    Recorder,
    Source,
    StreamSource,
    pattern_bytes,
)
from device.spool import Journal, SourceMark, Spool
from device.spool.chunkfile import HEADER_SIZE
from schemas.events import StatusAlert
from tests.device.agentkit import Watcher, wait_until
from tests.device.stack import Stack
from tests.fixtures.broker import MqttProbeFactory

CLOCK = SystemClock()


def record(source: Source, spool: Spool, chunk_bytes: int = 1000) -> None:
    Recorder(source, spool, CLOCK, chunk_bytes=chunk_bytes, chunk_max_age_s=60).run(
        threading.Event()
    )


def drain(spool: Spool) -> bytes:
    out = b""
    while (chunk := spool.peek(0)) is not None:
        out += chunk.data
        spool.ack(chunk.seq)
    return out


def test_each_chunk_carries_the_position_after_its_last_byte(tmp_path: Path) -> None:
    path = tmp_path / "a.ts"
    path.write_bytes(os.urandom(2500))
    spool = Spool(tmp_path / "spool", max_bytes=10**6)
    record(FileSource(path, CLOCK), spool)
    marks = []
    while (chunk := spool.peek(0)) is not None:
        assert chunk.mark is not None
        marks.append(chunk.mark.offset)
        spool.ack(chunk.seq)
    assert marks == [1000, 2000, 2500]


def test_the_newest_queued_mark_survives_a_reopen_and_a_torn_mark_is_not_trusted(
    tmp_path: Path,
) -> None:
    spool = Spool(tmp_path, max_bytes=10**6)
    first = SourceMark(kind="file", identity="1:2:3:4:ab", offset=100)
    spool.put(b"x" * 100, 1, mark=first)
    spool.put(b"y" * 50, 2, mark=first.model_copy(update={"offset": 150}))
    spool.put(b"z" * 10, 3)  # a chunk without a mark (stdin) does not hide the last one
    again = Spool(tmp_path, max_bytes=10**6)
    assert again.recovered_mark == first.model_copy(update={"offset": 150})
    # Flip a byte inside the second chunk's mark: the index ignores it, the read quarantines it.
    path = tmp_path / "chunks" / f"{2:020d}.chunk"
    raw = bytearray(path.read_bytes())
    raw[HEADER_SIZE + 50 + 5] ^= 0xFF
    path.write_bytes(bytes(raw))
    third = Spool(tmp_path, max_bytes=10**6)
    assert third.recovered_mark == first
    assert drain(third) == b"x" * 100 + b"z" * 10
    assert third.stats().counters.corrupt_chunks == 1


def test_a_resumed_file_continues_after_the_committed_byte(tmp_path: Path) -> None:
    path = tmp_path / "a.ts"
    data = os.urandom(3000)
    path.write_bytes(data)
    spool = Spool(tmp_path / "spool", max_bytes=10**6)
    record(FileSource(path, CLOCK), spool)
    chunk = spool.peek(0)
    assert chunk is not None
    assert chunk.mark is not None
    source = FileSource(path, CLOCK, resume=chunk.mark)
    again = Spool(tmp_path / "again", max_bytes=10**6)
    record(source, again)
    assert drain(again) == data[1000:]
    assert source.resume_note == "resumed after byte 1000"
    assert not source.source_changed


@pytest.mark.parametrize("change", ["replaced", "truncated", "rewritten"])
def test_a_changed_file_is_recorded_as_new_and_said_so(
    tmp_path: Path, change: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "a.ts"
    path.write_bytes(os.urandom(3000))
    spool = Spool(tmp_path / "spool", max_bytes=10**6)
    record(FileSource(path, CLOCK), spool)
    chunk = spool.peek(0)
    assert chunk is not None
    assert chunk.mark is not None
    if change == "replaced":
        new = tmp_path / "b.ts"
        new.write_bytes(os.urandom(3000))
        new.replace(path)
    elif change == "truncated":
        os.truncate(path, 500)
    else:  # same inode, size and head, other bytes later on and another mtime
        with path.open("r+b") as fh:
            fh.seek(2000)
            fh.write(b"\0" * 10)
    now = path.read_bytes()
    source = FileSource(path, CLOCK, resume=chunk.mark)
    again = Spool(tmp_path / "again", max_bytes=10**6)
    with caplog.at_level(logging.WARNING, logger="device.resume"):
        record(source, again)
    assert drain(again) == now
    assert "new recording" in source.resume_note
    assert source.source_changed
    assert any("changed since" in r.getMessage() for r in caplog.records)


def test_a_pattern_resumes_at_its_offset_and_ends_at_the_same_byte(tmp_path: Path) -> None:
    mark = SourceMark(kind="pattern", identity="seed=3", offset=40_000)
    source = PatternSource(CLOCK, bitrate_bps=800_000, duration_s=0.5, seed=3, resume=mark)
    spool = Spool(tmp_path, max_bytes=10**6)
    record(source, spool, chunk_bytes=10_000)
    assert drain(spool) == pattern_bytes(3, 40_000, 10_000)
    other = PatternSource(CLOCK, bitrate_bps=800_000, seed=4, resume=mark)
    assert other.produced == 0
    assert other.resume_note.endswith("new recording")


def test_stdin_carries_no_mark(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10**6)
    record(StreamSource(io.BufferedReader(io.BytesIO(b"a" * 1500)), CLOCK), spool)
    chunk = spool.peek(0)
    assert chunk is not None
    assert chunk.mark is None
    assert Spool(tmp_path, max_bytes=10**6).recovered_mark is None


def test_the_journal_keeps_the_mark_of_the_last_stored_chunk(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    mark = SourceMark(kind="directory", identity="1:2:3:4", name="seg-001.ts", offset=3)
    journal.commit(journal.state.model_copy(update={"source": mark}))
    assert Journal(tmp_path).state.source == mark


def test_a_changed_file_is_reported_in_the_cameras_status(
    stack: Stack, tmp_path: Path, mqtt_client_factory: MqttProbeFactory
) -> None:
    path = tmp_path / "recording.ts"
    path.write_bytes(os.urandom(200_000))
    settings = stack.agent_settings(
        "cam-changed", tmp_path / "spool", source={"kind": "file", "path": str(path)}
    )
    probe = mqtt_client_factory(stack.broker)
    probe.connect()
    watcher = Watcher(probe, settings.device_id, settings.secret.get_secret_value())
    first = Agent(settings)
    assert first.run(until_drained=True) == 0
    assert not any(StatusAlert.SOURCE_CHANGED in s.alerts for s in watcher.statuses())
    replacement = tmp_path / "new.ts"
    replacement.write_bytes(os.urandom(200_000))
    replacement.replace(path)  # another file under the same name: a new recording
    second = Agent(settings)
    assert second.run(until_drained=True) == 0
    wait_until(
        lambda: any(
            StatusAlert.SOURCE_CHANGED in s.alerts for s in watcher.statuses() if s.sig is not None
        ),
        timeout=30,
        what="source_changed in the status",
    )
