"""CRC-64/ECMA as OSS reports it in ``x-oss-hash-crc64ecma``, computed in C.

The variant is the one oss2 checks against (reflected ECMA-182 polynomial, all-ones init and
final xor), which is exactly the CRC-64 of the xz format. Continuing from a previous value gives
the CRC of the concatenation, ``crc64(b, crc64(a)) == crc64(a + b)``, so an append only hashes
its new bytes.

liblzma's ``lzma_crc64`` (loaded and checked by :mod:`schemas.liblzma`)
runs at several GB/s with carry-less multiplication, about 15 times faster than crcmod's
table-driven C code; a 64 KiB append then costs microseconds, not a tenth of a millisecond.
When liblzma cannot be found, or does not produce the reference check value, crcmod is used.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import crcmod

from schemas.liblzma import load_crc64

_crcmod_crc64 = cast(
    "Callable[[bytes, int], int]",
    crcmod.mkCrcFun(0x142F0E1EBA9EA3693, initCrc=0, rev=True, xorOut=0xFFFFFFFFFFFFFFFF),
)


_fast = load_crc64()
IMPLEMENTATION = "liblzma" if _fast is not None else "crcmod"


def crc64(data: bytes | bytearray | memoryview, previous: int = 0) -> int:
    """Return the CRC-64/ECMA of ``data`` continued from ``previous`` (the CRC of what precedes it)."""
    raw = data if isinstance(data, bytes) else bytes(data)
    if _fast is not None:
        return _fast(raw, previous)
    return _crcmod_crc64(raw, previous)


def crc64_reference(data: bytes, previous: int = 0) -> int:
    """The same CRC through crcmod (the implementation oss2 itself uses), for cross-checks."""
    return _crcmod_crc64(data, previous)
