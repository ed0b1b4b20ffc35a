"""188-byte transport stream packets: headers, adaptation fields, PCR, stuffing.

A PES packet or a PSI section is cut into TS packets on one PID. The first packet sets
``payload_unit_start_indicator`` and may carry an adaptation field with a PCR and the
``random_access_indicator``; the last one is padded to 188 bytes with adaptation field
stuffing (payload bytes cannot be padded without changing the PES).
"""

from __future__ import annotations

__all__ = [
    "PACKET_SIZE",
    "SYNC_BYTE",
    "ContinuityCounters",
    "adaptation_field",
    "minimum_adaptation_size",
    "packetize",
]

PACKET_SIZE = 188
SYNC_BYTE = 0x47
_HEADER_SIZE = 4
_BODY_SIZE = PACKET_SIZE - _HEADER_SIZE
_RANDOM_ACCESS = 0x40
_PCR_FLAG = 0x10


class ContinuityCounters:
    """The 4-bit continuity counter of each PID.

    A counter advances only on packets that carry payload; a demuxer that sees a gap knows
    packets were lost. Counters run on across segments, as in one continuous stream.
    """

    def __init__(self) -> None:
        self._next: dict[int, int] = {}

    def take(self, pid: int) -> int:
        """Return the counter for the next payload packet on ``pid`` and advance it."""
        value = self._next.get(pid, 0)
        self._next[pid] = (value + 1) & 0x0F
        return value


def _pcr_bytes(pcr_27mhz: int) -> bytes:
    base = (pcr_27mhz // 300) % (1 << 33)
    ext = pcr_27mhz % 300
    # 33-bit base, 6 reserved bits set to 1, 9-bit extension.
    value = (base << 15) | (0x3F << 9) | ext
    return value.to_bytes(6, "big")


def adaptation_field(size: int, *, pcr: int | None = None, random_access: bool = False) -> bytes:
    """Build an adaptation field of exactly ``size`` bytes (its length byte included).

    Args:
        size: total bytes the field occupies in the packet; 1 gives the bare length byte
            (a single stuffing byte), larger sizes are filled with ``0xFF`` stuffing.
        pcr: program clock reference in 27 MHz ticks.
        random_access: set ``random_access_indicator`` (a key frame starts here).

    Returns:
        The adaptation field bytes.

    Raises:
        ValueError: ``size`` cannot hold the requested flags, or exceeds a packet body.
    """
    needed = minimum_adaptation_size(pcr=pcr, random_access=random_access)
    if size < needed or size > _BODY_SIZE:
        raise ValueError(f"adaptation field of {size} bytes cannot hold its fields")
    if size == 1:
        return b"\x00"
    flags = (_RANDOM_ACCESS if random_access else 0) | (_PCR_FLAG if pcr is not None else 0)
    body = bytes((flags,)) + (_pcr_bytes(pcr) if pcr is not None else b"")
    body += b"\xff" * (size - 1 - len(body))
    return bytes((size - 1,)) + body


def minimum_adaptation_size(*, pcr: int | None, random_access: bool) -> int:
    """Smallest adaptation field holding the given flags (0 when none is needed)."""
    if pcr is not None:
        return 8
    if random_access:
        return 2
    return 0


def packetize(
    pid: int,
    payload: bytes,
    counters: ContinuityCounters,
    *,
    pcr: int | None = None,
    random_access: bool = False,
) -> bytes:
    """Cut one PES packet or PSI section (with pointer field) into TS packets.

    Args:
        pid: the 13-bit packet identifier.
        payload: the unit to carry; the first packet gets ``payload_unit_start_indicator``.
        counters: continuity counters, advanced once per packet.
        pcr: a PCR (27 MHz ticks) for the first packet's adaptation field.
        random_access: mark the first packet as a random access point.

    Returns:
        A multiple of 188 bytes.

    Raises:
        ValueError: ``payload`` is empty.
    """
    if not payload:
        raise ValueError("nothing to packetize")
    out = bytearray()
    pos = 0
    first = True
    while pos < len(payload):
        af_size = minimum_adaptation_size(pcr=pcr, random_access=random_access) if first else 0
        remaining = len(payload) - pos
        if remaining < _BODY_SIZE - af_size:
            af_size = _BODY_SIZE - remaining
        chunk = payload[pos : pos + _BODY_SIZE - af_size]
        pos += len(chunk)
        # adaptation_field_control: 01 payload only, 11 adaptation field then payload.
        control = 0x30 if af_size else 0x10
        out += bytes(
            (
                SYNC_BYTE,
                (0x40 if first else 0) | ((pid >> 8) & 0x1F),
                pid & 0xFF,
                control | counters.take(pid),
            )
        )
        if af_size:
            out += adaptation_field(
                af_size,
                pcr=pcr if first else None,
                random_access=random_access and first,
            )
        out += chunk
        first = False
    return bytes(out)
