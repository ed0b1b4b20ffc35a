"""Program specific information: the PAT and the PMT of a single-program stream.

Both tables are written at the start of every segment so each segment can be demuxed on
its own (a player joining a live stream starts with whatever segment is newest).
"""

from __future__ import annotations

from collections.abc import Sequence

from device.hls.crc import crc32_mpeg2
from device.hls.packets import PACKET_SIZE, ContinuityCounters, packetize

__all__ = [
    "PAT_PID",
    "STREAM_TYPE_AAC_ADTS",
    "STREAM_TYPE_H264",
    "pat_section",
    "pmt_section",
    "psi_packet",
]

PAT_PID = 0x0000
STREAM_TYPE_H264 = 0x1B
STREAM_TYPE_AAC_ADTS = 0x0F
_TABLE_PAT = 0x00
_TABLE_PMT = 0x02


def _section(table_id: int, table_id_extension: int, body: bytes) -> bytes:
    # section_length counts the 5 bytes after it, the body and the 4-byte CRC.
    length = 5 + len(body) + 4
    head = bytes(
        (
            table_id,
            0xB0 | (length >> 8),  # section_syntax_indicator=1, '0', reserved '11'
            length & 0xFF,
            table_id_extension >> 8,
            table_id_extension & 0xFF,
            0xC1,  # reserved '11', version 0, current_next_indicator=1
            0x00,  # section_number
            0x00,  # last_section_number
        )
    )
    section = head + body
    return section + crc32_mpeg2(section).to_bytes(4, "big")


def pat_section(*, transport_stream_id: int, program_number: int, pmt_pid: int) -> bytes:
    """Build a PAT naming one program and the PID of its PMT."""
    body = program_number.to_bytes(2, "big") + (0xE000 | pmt_pid).to_bytes(2, "big")
    return _section(_TABLE_PAT, transport_stream_id, body)


def pmt_section(*, program_number: int, pcr_pid: int, streams: Sequence[tuple[int, int]]) -> bytes:
    """Build a PMT.

    Args:
        program_number: the program this map describes.
        pcr_pid: the PID whose packets carry the PCR.
        streams: ``(stream_type, pid)`` pairs, without descriptors.
    """
    body = (0xE000 | pcr_pid).to_bytes(2, "big") + b"\xf0\x00"  # program_info_length 0
    for stream_type, pid in streams:
        body += bytes((stream_type,)) + (0xE000 | pid).to_bytes(2, "big") + b"\xf0\x00"
    return _section(_TABLE_PMT, program_number, body)


def psi_packet(pid: int, section: bytes, counters: ContinuityCounters) -> bytes:
    """Put one section in one TS packet: pointer field 0, section, ``0xFF`` padding.

    Raises:
        ValueError: the section does not fit one packet.
    """
    payload = b"\x00" + section
    if len(payload) > PACKET_SIZE - 4:
        raise ValueError("PSI section longer than one packet")
    # Stuffing after a section is 0xFF bytes in the payload, not adaptation field stuffing.
    return packetize(pid, payload + b"\xff" * (PACKET_SIZE - 4 - len(payload)), counters)
