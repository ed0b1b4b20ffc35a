from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from device.hls.pes import (
    AUDIO_STREAM_ID,
    TIMESTAMP_MODULO,
    VIDEO_STREAM_ID,
    decode_timestamp,
    encode_timestamp,
    pes_header,
)
from tests.device.hls.tsreader import decode_ts


def test_zero_pts_has_prefix_and_marker_bits() -> None:
    assert encode_timestamp(0b0010, 0) == bytes.fromhex("2100010001")


def test_known_value() -> None:
    # 1.4 s: 126000 = 0x1EC30 -> bits 32..30 = 0, 29..15 = 0x3, 14..0 = 0x6C30
    field = encode_timestamp(0b0010, 126_000)
    assert field == bytes((0x21, 0x00, 0x07, 0xD8, 0x61))
    assert decode_ts(field) == 126_000


@given(st.integers(min_value=0, max_value=TIMESTAMP_MODULO - 1))
def test_round_trip_all_33_bits(ticks: int) -> None:
    field = encode_timestamp(0b0011, ticks)
    assert decode_timestamp(field) == ticks
    assert decode_ts(field) == ticks  # the independent reader agrees
    assert field[0] >> 4 == 0b0011


def test_timestamps_wrap_at_33_bits() -> None:
    assert decode_timestamp(encode_timestamp(0b0010, TIMESTAMP_MODULO + 5)) == 5


def test_video_header_pts_only_when_dts_equal() -> None:
    header = pes_header(VIDEO_STREAM_ID, pts=9000, dts=9000, data_alignment=True)
    assert header[:4] == b"\x00\x00\x01\xe0"
    assert header[4:6] == b"\x00\x00"  # unbounded video PES
    assert header[6] == 0x84  # '10' marker + data_alignment_indicator
    assert header[7] == 0x80
    assert header[8] == 5
    assert decode_ts(header[9:14]) == 9000


def test_video_header_with_dts() -> None:
    header = pes_header(VIDEO_STREAM_ID, pts=12_000, dts=3_000)
    assert header[7] == 0xC0
    assert header[8] == 10
    assert header[9] >> 4 == 0b0011
    assert header[14] >> 4 == 0b0001
    assert (decode_ts(header[9:14]), decode_ts(header[14:19])) == (12_000, 3_000)


def test_audio_header_length_counts_everything_after_it() -> None:
    header = pes_header(AUDIO_STREAM_ID, pts=1, payload_len=100)
    assert int.from_bytes(header[4:6], "big") == len(header) - 6 + 100


def test_oversized_bounded_packet_is_refused() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        pes_header(AUDIO_STREAM_ID, pts=0, payload_len=70_000)
