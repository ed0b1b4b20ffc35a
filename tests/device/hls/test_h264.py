from __future__ import annotations

import pytest

from device.hls.errors import HlsInputError
from device.hls.h264 import (
    NAL_AUD,
    NAL_IDR,
    NAL_PPS,
    NAL_SEI,
    NAL_SPS,
    AccessUnit,
    ParameterSets,
    nal_type,
    split_annexb,
)
from tests.device.hls.media import VideoUnit

SPS = b"\x67\x42\xc0\x0a\xaa"
PPS = b"\x68\xce\x3c\x80"
SEI = b"\x06\x05\x01\x80"
IDR = b"\x65\x88\x84\x00\x10"
SLICE = b"\x41\x9a\x21\x2c"


def test_split_mixed_start_codes_and_trailing_zeros() -> None:
    data = b"\x00\x00\x00\x01" + SPS + b"\x00\x00\x01" + PPS + b"\x00\x00\x00\x00\x01" + IDR
    assert split_annexb(data) == [SPS, PPS, IDR]


def test_split_rejects_length_prefixed_input() -> None:
    with pytest.raises(HlsInputError, match="Annex B"):
        split_annexb(len(IDR).to_bytes(4, "big") + IDR)


def test_access_unit_needs_a_slice() -> None:
    with pytest.raises(HlsInputError, match="no coded slice"):
        AccessUnit.parse(b"\x00\x00\x00\x01" + SPS)


def test_aud_is_added_first_once() -> None:
    unit = AccessUnit.parse(b"\x00\x00\x01" + SLICE)
    out = split_annexb(unit.to_annexb())
    assert [nal_type(n) for n in out] == [NAL_AUD, 1]
    again = AccessUnit.parse(unit.to_annexb())
    assert [nal_type(n) for n in split_annexb(again.to_annexb())] == [NAL_AUD, 1]


def test_segment_start_gets_cached_parameter_sets_in_order() -> None:
    params = ParameterSets()
    params.learn([SPS, PPS])
    unit = AccessUnit.parse(b"\x00\x00\x01" + SEI + b"\x00\x00\x01" + IDR)
    assert unit.is_idr
    out = split_annexb(unit.to_annexb(params))
    assert out == [b"\x09\xf0", SPS, PPS, SEI, IDR]


def test_own_parameter_sets_win_and_are_moved_before_sei() -> None:
    params = ParameterSets(sps=b"\x67\x00", pps=b"\x68\x00")
    data = b"".join(b"\x00\x00\x01" + n for n in (SEI, PPS, SPS, IDR))
    out = split_annexb(AccessUnit.parse(data).to_annexb(params))
    assert [nal_type(n) for n in out] == [NAL_AUD, NAL_SPS, NAL_PPS, NAL_SEI, NAL_IDR]
    assert out[1] == SPS
    assert out[2] == PPS


def test_key_frame_without_any_parameter_sets_is_refused() -> None:
    unit = AccessUnit.parse(b"\x00\x00\x01" + IDR)
    with pytest.raises(HlsInputError, match="SPS/PPS"):
        unit.to_annexb(ParameterSets())


def test_real_encoder_output(video_units: list[VideoUnit]) -> None:
    first = AccessUnit.parse(video_units[0].data)
    assert first.is_idr
    assert video_units[0].key
    kinds = {nal_type(n) for n in first.nals}
    assert {NAL_SPS, NAL_PPS, NAL_IDR} <= kinds
    assert [AccessUnit.parse(u.data).is_idr for u in video_units] == [u.key for u in video_units]
