from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from device.hls.crc import crc32_mpeg2
from tests.device.hls.tsreader import crc32_mpeg2_bitwise


def test_check_value_of_the_catalogue() -> None:
    # The standard check input "123456789" gives 0x0376E6E7 for CRC-32/MPEG-2.
    assert crc32_mpeg2(b"123456789") == 0x0376E6E7


def test_is_not_zlib_crc32() -> None:
    import zlib

    assert crc32_mpeg2(b"123456789") != zlib.crc32(b"123456789")


@given(st.binary(max_size=300))
def test_table_matches_bitwise_definition(data: bytes) -> None:
    assert crc32_mpeg2(data) == crc32_mpeg2_bitwise(data)


@given(st.binary(max_size=300))
def test_data_followed_by_its_crc_checks_to_zero(data: bytes) -> None:
    assert crc32_mpeg2(data + crc32_mpeg2(data).to_bytes(4, "big")) == 0
