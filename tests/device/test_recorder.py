"""Recorder sources and chunking into the spool."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest

from device.clock import SystemClock
from device.errors import SourceError
from device.recorder import (
    DirectorySource,
    FileSource,
    PatternSource,
    Recorder,
    Source,
    StreamSource,
    pattern_bytes,
)
from device.spool import Spool
from tests.device.agentkit import wait_until

CLOCK = SystemClock()


def drain(spool: Spool) -> list[bytes]:
    chunks = []
    while (chunk := spool.peek(0)) is not None:
        chunks.append(chunk.data)
        spool.ack(chunk.seq)
    return chunks


def record(source: Source, spool: Spool, chunk_bytes: int = 1000) -> Recorder:
    recorder = Recorder(source, spool, CLOCK, chunk_bytes=chunk_bytes, chunk_max_age_s=60)
    recorder.run(threading.Event())
    return recorder


def test_pattern_is_reproducible_from_any_offset() -> None:
    whole = pattern_bytes(7, 0, 1000)
    assert len(whole) == 1000
    assert pattern_bytes(7, 130, 400) == whole[130:530]
    assert pattern_bytes(8, 0, 1000) != whole
    assert pattern_bytes(7, 5, 0) == b""


def test_file_source_is_cut_into_chunks(tmp_path: Path) -> None:
    data = pattern_bytes(1, 0, 3500)
    path = tmp_path / "clip.ts"
    path.write_bytes(data)
    spool = Spool(tmp_path / "spool", max_bytes=1_000_000)
    recorder = record(FileSource(path, CLOCK), spool)
    chunks = drain(spool)
    assert [len(c) for c in chunks] == [1000, 1000, 1000, 500]
    assert b"".join(chunks) == data
    assert recorder.stats.read_bytes == 3500
    assert recorder.finished.is_set()


def test_stream_source_reads_until_end_of_file(tmp_path: Path) -> None:
    data = pattern_bytes(2, 0, 2500)
    spool = Spool(tmp_path, max_bytes=1_000_000)
    record(StreamSource(io.BufferedReader(io.BytesIO(data)), CLOCK), spool)
    assert b"".join(drain(spool)) == data


def test_directory_source_takes_files_in_name_order_and_removes_them(tmp_path: Path) -> None:
    segments = tmp_path / "segments"
    segments.mkdir()
    for i, name in enumerate(["seg-002.ts", "seg-000.ts", "seg-001.ts"]):
        (segments / name).write_bytes(bytes([i]) * 1500)
    (segments / ".partial.ts").write_bytes(b"hidden files are being written")
    spool = Spool(tmp_path / "spool", max_bytes=1_000_000)
    recorder = Recorder(
        DirectorySource(segments, CLOCK, settle_s=0, poll_s=0.01),
        spool,
        CLOCK,
        chunk_bytes=1000,
        chunk_max_age_s=60,
    )
    stop = threading.Event()
    thread = threading.Thread(target=recorder.run, args=(stop,))
    thread.start()
    wait_until(lambda: sorted(p.name for p in segments.iterdir()) == [".partial.ts"])
    stop.set()
    thread.join(5)
    # Each file is its own segment: its last partial chunk is flushed before the next file.
    assert drain(spool) == [b"\1" * 1000, b"\1" * 500, b"\2" * 1000, b"\2" * 500,
                            b"\0" * 1000, b"\0" * 500]  # fmt: skip


def test_pattern_source_runs_at_its_bitrate(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1_000_000)
    source = PatternSource(CLOCK, bitrate_bps=800_000, duration_s=0.5, seed=3)
    record(source, spool, chunk_bytes=10_000)
    data = b"".join(drain(spool))
    assert data == pattern_bytes(3, 0, 50_000)


def test_full_spool_rejections_are_counted_and_recording_goes_on(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=2500, policy="reject_new")
    path = tmp_path / "big.bin"
    path.write_bytes(pattern_bytes(4, 0, 5000))
    recorder = record(FileSource(path, CLOCK), spool)
    assert recorder.stats.chunks == 2
    assert recorder.stats.rejected_chunks == 3
    assert spool.stats().counters.rejected_bytes == 3000


def test_unreadable_source_is_a_source_error(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", max_bytes=1_000_000)
    recorder = Recorder(
        FileSource(tmp_path / "gone.ts", CLOCK), spool, CLOCK, chunk_bytes=1000, chunk_max_age_s=60
    )
    with pytest.raises(SourceError) as info:
        recorder.run(threading.Event())
    assert info.value.code == "source"
    assert recorder.finished.is_set()
