"""Completeness and order of segment files, and fMP4 initialisation segments."""

from __future__ import annotations

import os
import struct
from pathlib import Path

from device.clock import ManualClock
from device.fmp4 import split_fmp4
from device.segdir import SegmentScanner, natural_key


def _scanner(directory: Path, settle_s: float = 2.0) -> tuple[SegmentScanner, ManualClock]:
    clock = ManualClock()
    return SegmentScanner(directory, clock, settle_s=settle_s), clock


def _names(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


def test_natural_order() -> None:
    names = ["seg10.ts", "seg11.ts", "seg7.ts", "seg9.ts", "seg8.ts", "a.ts"]
    assert sorted(names, key=natural_key) == [
        "a.ts", "seg7.ts", "seg8.ts", "seg9.ts", "seg10.ts", "seg11.ts"
    ]  # fmt: skip


def test_an_empty_file_is_never_complete(tmp_path: Path) -> None:
    scanner, clock = _scanner(tmp_path)
    (tmp_path / "seg0.ts").write_bytes(b"")
    assert scanner.complete() == []
    clock.advance(60)
    assert scanner.complete() == []  # however long it stays empty


def test_a_file_is_complete_once_the_encoder_moved_on(tmp_path: Path) -> None:
    scanner, clock = _scanner(tmp_path)
    (tmp_path / "seg9.ts").write_bytes(b"x" * 100)
    (tmp_path / "seg10.ts").write_bytes(b"")  # ffmpeg opened the next segment
    assert _names(scanner.complete()) == ["seg9.ts"]
    (tmp_path / "seg9.ts").unlink()
    scanner.taken(tmp_path / "seg9.ts")
    (tmp_path / "seg10.ts").write_bytes(b"y" * 100)  # the last one: settle time applies
    assert scanner.complete() == []
    clock.advance(1.9)
    assert scanner.complete() == []
    clock.advance(0.2)
    assert _names(scanner.complete()) == ["seg10.ts"]


def test_a_growing_newest_file_waits(tmp_path: Path) -> None:
    scanner, clock = _scanner(tmp_path)
    path = tmp_path / "seg1.ts"
    for size in range(1, 6):
        path.write_bytes(b"x" * size * 10)
        os.utime(path, ns=(size * 10**9, size * 10**9))
        assert scanner.complete() == []
        clock.advance(1.5)
    clock.advance(1)
    assert _names(scanner.complete()) == ["seg1.ts"]


def test_temporary_names_and_playlists_are_never_taken(tmp_path: Path) -> None:
    scanner, clock = _scanner(tmp_path, settle_s=0)
    for name in [".seg1.ts", "seg2.m4s.tmp", "seg3.ts.part", "index.m3u8", "x.mpd", "seg4.ts~"]:
        (tmp_path / name).write_bytes(b"data")
    assert scanner.complete() == []
    clock.advance(100)
    assert scanner.complete() == []


def test_an_incomplete_file_holds_back_later_ones_until_abandoned(tmp_path: Path) -> None:
    scanner, clock = _scanner(tmp_path)
    (tmp_path / "init.mp4").write_bytes(b"")  # filled later by ffmpeg's HLS muxer
    (tmp_path / "seg1.m4s").write_bytes(b"x" * 10)
    assert scanner.complete() == []  # never seg1 before init
    clock.advance(1)
    (tmp_path / "init.mp4").write_bytes(b"i" * 10)
    assert _names(scanner.complete()) == ["init.mp4"]
    (tmp_path / "init.mp4").unlink()
    # An empty file the encoder left behind stops blocking after the settle time.
    (tmp_path / "seg0.m4s").write_bytes(b"")
    assert scanner.complete() == []
    clock.advance(2.5)
    assert _names(scanner.complete()) == ["seg1.m4s"]


def _box(kind: bytes, body: bytes = b"") -> bytes:
    return struct.pack(">I4s", 8 + len(body), kind) + body


def test_fmp4_split() -> None:
    init = _box(b"ftyp", b"isom") + _box(b"moov", b"m" * 20)
    media = _box(b"moof", b"f" * 12) + _box(b"mdat", b"d" * 50)
    whole = init + media + _box(b"mfra", b"r")
    assert split_fmp4(whole).init == init
    assert split_fmp4(whole).media == media  # the per-file index is left out
    segment = _box(b"styp", b"msdh") + _box(b"sidx", b"s" * 4) + media
    assert split_fmp4(segment).init == b""
    assert split_fmp4(segment).media == _box(b"styp", b"msdh") + media
    assert split_fmp4(init).media == b""
    ts = b"\x47" + b"\x00" * 187
    assert split_fmp4(ts).media == ts
    assert split_fmp4(ts).init == b""
    garbage = _box(b"moof", b"x") + b"\x00\x00"  # truncated: not taken apart
    assert split_fmp4(garbage).media == garbage
