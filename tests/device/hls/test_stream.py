from __future__ import annotations

import re

import pytest

from device.backoff import Backoff
from device.clock import ManualClock
from device.hls import (
    PLAYLIST_CONTENT_TYPE,
    SEGMENT_CONTENT_TYPE,
    HlsBackpressureError,
    HlsInputError,
    HlsOptions,
    HlsStateError,
    HlsStream,
    MemorySink,
    SegmentSink,
)
from device.hls.adts import AdtsFrame
from tests.device.hls.feed import feed
from tests.device.hls.media import VideoUnit
from tests.device.hls.sinks import FaultySink, playlist_uris, resolve

PREFIX = "videos/cam-0001/"


def _options(**kwargs: object) -> HlsOptions:
    args: dict[str, object] = {
        "prefix": PREFIX,
        "stream": "front",
        "session": "S1",
        "frame_rate": 10,
        "target_duration_s": 2.0,
    }
    args.update(kwargs)
    return HlsOptions(**args)  # type: ignore[arg-type]


def _media_sequence(text: str) -> int:
    match = re.search(r"#EXT-X-MEDIA-SEQUENCE:(\d+)", text)
    assert match is not None
    return int(match.group(1))


def test_sinks_satisfy_the_protocol() -> None:
    assert isinstance(MemorySink(), SegmentSink)
    assert isinstance(FaultySink(), SegmentSink)


def test_vod_recording_stores_segments_then_playlist(
    video_units: list[VideoUnit], adts_frames: list[AdtsFrame]
) -> None:
    sink = MemorySink()
    stream = HlsStream(sink, clock=ManualClock())
    stream.open(_options(mode="vod", audio_sample_rate=16_000))
    feed(stream, video_units, adts_frames)
    assert stream.close() is True
    playlist = f"{PREFIX}front/S1.m3u8"
    segments = [f"{PREFIX}front/S1/{i:06d}.ts" for i in range(4)]
    assert stream.playlist_key == playlist
    assert sink.puts == [k for seg in segments for k in (seg, playlist)]
    assert {sink.objects[k].content_type for k in segments} == {SEGMENT_CONTENT_TYPE}
    assert sink.objects[playlist].content_type == PLAYLIST_CONTENT_TYPE
    text = sink.get(playlist).decode()
    assert playlist_uris(text) == [f"S1/{i:06d}.ts" for i in range(4)]
    assert text.endswith("#EXTINF:0.500,\nS1/000003.ts\n#EXT-X-ENDLIST\n")
    assert "#EXT-X-PLAYLIST-TYPE:EVENT" in text
    stats = stream.stats()
    assert stats.segments_finished == stats.segments_stored == 4
    assert stats.playlist_writes == 4
    assert stats.pending_segments == 0
    assert stats.bytes_stored == sum(len(sink.get(k)) for k in segments)
    assert not stream.is_open


def test_live_window_slides_and_nothing_is_deleted(video_units: list[VideoUnit]) -> None:
    sink = FaultySink()
    stream = HlsStream(sink, clock=ManualClock())
    stream.open(_options(mode="live", list_size=3, target_duration_s=1.0))
    feed(stream, video_units)
    assert stream.close()
    assert sink.violations == []
    versions = sink.playlist_versions
    assert len(versions) == 7  # one per stored segment; the last one also ends the list
    for n, text in enumerate(versions):
        uris = playlist_uris(text)
        first = max(0, n - 2)
        assert uris == [f"S1/{i:06d}.ts" for i in range(first, n + 1)]
        assert _media_sequence(text) == first
        assert text.endswith("#EXT-X-ENDLIST\n") == (n == 6)
    # Every segment stays in the bucket: retention is the lifecycle rule's job.
    assert sorted(k for k in sink.store.objects if k.endswith(".ts")) == [
        f"{PREFIX}front/S1/{i:06d}.ts" for i in range(7)
    ]


def test_outage_never_lists_an_unstored_segment(video_units: list[VideoUnit]) -> None:
    clock = ManualClock()
    sink = FaultySink()
    stream = HlsStream(sink, clock=clock, backoff=Backoff(initial=0.1, maximum=0.4))
    stream.open(_options(mode="live", list_size=4, target_duration_s=1.0))
    stored_by_frame = []
    for n, unit in enumerate(video_units):
        sink.down = 12 <= n < 45  # OSS unreachable for 3.3 s of recording
        stream.write(video=unit.data, pts=unit.pts)
        stored_by_frame.append(stream.stats().segments_stored)
        clock.advance(0.1)
    during = [a for a in sink.attempts if a.outcome == "refused"]
    # Segments wait from picture 20 on. Retries follow the jittered backoff (windows up to
    # 0.4 s), not the frame rate: 25 writes during the outage, far fewer attempts.
    assert 5 <= len(during) < 20
    # Segments 1-3 were cut during the outage and are stored within the backoff cap after.
    assert stored_by_frame[44] == 1
    assert stored_by_frame[49] == 4
    assert stream.close(timeout_s=60)
    assert sink.violations == []
    assert sink.playlists_checked == 5  # after segments 0, 1-3, 4, 5, and 6 with the end
    stored = [a.key for a in sink.attempts if a.outcome == "stored" and a.key.endswith(".ts")]
    assert stored == [f"{PREFIX}front/S1/{i:06d}.ts" for i in range(7)]  # in order, once each
    final = sink.store.get(f"{PREFIX}front/S1.m3u8").decode()
    assert playlist_uris(final) == [f"S1/{i:06d}.ts" for i in range(3, 7)]
    stats = stream.stats()
    assert stats.storage_failures == len(during)
    assert stats.last_error is not None
    assert "connection refused" in stats.last_error


def test_lost_responses_are_repeated_safely(video_units: list[VideoUnit]) -> None:
    clock = ManualClock()
    sink = FaultySink()
    stream = HlsStream(sink, clock=clock)
    stream.open(_options(mode="vod", target_duration_s=1.0))
    for n, unit in enumerate(video_units):
        # Every put in this stretch lands but its answer is lost.
        sink.lose_responses = 15 <= n < 35
        stream.write(video=unit.data, pts=unit.pts)
        clock.advance(0.1)
    sink.lose_responses = False
    assert stream.close(timeout_s=60)
    assert sink.violations == []
    lost = [a for a in sink.attempts if a.outcome == "lost"]
    assert lost
    final = sink.store.get(f"{PREFIX}front/S1.m3u8").decode()
    assert playlist_uris(final) == [f"S1/{i:06d}.ts" for i in range(7)]
    assert final.endswith("#EXT-X-ENDLIST\n")
    for uri in playlist_uris(final):
        assert resolve(f"{PREFIX}front/S1.m3u8", uri) in sink.store.objects


def test_backpressure_refuses_frames_then_resyncs(video_units: list[VideoUnit]) -> None:
    clock = ManualClock()
    sink = FaultySink(down=True)
    stream = HlsStream(sink, clock=clock)
    stream.open(_options(target_duration_s=1.0, max_pending_segments=2))
    refused = []
    for n, unit in enumerate(video_units):
        if n == 45:
            sink.down = False
            clock.advance(120)  # past any backoff delay
        try:
            stream.write(video=unit.data, pts=unit.pts)
        except HlsBackpressureError as exc:
            refused.append((n, exc.pending))
        clock.advance(0.1)
    # The IDR at 20 finished the second waiting segment: from then on frames are refused.
    assert refused == [(n, 2) for n in range(21, 45)]
    assert stream.close()
    stats = stream.stats()
    assert stats.dropped_video_frames == 5  # 45..49: nothing before the IDR at 50 is muxed
    assert sink.violations == []
    final = sink.store.get(f"{PREFIX}front/S1.m3u8").decode()
    assert len(playlist_uris(final)) == 5
    # Segment 2 holds picture 20 only; the timeline keeps the gap up to picture 50.
    assert re.findall(r"#EXTINF:([\d.]+),", final) == ["1.000", "1.000", "3.000", "1.000", "0.500"]


def test_close_during_outage_then_flush(video_units: list[VideoUnit]) -> None:
    clock = ManualClock()
    sink = FaultySink()
    stream = HlsStream(sink, clock=clock)
    stream.open(_options(mode="vod"))
    feed(stream, video_units[:25])
    sink.down = True
    start = clock.monotonic()
    assert stream.close(timeout_s=10) is False
    assert clock.monotonic() - start <= 10  # virtual time: the test did not wait
    assert clock.slept
    assert not stream.is_open
    with pytest.raises(HlsStateError):
        stream.open(_options(session="S2"))
    sink.down = False
    assert stream.flush() is True
    final = sink.store.get(f"{PREFIX}front/S1.m3u8").decode()
    assert final.endswith("#EXT-X-ENDLIST\n")
    assert len(playlist_uris(final)) == 2
    stream.open(_options(session="S2"))  # allowed once everything is stored
    assert stream.playlist_key == f"{PREFIX}front/S2.m3u8"


def test_state_errors(video_units: list[VideoUnit]) -> None:
    stream = HlsStream(MemorySink(), clock=ManualClock())
    with pytest.raises(HlsStateError):
        stream.write(video=video_units[0].data)
    stream.open(_options())
    with pytest.raises(HlsStateError):
        stream.open(_options())
    with pytest.raises(HlsInputError):
        stream.write(audio=b"\xff\xf1")  # video-only stream
    stream.close()
    with pytest.raises(HlsStateError):
        stream.write(video=video_units[0].data)


def test_empty_recording_writes_nothing() -> None:
    sink = MemorySink()
    with HlsStream(sink, clock=ManualClock()) as stream:
        stream.open(_options())
    assert sink.puts == []
    assert not stream.is_open


def test_default_session_is_the_utc_start_time(video_units: list[VideoUnit]) -> None:
    sink = MemorySink()
    stream = HlsStream(sink, clock=ManualClock(wall_ms=1_764_380_000_000))
    stream.open(HlsOptions(prefix=PREFIX, frame_rate=10))
    feed(stream, video_units[:10])
    stream.close()
    assert stream.session == "20251129T013320Z"
    assert set(sink.objects) == {
        f"{PREFIX}hls/20251129T013320Z/000000.ts",
        f"{PREFIX}hls/20251129T013320Z.m3u8",
    }
