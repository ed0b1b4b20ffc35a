from __future__ import annotations

import pytest

from device.hls.adts import AdtsFrame, split_adts
from device.hls.errors import HlsInputError


def test_real_frames(adts_frames: list[AdtsFrame]) -> None:
    assert len(adts_frames) > 100
    assert {(f.sample_rate, f.channels, f.samples) for f in adts_frames} == {(16_000, 1, 1024)}
    joined = b"".join(f.data for f in adts_frames[:5])
    assert split_adts(joined) == adts_frames[:5]


def test_truncated_frame(adts_frames: list[AdtsFrame]) -> None:
    with pytest.raises(HlsInputError, match="cut short"):
        split_adts(adts_frames[3].data[:-1])
    with pytest.raises(HlsInputError, match="truncated"):
        split_adts(adts_frames[3].data + b"\xff\xf1")


def test_missing_sync_word() -> None:
    with pytest.raises(HlsInputError, match="sync"):
        split_adts(b"\x00" * 20)


def test_reserved_sample_rate_index(adts_frames: list[AdtsFrame]) -> None:
    data = bytearray(adts_frames[3].data)
    data[2] = (data[2] & 0xC3) | (15 << 2)
    with pytest.raises(HlsInputError, match="frequency index"):
        split_adts(bytes(data))


def test_sample_rate_comes_from_the_header(adts_frames: list[AdtsFrame]) -> None:
    data = bytearray(adts_frames[3].data)
    data[2] = (data[2] & 0xC3) | (3 << 2)  # index 3 = 48 kHz
    assert split_adts(bytes(data))[0].sample_rate == 48_000


def test_empty_buffer() -> None:
    with pytest.raises(HlsInputError, match="no ADTS"):
        split_adts(b"")
