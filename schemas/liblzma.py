"""CRC-64/XZ through the liblzma Python itself already loaded (``lzma_crc64``).

That CRC is the one OSS reports as ``x-oss-hash-crc64ecma`` (reflected ECMA-182 polynomial,
all-ones initial value and final xor). liblzma computes it with carry-less multiplication at
several GB/s, some 15 to 20 times faster than crcmod's table-driven C extension behind oss2's
``Crc64``. The library is found through the ``_lzma`` extension module, the exact copy this
interpreter maps, and accepted only after it reproduces the catalogued check value, also when
continued from a previous CRC (``crc64(b, crc64(a)) == crc64(a + b)``).

Callers keep their own fallback for an interpreter built without ``lzma``: the camera and the
emulator use crcmod, the console oss2's ``Crc64``.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

__all__ = ["CHECK_INPUT", "CHECK_VALUE", "load_crc64"]

CHECK_INPUT = b"123456789"
CHECK_VALUE = 0x995DC9BBDF1939FA  # the catalogued check value of CRC-64/XZ


def load_crc64() -> Callable[[bytes | bytearray, int], int] | None:
    """liblzma's CRC-64 as ``crc(data, previous) -> int``, or None where it is missing or wrong.

    A ``bytearray`` is hashed in place (the camera's chunk buffer is a MiB: no copy of it).
    """
    try:
        import _lzma

        function = ctypes.CDLL(_lzma.__file__).lzma_crc64
    except (ImportError, OSError, AttributeError):
        return None
    function.restype = ctypes.c_uint64
    function.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint64]

    def crc(data: bytes | bytearray, previous: int) -> int:
        if isinstance(data, bytearray):
            view = (ctypes.c_char * len(data)).from_buffer(data)
            return int(function(view, len(data), previous))
        return int(function(data, len(data), previous))

    if crc(CHECK_INPUT, 0) != CHECK_VALUE or crc(b"9", crc(b"12345678", 0)) != CHECK_VALUE:
        return None
    return crc
