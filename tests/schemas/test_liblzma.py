"""schemas.liblzma: liblzma's CRC-64 is found here and equals the CRC OSS reports."""

from __future__ import annotations

import os

import oss2.utils

from schemas.liblzma import CHECK_INPUT, CHECK_VALUE, load_crc64


def test_liblzma_crc64_loads_and_matches_oss2_continued() -> None:
    crc = load_crc64()
    assert crc is not None  # every supported interpreter has lzma
    assert crc(CHECK_INPUT, 0) == CHECK_VALUE
    data = os.urandom(300_001)
    reference = oss2.utils.Crc64(0)
    reference.update(data)
    assert crc(data[100_000:], crc(data[:100_000], 0)) == reference.crc
    # a bytearray (the camera's chunk buffer) is hashed in place, to the same CRC
    assert crc(bytearray(data), 0) == reference.crc
    assert crc(bytearray(), 7) == 7
