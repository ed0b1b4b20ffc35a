from __future__ import annotations

from collections.abc import Sequence

import pytest

from device.hls.adts import AdtsFrame
from device.hls.errors import HlsInputError
from device.hls.h264 import NAL_AUD, NAL_IDR, NAL_PPS, NAL_SPS, nal_type, split_annexb
from device.hls.muxer import AUDIO_PID, PCR_DELAY, PMT_PID, VIDEO_PID
from device.hls.segmenter import STREAM_START, Segmenter, TsSegment
from tests.device.hls.media import VideoUnit, strip_parameter_sets
from tests.device.hls.tsreader import check_continuity, read_packets, read_pes


def _segmenter(**kwargs: object) -> Segmenter:
    args: dict[str, object] = {
        "target_duration_s": 2.0,
        "frame_rate": 10,
        "audio_sample_rate": None,
    }
    args.update(kwargs)
    return Segmenter(**args)  # type: ignore[arg-type]


def _run(seg: Segmenter, units: Sequence[VideoUnit], *, dts: bool = False) -> list[TsSegment]:
    out = []
    for unit in units:
        done = seg.add_video(unit.data, pts=unit.pts, dts=unit.dts if dts else None)
        if done is not None:
            out.append(done)
    last = seg.finish()
    if last is not None:
        out.append(last)
    return out


def test_cuts_at_key_frames_after_the_target(video_units: list[VideoUnit]) -> None:
    segments = _run(_segmenter(first_sequence=5), video_units)
    assert [s.sequence for s in segments] == [5, 6, 7, 8]
    # IDR every second, target 2 s: 20 pictures per segment, the rest in the last one.
    assert [s.frames for s in segments] == [20, 20, 20, 5]
    assert [s.duration_ticks for s in segments] == [180_000, 180_000, 180_000, 45_000]
    assert segments[0].start_dts == STREAM_START
    assert [s.start_dts for s in segments[1:]] == [
        s.start_dts + s.duration_ticks for s in segments[:-1]
    ]


def test_target_not_a_multiple_of_the_gop(video_units: list[VideoUnit]) -> None:
    segments = _run(_segmenter(target_duration_s=1.5), video_units)
    assert [s.duration_s for s in segments] == [2.0, 2.0, 2.0, 0.5]


def test_every_segment_is_self_contained(video_units: list[VideoUnit]) -> None:
    # Only the very first picture carries SPS/PPS: the muxer must repeat the cached ones.
    units = [video_units[0], *(strip_parameter_sets(u) for u in video_units[1:])]
    segments = _run(_segmenter(), units)
    for segment in segments:
        packets = read_packets(segment.data)
        assert [p.pid for p in packets[:2]] == [0, PMT_PID]
        video = read_pes(packets, VIDEO_PID)
        first = [nal_type(n) for n in split_annexb(video[0].payload)]
        assert first[:3] == [NAL_AUD, NAL_SPS, NAL_PPS]
        assert NAL_IDR in first
        assert video[0].random_access
        for pes in video:
            kinds = [nal_type(n) for n in split_annexb(pes.payload)]
            assert kinds[0] == NAL_AUD
            assert pes.random_access == (NAL_IDR in kinds)
            assert pes.data_alignment
            assert pes.stream_id == 0xE0
            assert pes.pcr is not None
            assert pes.pcr == (pes.decoding_time - PCR_DELAY) * 300


def test_continuity_counters_run_across_segments(video_units: list[VideoUnit]) -> None:
    segments = _run(_segmenter(), video_units)
    packets = read_packets(b"".join(s.data for s in segments))
    check_continuity(packets)
    pcrs = [p.pcr for p in packets if p.pcr is not None]
    assert pcrs == sorted(pcrs)


def test_timestamps_are_the_input_shifted_to_the_stream_start(
    video_units: list[VideoUnit],
) -> None:
    offset = 7 * 90_000  # a camera clock that does not start at zero
    shifted = [VideoUnit(u.data, u.pts + offset, u.dts + offset, u.key) for u in video_units]
    segments = _run(_segmenter(), shifted)
    packets = read_packets(b"".join(s.data for s in segments))
    pts = [p.pts for p in read_pes(packets, VIDEO_PID)]
    assert pts == [STREAM_START + u.pts for u in video_units]


def test_missing_timestamps_follow_the_frame_rate(video_units: list[VideoUnit]) -> None:
    seg = _segmenter(frame_rate=25)
    for unit in video_units[:30]:
        seg.add_video(unit.data)
    segments = [s for s in (seg.finish(),) if s is not None]
    pts = [p.pts for p in read_pes(read_packets(segments[0].data), VIDEO_PID)]
    assert pts == [STREAM_START + 3600 * i for i in range(30)]


def test_b_frames_carry_pts_and_dts(bframe_units: list[VideoUnit]) -> None:
    segments = _run(_segmenter(target_duration_s=1.0), bframe_units, dts=True)
    assert len(segments) == 3
    packets = read_packets(b"".join(s.data for s in segments))
    video = read_pes(packets, VIDEO_PID)
    origin = bframe_units[0].dts
    assert [(p.pts, p.decoding_time) for p in video] == [
        (u.pts - origin + STREAM_START, u.dts - origin + STREAM_START) for u in bframe_units
    ]
    assert any(p.dts is not None for p in video)
    dts = [p.decoding_time for p in video]
    assert dts == sorted(set(dts))
    assert all(p.pcr is not None and p.pcr <= p.decoding_time * 300 for p in video)


def test_stream_starts_at_the_first_idr(video_units: list[VideoUnit]) -> None:
    seg = _segmenter()
    segments = _run(seg, video_units[3:])  # pictures 3..9 depend on a missing IDR
    assert seg.stats.dropped_video_frames == 7
    first = read_pes(read_packets(segments[0].data), VIDEO_PID)
    assert first[0].pts == STREAM_START
    assert first[0].random_access


def test_require_key_frame_skips_to_the_next_idr(video_units: list[VideoUnit]) -> None:
    seg = _segmenter(target_duration_s=10)
    for unit in video_units[:5]:
        seg.add_video(unit.data, pts=unit.pts)
    seg.require_key_frame()
    for unit in video_units[6:20]:  # picture 5 was refused upstream
        seg.add_video(unit.data, pts=unit.pts)
    last = seg.finish()
    assert last is not None
    assert seg.stats.dropped_video_frames == 4  # 6..9, up to the IDR at 10
    assert last.frames == 5 + 10


def test_audio_timestamps_follow_the_sample_count(
    video_units: list[VideoUnit], adts_frames: list[AdtsFrame]
) -> None:
    seg = _segmenter(audio_sample_rate=16_000, target_duration_s=10)
    seg.add_audio(adts_frames[0].data)  # before the first IDR: dropped
    seg.add_video(video_units[0].data, pts=1000)
    seg.add_audio(b"".join(f.data for f in adts_frames[1:4]))
    seg.add_audio(adts_frames[4].data)
    seg.add_audio(adts_frames[5].data, pts=1000 + 90_000)
    last = seg.finish()
    assert last is not None
    assert seg.stats.dropped_audio_frames == 1
    audio = read_pes(read_packets(last.data), AUDIO_PID)
    assert [p.pts for p in audio] == [STREAM_START, STREAM_START + 17_280, STREAM_START + 90_000]
    assert audio[0].payload == b"".join(f.data for f in adts_frames[1:4])
    assert all(p.stream_id == 0xC0 and p.declared_length for p in audio)


def test_audio_errors(video_units: list[VideoUnit], adts_frames: list[AdtsFrame]) -> None:
    with pytest.raises(HlsInputError, match="video-only"):
        _segmenter().add_audio(adts_frames[0].data)
    with pytest.raises(HlsInputError, match="48000 Hz"):
        _segmenter(audio_sample_rate=48_000).add_audio(adts_frames[0].data)


def test_bad_video_input_leaves_the_stream_usable(video_units: list[VideoUnit]) -> None:
    seg = _segmenter()
    seg.add_video(video_units[0].data, pts=0)
    seg.add_video(video_units[1].data, pts=9000)
    with pytest.raises(HlsInputError, match="does not increase"):
        seg.add_video(video_units[2].data, pts=9000)
    with pytest.raises(HlsInputError, match="before its DTS"):
        seg.add_video(video_units[2].data, pts=18_000, dts=20_000)
    with pytest.raises(HlsInputError, match="Annex B"):
        seg.add_video(b"\x01\x02\x03\x04", pts=18_000)
    seg.add_video(video_units[2].data, pts=18_000)
    last = seg.finish()
    assert last is not None
    assert last.frames == 3


def test_key_frame_without_parameter_sets(video_units: list[VideoUnit]) -> None:
    seg = _segmenter()
    with pytest.raises(HlsInputError, match="SPS/PPS"):
        seg.add_video(strip_parameter_sets(video_units[0]).data, pts=0)
    assert not seg.started
    assert seg.finish() is None


def test_timestamps_wrap_at_33_bits(video_units: list[VideoUnit]) -> None:
    seg = _segmenter(target_duration_s=60)
    jump = (1 << 33) - STREAM_START
    seg.add_video(video_units[0].data, pts=0)
    seg.add_video(video_units[1].data, pts=jump + 9000)
    seg.add_video(video_units[2].data, pts=jump + 18_000)
    last = seg.finish()
    assert last is not None
    pts = [p.pts for p in read_pes(read_packets(last.data), VIDEO_PID)]
    assert pts == [STREAM_START, 9000, 18_000]
    assert last.duration_ticks == jump + 27_000  # durations use the unwrapped clock
