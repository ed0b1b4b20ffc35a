"""PES (packetized elementary stream) headers and their 33-bit, 90 kHz timestamps."""

from __future__ import annotations

__all__ = [
    "AUDIO_STREAM_ID",
    "CLOCK_HZ",
    "MAX_AUDIO_PES_PAYLOAD",
    "TIMESTAMP_MODULO",
    "VIDEO_STREAM_ID",
    "decode_timestamp",
    "encode_timestamp",
    "pes_header",
]

CLOCK_HZ = 90_000
TIMESTAMP_MODULO = 1 << 33
VIDEO_STREAM_ID = 0xE0
AUDIO_STREAM_ID = 0xC0
# PES_packet_length is 16 bits and counts the 3 flag/length bytes and up to 10 bytes of
# timestamps before the payload.
MAX_AUDIO_PES_PAYLOAD = 0xFFFF - 3 - 10

_PTS_ONLY = 0b0010
_PTS_WITH_DTS = 0b0011
_DTS = 0b0001


def encode_timestamp(prefix: int, ticks: int) -> bytes:
    """Encode a PTS or DTS field: 4-bit prefix, 33-bit value split 3/15/15, marker bits.

    Args:
        prefix: ``0b0010`` (PTS alone), ``0b0011`` (PTS followed by DTS) or ``0b0001`` (DTS).
        ticks: the timestamp in 90 kHz ticks; reduced modulo 2**33 (timestamps wrap about
            every 26.5 hours, which demuxers expect).

    Returns:
        The 5-byte field.
    """
    ts = ticks % TIMESTAMP_MODULO
    return bytes(
        (
            (prefix << 4) | ((ts >> 29) & 0x0E) | 0x01,
            (ts >> 22) & 0xFF,
            ((ts >> 14) & 0xFE) | 0x01,
            (ts >> 7) & 0xFF,
            ((ts << 1) & 0xFE) | 0x01,
        )
    )


def decode_timestamp(field: bytes) -> int:
    """Decode a 5-byte PTS/DTS field back to ticks (the inverse of :func:`encode_timestamp`)."""
    return (
        ((field[0] >> 1) & 0x07) << 30
        | field[1] << 22
        | (field[2] >> 1) << 15
        | field[3] << 7
        | field[4] >> 1
    )


def pes_header(
    stream_id: int,
    *,
    pts: int,
    dts: int | None = None,
    payload_len: int | None = None,
    data_alignment: bool = False,
) -> bytes:
    """Build a PES header.

    Args:
        stream_id: ``0xE0`` for video, ``0xC0`` for audio.
        pts: presentation timestamp, 90 kHz ticks.
        dts: decoding timestamp; written only when it differs from ``pts``.
        payload_len: bytes of elementary stream data that follow. ``None`` writes a
            PES_packet_length of 0 ("unbounded"), which MPEG-TS allows for video only.
        data_alignment: set ``data_alignment_indicator`` (the payload starts with an
            access unit, here the AUD).

    Returns:
        The header bytes, up to and including the timestamps.

    Raises:
        ValueError: the packet would be longer than PES_packet_length can express.
    """
    if dts is None or dts == pts:
        flags = 0x80
        stamps = encode_timestamp(_PTS_ONLY, pts)
    else:
        flags = 0xC0
        stamps = encode_timestamp(_PTS_WITH_DTS, pts) + encode_timestamp(_DTS, dts)
    length = 0
    if payload_len is not None:
        length = 3 + len(stamps) + payload_len
        if length > 0xFFFF:
            raise ValueError(f"PES payload of {payload_len} bytes does not fit a bounded packet")
    return (
        b"\x00\x00\x01"
        + bytes((stream_id, length >> 8, length & 0xFF))
        + bytes((0x80 | (0x04 if data_alignment else 0), flags, len(stamps)))
        + stamps
    )
