"""CRC-64/XZ: the values OSS and oss2 compute, continuation and combination."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from oss2.utils import Crc64 as OssCrc64

from device.crc64 import IMPLEMENTATION, Crc64, combine, crc64, crc64_reference


def oss2_crc(data: bytes) -> int:
    state = OssCrc64(0)
    state.update(data)
    return int(state.crc)


def test_liblzma_hashes_here_and_crcmod_agrees() -> None:
    # The fast path must be the one in use on this machine (a fleet's CPU budget counts on
    # it); crcmod is what a camera without liblzma falls back to.
    assert IMPLEMENTATION == "liblzma"
    data = bytes(range(256)) * 1000
    assert crc64(data) == crc64_reference(data) == oss2_crc(data)
    assert crc64(bytearray(data)) == crc64(memoryview(data)) == crc64(data)


def test_known_values() -> None:
    assert crc64(b"") == 0
    assert crc64(b"123456789") == 0x995DC9BBDF1939FA
    assert crc64(b"hello world") == 5981764153023615706


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=4096), st.binary(max_size=4096))
def test_continue_and_combine_agree_with_oss2(a: bytes, b: bytes) -> None:
    whole = oss2_crc(a + b)
    assert crc64(a + b) == whole
    assert crc64(b, crc64(a)) == whole
    assert combine(crc64(a), crc64(b), len(b)) == whole
    running = Crc64()
    running.update(a)
    running.update(b)
    assert running.value == whole


def test_combine_large_lengths_without_the_data() -> None:
    a, b = b"x" * 1000, bytes(range(256)) * 1024
    assert combine(crc64(a), crc64(b), len(b)) == crc64(a + b)
    assert combine(123, 456, 0) == 123
