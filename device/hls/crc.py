"""CRC-32/MPEG-2, the checksum that ends every PSI section (PAT, PMT).

Polynomial 0x04C11DB7, initial value 0xFFFFFFFF, no reflection, no final XOR. It is not
``zlib.crc32`` (that one is reflected and inverted), so it gets its own table here.
"""

from __future__ import annotations

__all__ = ["crc32_mpeg2"]


def _make_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else (crc << 1)
        table.append(crc & 0xFFFFFFFF)
    return tuple(table)


_TABLE = _make_table()


def crc32_mpeg2(data: bytes) -> int:
    """Return the CRC-32/MPEG-2 of ``data``.

    Args:
        data: the bytes to check (for a PSI section: from ``table_id`` up to the CRC).

    Returns:
        The 32-bit checksum. Running it over a section *including* its CRC gives 0.
    """
    crc = 0xFFFFFFFF
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _TABLE[(crc >> 24) ^ byte]
    return crc
