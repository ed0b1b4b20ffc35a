"""Combining CRC-64s: the CRC of ``A + B`` from the CRCs of ``A`` and ``B`` and ``len(B)``.

The CRC is the one OSS reports as ``x-oss-hash-crc64ecma`` (CRC-64/XZ, hashed by
:mod:`schemas.liblzma` or a caller's fallback). The camera combines the CRCs its spool stored
per chunk so an append does not hash its bytes again; the emulator combines a multipart
object's CRC from its parts' CRCs without reading them.
"""

from __future__ import annotations

import threading

__all__ = ["combine"]

_REVERSED = 0xC96C5795D7870F42  # ECMA-182, bit-reflected, without x^64
_MASK = 0xFFFFFFFFFFFFFFFF

# Combining works on the CRC register as a vector over GF(2): appending n zero bytes is a
# linear map, kept as 64 columns (the init and final xor cancel out). The map for 2**k bytes
# is built once by squaring and cached, so combine costs one 64-step product per set bit of
# the length.
_ZERO_BYTES_OPS: list[list[int]] = []
_OPS_LOCK = threading.Lock()


def _times(matrix: list[int], vector: int) -> int:
    result = 0
    index = 0
    while vector:
        if vector & 1:
            result ^= matrix[index]
        vector >>= 1
        index += 1
    return result


def _square(matrix: list[int]) -> list[int]:
    return [_times(matrix, column) for column in matrix]


def _zero_bytes_op(power: int) -> list[int]:
    with _OPS_LOCK:
        if not _ZERO_BYTES_OPS:
            one_bit = [_REVERSED] + [1 << n for n in range(63)]
            op = one_bit
            for _ in range(3):  # 1 bit -> 8 bits = one zero byte
                op = _square(op)
            _ZERO_BYTES_OPS.append(op)
        while len(_ZERO_BYTES_OPS) <= power:
            _ZERO_BYTES_OPS.append(_square(_ZERO_BYTES_OPS[-1]))
        return _ZERO_BYTES_OPS[power]


def combine(crc1: int, crc2: int, len2: int) -> int:
    """Return the CRC-64 of ``A + B`` from ``crc(A)``, ``crc(B)`` and ``len(B)``.

    Args:
        crc1: CRC-64 of the first part.
        crc2: CRC-64 of the second part, computed on its own (starting from 0).
        len2: length of the second part in bytes.

    Returns:
        The CRC-64 of the concatenation.
    """
    if len2 <= 0:
        return crc1
    power = 0
    while len2:
        if len2 & 1:
            crc1 = _times(_zero_bytes_op(power), crc1)
        len2 >>= 1
        power += 1
    return (crc1 ^ crc2) & _MASK
