"""CRC-64/XZ ("ECMA" in OSS headers) as OSS computes ``x-oss-hash-crc64ecma``.

Hashing uses liblzma's ``lzma_crc64`` (the same CRC is the xz format's check), loaded and
checked by :mod:`schemas.liblzma`.
It uses carry-less multiplication and runs at several GB/s, about 20 times faster than
crcmod's table-driven C extension (the implementation behind oss2's ``Crc64``), which is used
where liblzma is missing (crcmod is imported only then, so a camera's install leaves it
out); the two are tested against each other. On one camera the
difference is small; with thousands of simulated cameras per machine it is a real share of
the CPU.

The CRC of a whole object can be continued chunk by chunk
(``crc64(b, crc64(a)) == crc64(a + b)``) or combined from independently computed parts with
:func:`combine` (from :mod:`schemas.crc64`), which needs no data at all: the uploader uses it with the CRC the spool
stored for each chunk, so an append does not hash its bytes a second time.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import cast

from schemas.crc64 import combine
from schemas.liblzma import load_crc64

__all__ = ["IMPLEMENTATION", "Crc64", "combine", "crc64", "crc64_reference"]

_POLY = 0x142F0E1EBA9EA3693  # ECMA-182, with the x^64 term, as crcmod wants it
_MASK = 0xFFFFFFFFFFFFFFFF


@functools.cache
def _crcmod() -> Callable[[bytes, int], int]:
    import crcmod

    return cast(
        "Callable[[bytes, int], int]", crcmod.mkCrcFun(_POLY, initCrc=0, rev=True, xorOut=_MASK)
    )


_fast = load_crc64()
_crc_fun = _fast or _crcmod()
IMPLEMENTATION = "liblzma" if _fast is not None else "crcmod"
"""Which implementation this process hashes with."""


def crc64(data: bytes | bytearray | memoryview, crc: int = 0) -> int:
    """Return the CRC-64 of ``data``, continuing from ``crc``.

    Args:
        data: the bytes to add.
        crc: the CRC-64 of everything before ``data`` (0 for the start of an object).

    Returns:
        The CRC-64 of the previous bytes followed by ``data``.
    """
    if _fast is not None and isinstance(data, bytes | bytearray):
        return _fast(data, crc)
    return _crc_fun(data if isinstance(data, bytes) else bytes(data), crc)


def crc64_reference(data: bytes, crc: int = 0) -> int:
    """The same CRC through crcmod, the implementation oss2 checks with (for cross-checks)."""
    return _crcmod()(data, crc)


class Crc64:
    """A running CRC-64.

    Args:
        initial: the CRC-64 of bytes already counted.
    """

    def __init__(self, initial: int = 0) -> None:
        self._value = initial

    def update(self, data: bytes | bytearray) -> None:
        """Add ``data`` to the running CRC."""
        self._value = crc64(data, self._value)

    @property
    def value(self) -> int:
        """The CRC-64 of everything added so far."""
        return self._value
