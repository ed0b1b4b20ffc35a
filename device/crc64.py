"""CRC-64/XZ ("ECMA" in OSS headers) as OSS computes ``x-oss-hash-crc64ecma``.

Built on oss2's ``Crc64`` (crcmod, with its C extension when installed), so the device
computes exactly what the client library and the service compute. The CRC of a whole
object can be continued chunk by chunk (``crc64(b, crc64(a)) == crc64(a + b)``) or
combined from independently computed parts with :func:`combine`.
"""

from __future__ import annotations

from oss2.utils import Crc64 as _OssCrc64

__all__ = ["Crc64", "combine", "crc64"]


def crc64(data: bytes | bytearray | memoryview, crc: int = 0) -> int:
    """Return the CRC-64 of ``data``, continuing from ``crc``.

    Args:
        data: the bytes to add.
        crc: the CRC-64 of everything before ``data`` (0 for the start of an object).

    Returns:
        The CRC-64 of the previous bytes followed by ``data``.
    """
    state = _OssCrc64(crc)
    state.update(bytes(data) if isinstance(data, memoryview) else data)
    return int(state.crc)


_COMBINER = _OssCrc64(0)


def combine(crc1: int, crc2: int, len2: int) -> int:
    """Return the CRC-64 of ``A + B`` from ``crc(A)``, ``crc(B)`` and ``len(B)``.

    Args:
        crc1: CRC-64 of the first part.
        crc2: CRC-64 of the second part, computed on its own (starting from 0).
        len2: length of the second part in bytes.

    Returns:
        The CRC-64 of the concatenation.
    """
    if len2 == 0:
        return crc1
    return int(_COMBINER.combine(crc1, crc2, len2))


class Crc64:
    """A running CRC-64.

    Args:
        initial: the CRC-64 of bytes already counted.
    """

    def __init__(self, initial: int = 0) -> None:
        self._state = _OssCrc64(initial)

    def update(self, data: bytes | bytearray) -> None:
        """Add ``data`` to the running CRC."""
        self._state.update(data)

    @property
    def value(self) -> int:
        """The CRC-64 of everything added so far."""
        return int(self._state.crc)
