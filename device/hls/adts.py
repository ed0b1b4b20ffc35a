"""AAC in ADTS framing: split a buffer into frames and read each frame's header.

Every ADTS frame carries its own sample rate, channel configuration and length, so a
camera's AAC output can be muxed without any out-of-band configuration. One ADTS frame
holds ``number_of_raw_data_blocks + 1`` AAC frames of 1024 samples each.
"""

from __future__ import annotations

from dataclasses import dataclass

from device.hls.errors import HlsInputError

__all__ = ["ADTS_SAMPLE_RATES", "AdtsFrame", "split_adts"]

ADTS_SAMPLE_RATES: tuple[int, ...] = (
    96000,
    88200,
    64000,
    48000,
    44100,
    32000,
    24000,
    22050,
    16000,
    12000,
    11025,
    8000,
    7350,
)
SAMPLES_PER_BLOCK = 1024
_HEADER_LEN = 7


@dataclass(frozen=True)
class AdtsFrame:
    """One ADTS frame (header included).

    Attributes:
        data: the whole frame, header and payload, as it goes into the PES.
        sample_rate: samples per second, from ``sampling_frequency_index``.
        channels: ``channel_configuration`` (0 means "defined in the payload").
        samples: PCM samples per channel the frame decodes to.
    """

    data: bytes
    sample_rate: int
    channels: int
    samples: int


def split_adts(data: bytes) -> list[AdtsFrame]:
    """Split a buffer of back-to-back ADTS frames.

    Args:
        data: one or more complete ADTS frames.

    Returns:
        The frames in order.

    Raises:
        HlsInputError: a sync word is missing, a header is invalid, or the last frame
            is cut short.
    """
    frames: list[AdtsFrame] = []
    pos = 0
    while pos < len(data):
        header = data[pos : pos + _HEADER_LEN]
        if len(header) < _HEADER_LEN:
            raise HlsInputError(f"truncated ADTS header at byte {pos}")
        if header[0] != 0xFF or header[1] & 0xF6 != 0xF0:
            raise HlsInputError(f"no ADTS sync word at byte {pos}")
        rate_index = (header[2] >> 2) & 0x0F
        if rate_index >= len(ADTS_SAMPLE_RATES):
            raise HlsInputError(f"invalid ADTS sampling frequency index {rate_index}")
        channels = ((header[2] & 0x01) << 2) | (header[3] >> 6)
        length = ((header[3] & 0x03) << 11) | (header[4] << 3) | (header[5] >> 5)
        header_len = _HEADER_LEN if header[1] & 0x01 else _HEADER_LEN + 2
        if length < header_len:
            raise HlsInputError(f"ADTS frame length {length} shorter than its header")
        if pos + length > len(data):
            raise HlsInputError(f"ADTS frame at byte {pos} is cut short")
        blocks = (header[6] & 0x03) + 1
        frames.append(
            AdtsFrame(
                data=data[pos : pos + length],
                sample_rate=ADTS_SAMPLE_RATES[rate_index],
                channels=channels,
                samples=blocks * SAMPLES_PER_BLOCK,
            )
        )
        pos += length
    if not frames:
        raise HlsInputError("audio buffer holds no ADTS frame")
    return frames
