"""What the muxer reads inside H.264 NAL units: slice types and the SPS frame rate.

Two facts decide whether an Annex B stream can be timed by counting pictures:

* **B-slices** (``slice_type`` 1 or 6) mean pictures arrive in decoding order, not
  presentation order: counting them gives decoding times, and presentation times would need
  the picture order counts. :func:`has_b_slice` reads the first two fields of each slice
  header.
* **The stream's own frame rate**: encoders write ``timing_info`` into the SPS's VUI
  (x264: ``time_scale`` = 2 x fps, ``num_units_in_tick`` = 1). :func:`sps_frame_rate`
  parses the SPS as far as that.
"""

from __future__ import annotations

from device.hls.errors import HlsInputError
from device.hls.h264 import NAL_IDR, NAL_SLICE, nal_type

__all__ = ["has_b_slice", "sps_frame_rate"]

_B_SLICE_TYPES = frozenset({1, 6})
# profile_idc values whose SPS carries chroma format, bit depths and scaling matrices.
_HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})
_EXTENDED_SAR = 255


def _unescape(nal: bytes) -> bytes:
    """Drop emulation prevention bytes (``00 00 03`` -> ``00 00``)."""
    out = bytearray()
    zeros = 0
    for byte in nal:
        if zeros >= 2 and byte == 3:  # the escape byte
            zeros = 0
            continue
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


class _Bits:
    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def bit(self) -> int:
        index = self._pos >> 3
        if index >= len(self._data):
            raise HlsInputError("H.264 header ends early")
        value = (self._data[index] >> (7 - (self._pos & 7))) & 1
        self._pos += 1
        return value

    def bits(self, count: int) -> int:
        value = 0
        for _ in range(count):
            value = (value << 1) | self.bit()
        return value

    def ue(self) -> int:
        zeros = 0
        while self.bit() == 0:
            zeros += 1
            if zeros > 31:  # a 32-bit Exp-Golomb code at most
                raise HlsInputError("H.264 Exp-Golomb code too long")
        return (1 << zeros) - 1 + self.bits(zeros)

    def se(self) -> int:
        code = self.ue()
        return (code + 1) // 2 if code & 1 else -(code // 2)


def has_b_slice(nals: list[bytes] | tuple[bytes, ...]) -> bool:
    """Whether any slice of an access unit is a B-slice.

    Raises:
        HlsInputError: a slice header is cut short.
    """
    for nal in nals:
        if nal_type(nal) in (NAL_SLICE, NAL_IDR) and len(nal) > 1:
            bits = _Bits(_unescape(nal[1:9]))
            bits.ue()  # first_mb_in_slice
            if bits.ue() in _B_SLICE_TYPES:
                return True
    return False


def _skip_scaling_list(bits: _Bits, size: int) -> None:
    last = next_scale = 8
    for _ in range(size):
        if next_scale != 0:
            next_scale = (last + bits.se() + 256) % 256
        last = next_scale if next_scale != 0 else last


def sps_frame_rate(sps: bytes) -> float | None:
    """The frame rate an SPS states in its VUI timing info, or ``None`` when it states none.

    Args:
        sps: the SPS NAL unit (header byte included, no start code).

    Raises:
        HlsInputError: the SPS is cut short or malformed.
    """
    bits = _Bits(_unescape(sps[1:]))
    profile = bits.bits(8)
    bits.bits(16)  # constraint flags, level_idc
    bits.ue()  # seq_parameter_set_id
    if profile in _HIGH_PROFILES:
        chroma = bits.ue()
        if chroma == 3:  # 4:4:4
            bits.bit()
        bits.ue()
        bits.ue()
        bits.bit()
        if bits.bit():  # seq_scaling_matrix_present_flag
            for index in range(8 if chroma != 3 else 12):
                if bits.bit():
                    _skip_scaling_list(bits, 16 if index < 6 else 64)
    bits.ue()  # log2_max_frame_num_minus4
    poc_type = bits.ue()
    if poc_type == 0:
        bits.ue()
    elif poc_type == 1:
        bits.bit()
        bits.se()
        bits.se()
        for _ in range(bits.ue()):
            bits.se()
    bits.ue()  # max_num_ref_frames
    bits.bit()
    bits.ue()
    bits.ue()
    if not bits.bit():  # frame_mbs_only_flag
        bits.bit()
    bits.bit()
    if bits.bit():  # frame_cropping_flag
        for _ in range(4):
            bits.ue()
    if not bits.bit():  # vui_parameters_present_flag
        return None
    if bits.bit() and bits.bits(8) == _EXTENDED_SAR:  # aspect_ratio_info
        bits.bits(32)
    if bits.bit():  # overscan_info_present_flag
        bits.bit()
    if bits.bit():  # video_signal_type_present_flag
        bits.bits(4)
        if bits.bit():
            bits.bits(24)
    if bits.bit():  # chroma_loc_info_present_flag
        bits.ue()
        bits.ue()
    if not bits.bit():  # timing_info_present_flag
        return None
    units = bits.bits(32)
    scale = bits.bits(32)
    if units == 0 or scale == 0:
        return None
    return scale / (2 * units)  # a frame is two fields' ticks
