"""The multipart CRC-64 combine agrees with oss2's own Crc64 over the joined bytes."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st
from oss2.utils import Crc64

from schemas.crc64 import combine as crc64_combine
from simulator.oss.crc import crc64


def _oss2_crc(data: bytes) -> int:
    crc = Crc64(0)
    crc.update(data)
    return int(crc.crc)


@settings(max_examples=200, deadline=None)
@given(
    data=st.binary(min_size=0, max_size=4096),
    cuts=st.lists(st.integers(min_value=0, max_value=4096), max_size=12),
)
def test_combined_part_crcs_equal_the_whole_objects_crc(data: bytes, cuts: list[int]) -> None:
    bounds = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    parts = [data[a:b] for a, b in itertools.pairwise(bounds)]
    combined = 0
    for part in parts:
        combined = crc64_combine(combined, crc64(part), len(part))
    assert combined == _oss2_crc(data)


@given(
    first=st.binary(max_size=64),
    zeros=st.integers(min_value=0, max_value=1 << 40),
)
def test_combine_handles_huge_part_lengths(first: bytes, zeros: int) -> None:
    # A part's length enters only through zero-byte operators; a 1 TiB part must combine
    # exactly like the appended zeros would (checked against the bytes for small lengths).
    if zeros <= 4096:
        assert crc64_combine(crc64(first), crc64(bytes(zeros)), zeros) == _oss2_crc(
            first + bytes(zeros)
        )
    else:
        half = zeros // 2
        rest = zeros - half
        step = crc64_combine(crc64_combine(crc64(first), 0, half), 0, rest)
        direct = crc64_combine(crc64(first), 0, zeros)
        assert step == direct
