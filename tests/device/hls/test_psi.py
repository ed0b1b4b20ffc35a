from __future__ import annotations

from device.hls.muxer import AUDIO_PID, PMT_PID, VIDEO_PID, TsMuxer
from tests.device.hls.tsreader import check_continuity, read_packets, read_section


def _streams(body: bytes) -> tuple[int, list[tuple[int, int]]]:
    pcr_pid = int.from_bytes(body[0:2], "big") & 0x1FFF
    info_len = int.from_bytes(body[2:4], "big") & 0x0FFF
    pos = 4 + info_len
    out = []
    while pos < len(body):
        stream_type = body[pos]
        pid = int.from_bytes(body[pos + 1 : pos + 3], "big") & 0x1FFF
        es_len = int.from_bytes(body[pos + 3 : pos + 5], "big") & 0x0FFF
        out.append((stream_type, pid))
        pos += 5 + es_len
    return pcr_pid, out


def test_pat_and_pmt_with_audio() -> None:
    packets = read_packets(TsMuxer(audio=True).tables())
    assert [p.pid for p in packets] == [0, PMT_PID]
    assert all(p.pusi for p in packets)
    pat = read_section(packets[0].payload)
    assert pat.table_id == 0
    assert pat.extension == 1
    assert int.from_bytes(pat.body[0:2], "big") == 1
    assert int.from_bytes(pat.body[2:4], "big") & 0x1FFF == PMT_PID
    pmt = read_section(packets[1].payload)
    assert pmt.table_id == 2
    assert pmt.extension == 1
    assert _streams(pmt.body) == (VIDEO_PID, [(0x1B, VIDEO_PID), (0x0F, AUDIO_PID)])


def test_video_only_pmt() -> None:
    packets = read_packets(TsMuxer(audio=False).tables())
    assert _streams(read_section(packets[1].payload).body) == (VIDEO_PID, [(0x1B, VIDEO_PID)])


def test_tables_repeat_with_running_counters() -> None:
    muxer = TsMuxer(audio=False)
    packets = read_packets(muxer.tables() + muxer.tables() + muxer.tables())
    check_continuity(packets)
    assert [p.cc for p in packets if p.pid == 0] == [0, 1, 2]
