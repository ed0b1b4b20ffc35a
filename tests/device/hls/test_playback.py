"""What the stream stores plays in FFmpeg (through PyAV): segments, playlists, timing."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from device.clock import ManualClock
from device.hls import HlsOptions, HlsStream, MemorySink
from device.hls.adts import AdtsFrame
from tests.device.hls.feed import feed
from tests.device.hls.media import VideoUnit, strip_parameter_sets
from tests.device.hls.playback import (
    HLS_OPTIONS,
    decode,
    extinf,
    ffmpeg_log,
    target_duration,
    write_out,
)
from tests.device.hls.sinks import playlist_uris

FRAME = 9000  # 10 fps in 90 kHz ticks
AAC_FRAME = 1024 * 90_000 // 16_000


def _record(
    units: list[VideoUnit],
    audio: list[AdtsFrame],
    root: Path,
    *,
    explicit_dts: bool = False,
    **options: object,
) -> tuple[MemorySink, Path]:
    sink = MemorySink()
    stream = HlsStream(sink, clock=ManualClock())
    args: dict[str, object] = {
        "prefix": "videos/cam-0001/",
        "session": "S1",
        "frame_rate": 10,
        "audio_sample_rate": 16_000 if audio else None,
    }
    args.update(options)
    stream.open(HlsOptions(**args))  # type: ignore[arg-type]
    feed(stream, units, audio, explicit_dts=explicit_dts)
    assert stream.close()
    write_out(sink, root)
    assert stream.playlist_key is not None
    return sink, root / stream.playlist_key


@pytest.fixture(scope="module")
def vod(
    tmp_path_factory: pytest.TempPathFactory,
    video_units: list[VideoUnit],
    adts_frames: list[AdtsFrame],
) -> tuple[MemorySink, Path]:
    return _record(
        video_units,
        adts_frames,
        tmp_path_factory.mktemp("vod"),
        mode="vod",
        target_duration_s=2.0,
    )


def test_each_segment_decodes_alone_from_a_key_frame(vod: tuple[MemorySink, Path]) -> None:
    _, playlist = vod
    text = playlist.read_text()
    segments = [playlist.parent / uri for uri in playlist_uris(text)]
    assert len(segments) == 4
    with ffmpeg_log() as logs:
        decoded = [decode(path) for path in segments]
    assert logs == []
    for part in decoded:
        assert part.codecs == {("video", "h264"), ("audio", "aac")}
        assert part.first_is_key
    # Timestamps run on across segment boundaries, one frame apart, no gap and no overlap.
    video = [pts for part in decoded for pts in part.video_pts]
    assert video == [126_000 + FRAME * i for i in range(65)]
    audio = [pts for part in decoded for pts in part.audio_pts]
    assert audio == [126_000 + AAC_FRAME * i for i in range(len(audio))]
    # EXTINF is what the segment holds: its pictures times the frame interval.
    assert extinf(text) == [len(p.video_pts) * FRAME / 90_000 for p in decoded]


def test_durations_stay_within_the_target(vod: tuple[MemorySink, Path]) -> None:
    text = vod[1].read_text()
    durations = extinf(text)
    assert target_duration(text) == 2
    assert all(d <= target_duration(text) for d in durations)
    assert all(d >= 2.0 for d in durations[:-1])  # only the last one may be short


def test_vod_playlist_plays_end_to_end(
    vod: tuple[MemorySink, Path], adts_frames: list[AdtsFrame]
) -> None:
    with ffmpeg_log() as logs:
        whole = decode(vod[1], HLS_OPTIONS)
    assert logs == []
    assert whole.codecs == {("video", "h264"), ("audio", "aac")}
    assert len(whole.video_pts) == 65
    assert whole.first_is_key
    assert whole.video_pts == sorted(whole.video_pts)
    # Every ADTS frame fed (those due by the last picture) decodes to 1024 samples.
    fed = sum(1 for i in range(len(adts_frames)) if i * AAC_FRAME <= 64 * FRAME)
    assert whole.audio_samples == fed * 1024


def test_b_frames_play_in_presentation_order(tmp_path: Path, bframe_units: list[VideoUnit]) -> None:
    _, playlist = _record(
        bframe_units, [], tmp_path, explicit_dts=True, mode="vod", target_duration_s=1.0
    )
    with ffmpeg_log() as logs:
        whole = decode(playlist, HLS_OPTIONS)
    assert logs == []
    assert whole.codecs == {("video", "h264")}
    first = whole.video_pts[0]
    assert whole.video_pts == [first + FRAME * i for i in range(30)]


def test_video_only_live_window_plays(tmp_path: Path, video_units: list[VideoUnit]) -> None:
    sink, playlist = _record(
        video_units, [], tmp_path, mode="live", list_size=3, target_duration_s=1.0
    )
    text = playlist.read_text()
    assert "#EXT-X-MEDIA-SEQUENCE:4" in text
    with ffmpeg_log() as logs:
        whole = decode(playlist, HLS_OPTIONS)
    assert logs == []
    assert whole.codecs == {("video", "h264")}
    assert whole.first_is_key
    assert len(whole.video_pts) == 25  # segments 4, 5 and 6: pictures 40-64
    # The older segments are still stored: the window only stopped listing them.
    assert sum(k.endswith(".ts") for k in sink.objects) == 7


def test_ffmpeg_reads_every_packet_as_a_transport_stream(
    vod: tuple[MemorySink, Path],
) -> None:
    segment = vod[1].parent / playlist_uris(vod[1].read_text())[0]
    with av.open(str(segment)) as container:
        assert container.format.name == "mpegts"
        keys = [p.is_keyframe for p in container.demux(video=0) if p.size]
    assert keys[0]
    assert keys.count(True) == 2  # IDR every second, 2 s segment


def test_segments_decode_when_the_encoder_sent_parameter_sets_once(
    tmp_path: Path, video_units: list[VideoUnit]
) -> None:
    only_first = [video_units[0], *(strip_parameter_sets(u) for u in video_units[1:])]
    _, playlist = _record(only_first, [], tmp_path, mode="vod", target_duration_s=2.0)
    last = playlist.parent / playlist_uris(playlist.read_text())[-1]
    with ffmpeg_log() as logs:
        alone = decode(last)
    assert logs == []
    assert alone.first_is_key
    assert len(alone.video_pts) == 5
