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


# The reflected ECMA-182 polynomial, as the CRC's bit-serial step uses it.
_POLY_REFLECTED = 0xC96C5795D7870F42


def _gf2_times(matrix: list[int], vector: int) -> int:
    total = 0
    row = 0
    while vector:
        if vector & 1:
            total ^= matrix[row]
        vector >>= 1
        row += 1
    return total


def _gf2_square(matrix: list[int]) -> list[int]:
    return [_gf2_times(matrix, matrix[n]) for n in range(64)]


def _zero_operators() -> list[list[int]]:
    # Operators for 1, 2, 4, 8 ... zero bytes, squared up from the one-zero-bit operator.
    one_bit = [_POLY_REFLECTED] + [1 << n for n in range(63)]
    operator = one_bit
    for _ in range(3):
        operator = _gf2_square(operator)
    operators = [operator]
    for _ in range(63):
        operators.append(_gf2_square(operators[-1]))
    return operators


_ZERO_BYTES: list[list[int]] = []


def crc64_combine(crc1: int, crc2: int, length2: int) -> int:
    """The CRC-64 of ``a + b`` from ``crc64(a)``, ``crc64(b)`` and ``len(b)``.

    This is how a multipart object's CRC comes from its parts' CRCs without reading a byte of
    them again: appending ``length2`` zero bytes to ``a`` is a linear map on the CRC register,
    applied here as the product of the cached operators for the powers of two in ``length2``
    (64x64 GF(2) matrices, built once by repeated squaring), after which ``b``'s CRC is xor-ed
    in (the init and final xor cancel). A combine costs microseconds.
    """
    if length2 <= 0:
        return crc1
    if not _ZERO_BYTES:
        _ZERO_BYTES.extend(_zero_operators())
    bit = 0
    while length2:
        if length2 & 1:
            crc1 = _gf2_times(_ZERO_BYTES[bit], crc1)
        length2 >>= 1
        bit += 1
    return crc1 ^ crc2
