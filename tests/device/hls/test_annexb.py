"""Access units out of an Annex B byte stream, and the generated H.264 pattern."""

from __future__ import annotations

import itertools
from pathlib import Path

import av
import pytest

from device.agent.hls_pattern import PatternVideo
from device.hls.annexb import AccessUnitSplitter, split_access_units
from device.hls.h264 import NAL_IDR, nal_type, split_annexb
from tests.device.hls.media import VideoUnit
from tests.device.hls.playback import ffmpeg_log


def _pieces(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("size", [1, 7, 188, 4096, 10**7])
def test_access_units_come_back_whatever_the_read_size(
    video_units: list[VideoUnit], bframe_units: list[VideoUnit], size: int
) -> None:
    for units in (video_units, bframe_units):
        stream = b"".join(u.data for u in units)
        found = list(split_access_units(iter(_pieces(stream, size))))
        assert [split_annexb(a) for a in found] == [split_annexb(u.data) for u in units]


def test_delimiters_and_parameter_sets_start_a_picture() -> None:
    sps, pps, aud = b"\x67\x42\x00\x1e", b"\x68\xce\x3c\x80", b"\x09\xf0"
    idr, p1, p2 = b"\x65\x88\x84", b"\x41\x9a\x02", b"\x41\x9a\x04"
    second_slice = b"\x41\x00\x11"  # first_mb_in_slice != 0: same picture
    stream = b"".join(
        b"\x00\x00\x00\x01" + n for n in (aud, sps, pps, idr, aud, p1, second_slice, p2)
    )
    splitter = AccessUnitSplitter()
    units = splitter.feed(stream) + splitter.finish()
    assert [split_annexb(u) for u in units] == [
        [aud, sps, pps, idr],
        [aud, p1, second_slice],
        [p2],
    ]


def test_leading_garbage_and_units_without_a_slice_are_dropped() -> None:
    splitter = AccessUnitSplitter()
    units = splitter.feed(b"\xff\xfe\x00\x00\x01\x67\x42") + splitter.finish()
    assert units == []


def test_pattern_is_h264_that_ffmpeg_decodes_cleanly(tmp_path: Path) -> None:
    pattern = PatternVideo(gop=5)
    units = list(itertools.islice(iter(pattern), 15))
    assert [any(nal_type(n) == NAL_IDR for n in split_annexb(u)) for u in units] == [
        i % 5 == 0 for i in range(15)
    ]
    path = tmp_path / "pattern.h264"
    path.write_bytes(b"".join(units))
    lumas = []
    with ffmpeg_log() as logs, av.open(str(path), format="h264") as container:
        for frame in container.decode(video=0):
            assert (frame.width, frame.height) == (128, 96)
            lumas.append(bytes(frame.planes[0])[:128])
    assert logs == []
    assert len(lumas) == 15
    # P pictures repeat their key frame; each key frame moves the bar.
    assert lumas[0] == lumas[4]
    assert lumas[0] != lumas[5]
    assert lumas[5] != lumas[10]


def test_pattern_sizes_must_be_whole_macroblocks() -> None:
    with pytest.raises(ValueError, match="multiples of 16"):
        PatternVideo(width=100)
