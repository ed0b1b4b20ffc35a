"""CRC-64/ECMA as OSS reports it in ``x-oss-hash-crc64ecma`` (crcmod's C implementation).

The variant is the one oss2 checks against (reflected ECMA-182 polynomial, all-ones init and
final xor, a.k.a. CRC-64/XZ). Continuing from a previous value gives the CRC of the
concatenation, ``crc64(b, crc64(a)) == crc64(a + b)``, so an append only hashes its new bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import crcmod

_crc64: Callable[[bytes, int], int] = cast(
    "Callable[[bytes, int], int]",
    crcmod.mkCrcFun(0x142F0E1EBA9EA3693, initCrc=0, rev=True, xorOut=0xFFFFFFFFFFFFFFFF),
)


def crc64(data: bytes, previous: int = 0) -> int:
    """Return the CRC-64/ECMA of ``data`` continued from ``previous`` (the CRC of what precedes it)."""
    return _crc64(data, previous)
