"""Whole-object entries in the spool, and the uploader putting them, in order, into OSS."""

from __future__ import annotations

from pathlib import Path

import pytest

from device.clock import AdjustedClock, SystemClock
from device.crc64 import crc64
from device.errors import SpoolFull, StorageError, TransientStorageError
from device.hls import SpoolSink
from device.settings import AppendRetrySettings, UploadSettings
from device.spool import Journal, ObjectPut, Report, Spool, decode_object_put
from device.target import StaticTarget
from device.uploader import Uploader
from schemas.events import SegmentClosed, SegmentOpened
from schemas.keys import DeviceKeys, new_device_secret
from schemas.messages import parse_event
from simulator.emulator.handle import EmulatorHandle
from tests.device.hls.observed import RecordingStore, observed_emulator, playlist_violations
from tests.device.stores import camera_store, root_store

PREFIX = "videos/cam-0007/"
M3U8 = "application/vnd.apple.mpegurl"


def test_objects_and_append_chunks_keep_one_order_across_reopen(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1_000_000)
    spool.put(b"append-1", wall_ms=1)
    spool.put_object(ObjectPut("front/S/000000.ts", b"seg-0", "video/mp2t"), wall_ms=2)
    spool.put(b"append-2", wall_ms=3)
    spool.put_object(ObjectPut("front/S.m3u8", b"#EXTM3U\n", M3U8), wall_ms=4)
    assert spool.stats().objects == 2
    spool.close()

    reopened = Spool(tmp_path, max_bytes=1_000_000)
    assert reopened.stats().objects == 2
    seen = []
    while (chunk := reopened.peek(0)) is not None:
        if chunk.whole_object:
            put = decode_object_put(chunk.data)
            seen.append((put.name, put.data, put.content_type))
        else:
            seen.append(("append", chunk.data, ""))
        reopened.ack(chunk.seq)
    assert seen == [
        ("append", b"append-1", ""),
        ("front/S/000000.ts", b"seg-0", "video/mp2t"),
        ("append", b"append-2", ""),
        ("front/S.m3u8", b"#EXTM3U\n", M3U8),
    ]


def test_report_request_survives_the_round_trip(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1_000_000)
    put = ObjectPut("s.m3u8", b"#EXTM3U\n#EXT-X-ENDLIST\n", M3U8, Report(1_000, 9_000))
    spool.put_object(put, wall_ms=1)
    chunk = spool.peek(0)
    assert chunk is not None
    assert decode_object_put(chunk.data) == put
    with pytest.raises(ValueError, match="span"):
        ObjectPut("s.m3u8", b"x", M3U8, Report(9_000, 1_000))
    live = ObjectPut("s.m3u8", b"#EXTM3U\n", M3U8, opened_ms=1_000)
    spool.put_object(live, wall_ms=2)
    spool.ack(chunk.seq)
    chunk = spool.peek(0)
    assert chunk is not None
    assert decode_object_put(chunk.data) == live
    with pytest.raises(ValueError, match="opened"):
        ObjectPut("s.m3u8", b"x", M3U8, Report(1_000, 9_000), opened_ms=1_000)


def test_only_the_first_live_playlist_asks_to_be_announced_as_opened(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1_000_000)
    sink = SpoolSink(spool, SystemClock())
    sink.recording_started(5_000)
    sink.put_object("rec/S/000000.ts", b"segment", "video/mp2t")
    sink.put_object("rec/S.m3u8", b"#EXTM3U\nS/000000.ts\n", M3U8)
    sink.put_object("rec/S/000001.ts", b"segment", "video/mp2t")
    sink.put_object("rec/S.m3u8", b"#EXTM3U\nS/000000.ts\nS/000001.ts\n", M3U8)
    sink.put_object("rec/S.m3u8", b"#EXTM3U\nS/000000.ts\n#EXT-X-ENDLIST\n", M3U8)
    puts = []
    while (chunk := spool.peek(0)) is not None:
        puts.append(decode_object_put(chunk.data))
        spool.ack(chunk.seq)
    assert [(p.opened_ms, p.report is not None) for p in puts] == [
        (None, False),
        (5_000, False),
        (None, False),
        (None, False),
        (None, True),
    ]


def test_drop_oldest_never_drops_a_whole_object(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=64 * 1024, policy="drop_oldest")
    spool.put_object(ObjectPut("s/000000.ts", b"s" * 30_000, "video/mp2t"), wall_ms=1)
    spool.put(b"a" * 20_000, wall_ms=2)
    # A new append chunk pushes out the older append chunk, not the segment.
    spool.put(b"b" * 20_000, wall_ms=3)
    assert spool.stats().counters.dropped_chunks == 1
    # A whole object that does not fit is refused and not counted as dropped data.
    with pytest.raises(SpoolFull):
        spool.put_object(ObjectPut("s/000001.ts", b"t" * 30_000, "video/mp2t"), wall_ms=4)
    stats = spool.stats()
    assert stats.counters.rejected_chunks == 0
    assert stats.objects == 1
    first = spool.peek(0)
    assert first is not None
    assert first.whole_object
    assert decode_object_put(first.data).name == "s/000000.ts"


@pytest.mark.parametrize("name", ["", "/abs.ts", "a//b.ts", "a/../b.ts", "dir/", "a\nb.ts"])
def test_unclean_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match=r"object|folder|control"):
        ObjectPut(name, b"x", "video/mp2t")
    sink = SpoolSink(Spool(tmp_path, max_bytes=1_000_000), SystemClock())
    with pytest.raises(StorageError) as caught:
        sink.put_object(name, b"x", "video/mp2t")
    assert not isinstance(caught.value, TransientStorageError)


def test_spool_sink_turns_a_full_spool_into_a_retryable_storage_error(tmp_path: Path) -> None:
    sink = SpoolSink(Spool(tmp_path, max_bytes=64 * 1024), SystemClock())
    sink.put_object("s/000000.ts", b"x" * 40_000, "video/mp2t")
    with pytest.raises(TransientStorageError) as caught:
        sink.put_object("s/000001.ts", b"y" * 40_000, "video/mp2t")
    assert caught.value.code == "spool_full"
    assert sink.queued_objects == 1


def _uploader(spool: Spool, journal: Journal, emulator: EmulatorHandle) -> Uploader:
    return Uploader(
        device_id="cam-0007",
        keys=DeviceKeys.from_secret(new_device_secret()),
        spool=spool,
        journal=journal,
        target=StaticTarget(camera_store(emulator, PREFIX), PREFIX),
        settings=UploadSettings(
            retry=AppendRetrySettings(attempts=3, initial_s=0.01, max_s=0.05, request_timeout_s=5)
        ),
        clock=AdjustedClock(SystemClock()),
    )


def _drain(uploader: Uploader, spool: Spool) -> list[str]:
    """Step until the spool is empty; return the errors of failed steps."""
    errors = []
    for _ in range(200):
        if spool.stats().chunks == 0:
            return errors
        try:
            uploader.step()
        except StorageError as exc:
            errors.append(exc.code)
    raise AssertionError("the spool did not drain")


def _spool_recording(spool: Spool) -> dict[str, bytes]:
    objects = {f"rec/S/{i:06d}.ts": bytes([i]) * (5000 + i) for i in range(3)}
    for name, data in objects.items():
        spool.put_object(ObjectPut(name, data, "video/mp2t"), wall_ms=1)
    playlist = b"#EXTM3U\n" + b"".join(f"S/{i:06d}.ts\n".encode() for i in range(3))
    spool.put_object(ObjectPut("rec/live.m3u8", playlist, M3U8), wall_ms=2)
    return {**objects, "rec/live.m3u8": playlist}


def test_uploader_puts_objects_under_the_grant_prefix_with_their_types(tmp_path: Path) -> None:
    with observed_emulator() as (emulator, store):
        spool = Spool(tmp_path, max_bytes=1_000_000)
        journal = Journal(tmp_path)
        spool.put(b"appended bytes", wall_ms=SystemClock().wall_ms())
        expected = _spool_recording(spool)
        uploader = _uploader(spool, journal, emulator)
        assert _drain(uploader, spool) == []

        root = root_store(emulator)
        for name, data in expected.items():
            info = root.head(PREFIX + name)
            assert info is not None
            assert info.object_type == "Normal"
            assert root.get(PREFIX + name) == data
        assert root.head(PREFIX + "rec/live.m3u8").content_type == M3U8  # type: ignore[union-attr]
        assert root.head(PREFIX + "rec/S/000000.ts").content_type == "video/mp2t"  # type: ignore[union-attr]
        counters = journal.state.counters
        assert counters.objects_put == 4
        # No playlist asked to be reported; only the append object announced itself.
        pending = [parse_event(p.encode()) for p in journal.state.pending_events]
        assert [type(e) for e in pending] == [SegmentOpened]
        assert counters.uploaded_chunks == 5
        assert journal.state.current is not None  # the append object is untouched
        assert [c.key for c in store.log()] == [PREFIX + n for n in expected]


def test_a_stored_final_playlist_is_reported_once_with_its_crc(tmp_path: Path) -> None:
    with observed_emulator() as (emulator, _):
        spool = Spool(tmp_path, max_bytes=1_000_000)
        journal = Journal(tmp_path)
        sink = SpoolSink(spool, SystemClock())
        sink.recording_started(1_764_000_000_000)
        sink.put_object("rec/S/000000.ts", b"segment", "video/mp2t")
        sink.put_object("rec/S.m3u8", b"#EXTM3U\nS/000000.ts\n", M3U8)
        final = b"#EXTM3U\nS/000000.ts\n#EXT-X-ENDLIST\n"
        sink.put_object("rec/S.m3u8", final, M3U8)
        uploader = _uploader(spool, journal, emulator)
        first_seq = journal.state.next_object_seq
        assert _drain(uploader, spool) == []
        opened, event = (parse_event(p.encode()) for p in journal.state.pending_events)
        # The first live version announced the recording in progress, under the seq its
        # segment.closed carries (the console pairs the two by it).
        assert isinstance(opened, SegmentOpened)
        assert (opened.key, opened.seq, opened.start_ms) == (
            PREFIX + "rec/S.m3u8",
            first_seq,
            1_764_000_000_000,
        )
        assert isinstance(event, SegmentClosed)
        assert (event.key, event.bytes, event.crc64, event.seq) == (
            PREFIX + "rec/S.m3u8",
            len(final),
            crc64(final),
            first_seq,
        )
        assert event.start_ms == 1_764_000_000_000 <= event.end_ms
        assert journal.state.counters.objects_closed == 1


def test_a_session_resumed_after_a_restart_announces_the_same_object_again(
    tmp_path: Path,
) -> None:
    with observed_emulator() as (emulator, _):
        spool = Spool(tmp_path, max_bytes=1_000_000)
        journal = Journal(tmp_path)
        before = SpoolSink(spool, SystemClock())
        before.put_object("rec/S/000000.ts", b"segment-0", "video/mp2t")
        before.put_object("rec/S.m3u8", b"#EXTM3U\nS/000000.ts\n", M3U8)
        assert _drain(_uploader(spool, journal, emulator), spool) == []
        # The restarted camera goes on in the same session and asks to announce it again.
        after = SpoolSink(spool, SystemClock(), skip=1)
        after.put_object("rec/S/000000.ts", b"segment-0", "video/mp2t")  # queued before
        after.put_object("rec/S/000001.ts", b"segment-1", "video/mp2t")
        after.put_object("rec/S.m3u8", b"#EXTM3U\nS/000000.ts\nS/000001.ts\n", M3U8)
        assert _drain(_uploader(spool, journal, emulator), spool) == []
        first, second = (parse_event(p.encode()) for p in journal.state.pending_events)
        assert isinstance(first, SegmentOpened)
        assert isinstance(second, SegmentOpened)
        # Receivers keep one recording per (device_id, seq): the second adds nothing.
        seq = journal.state.next_object_seq  # the seq the final segment.closed will take
        assert (first.key, first.seq) == (second.key, second.seq) == (PREFIX + "rec/S.m3u8", seq)


def _check_order(store: RecordingStore, expected: dict[str, bytes]) -> None:
    commits = store.log()
    versions, problems = playlist_violations(commits)
    assert versions >= 1
    assert problems == []
    final = {c.key: c.data for c in commits}
    assert final == {PREFIX + n: d for n, d in expected.items()}


def test_outage_holds_the_playlist_back_until_every_segment_is_stored(tmp_path: Path) -> None:
    with observed_emulator() as (emulator, store):
        spool = Spool(tmp_path, max_bytes=1_000_000)
        journal = Journal(tmp_path)
        expected = _spool_recording(spool)
        uploader = _uploader(spool, journal, emulator)
        assert uploader.step()  # the first segment is stored
        emulator.set_faults({"outages": [{"mode": "reset"}]})
        for _ in range(3):
            with pytest.raises(TransientStorageError):
                uploader.step()
        assert spool.stats().objects == 3  # nothing overtook the failed segment
        assert [c.key for c in store.log()] == [PREFIX + "rec/S/000000.ts"]
        emulator.clear_faults()
        assert _drain(uploader, spool) == []
        _check_order(store, expected)


def test_lost_responses_repeat_the_put_and_store_the_same_bytes(tmp_path: Path) -> None:
    with observed_emulator() as (emulator, store):
        spool = Spool(tmp_path, max_bytes=1_000_000)
        journal = Journal(tmp_path)
        expected = _spool_recording(spool)
        uploader = _uploader(spool, journal, emulator)
        emulator.set_faults(
            {"seed": 3, "rules": [{"operations": ["PutObject"], "lost_response_rate": 0.5}]}
        )
        _drain(uploader, spool)
        injected = emulator.faults()["injected"]["PutObject"]
        emulator.clear_faults()
        assert injected.get("lost_response", 0) >= 2
        # Each lost answer made the uploader send the same put again: a playlist is stored
        # again, a segment (put with x-oss-forbid-overwrite) is refused and found stored.
        keys = [c.key for c in store.log()]
        segments = [key for key in keys if key.endswith(".ts")]
        assert len(segments) == len(set(segments))
        assert len(keys) <= 4 + injected["lost_response"]
        _check_order(store, expected)
        assert journal.state.counters.objects_put == 4
