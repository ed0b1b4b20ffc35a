"""A generated H.264 test pattern for the HLS output, in pure Python.

Cameras normally feed their encoder's output. For trials and simulated fleets the agent
can make its own pictures without an encoder library: each group of pictures starts with
an IDR picture whose macroblocks are all ``I_PCM`` (raw samples, no transform or entropy
coding to get wrong), followed by P pictures made only of skipped macroblocks (a copy of
the previous picture). The image is a grey field with a bright bar that moves one step per
key frame and a row of blocks counting key frames in binary, so a viewer can see the
stream advance. It is valid Baseline profile H.264 that any decoder plays.

Sizes are small on purpose (the default 128x96 picture makes an 18 KB IDR picture, a few
bytes per P picture); the pattern exists to exercise the pipeline, not the network.
"""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["PatternVideo"]

_LUMA_BG = 60
_LUMA_BAR = 210
_LUMA_ON = 235
_LUMA_OFF = 16
_CHROMA = 128


class _Bits:
    """An RBSP bit writer (most significant bit first)."""

    def __init__(self) -> None:
        self._out = bytearray()
        self._acc = 0
        self._n = 0

    def u(self, width: int, value: int) -> None:
        for shift in range(width - 1, -1, -1):
            self._acc = (self._acc << 1) | ((value >> shift) & 1)
            self._n += 1
            if self._n == 8:
                self._out.append(self._acc)
                self._acc = 0
                self._n = 0

    def ue(self, value: int) -> None:
        code = value + 1
        length = code.bit_length()
        self.u(length - 1, 0)
        self.u(length, code)

    def se(self, value: int) -> None:
        self.ue(2 * value - 1 if value > 0 else -2 * value)

    def align_zero(self) -> None:
        while self._n:
            self.u(1, 0)

    def raw(self, data: bytes) -> None:
        if self._n:
            raise ValueError("raw bytes need byte alignment")
        self._out += data

    def trailing(self) -> bytes:
        self.u(1, 1)
        self.align_zero()
        return bytes(self._out)


def _nal(ref_idc: int, kind: int, rbsp: bytes) -> bytes:
    """A NAL unit with emulation prevention, behind a 4-byte start code."""
    out = bytearray((ref_idc << 5 | kind,))
    zeros = 0
    for byte in rbsp:
        if zeros >= 2 and byte <= 3:
            out.append(3)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return b"\x00\x00\x00\x01" + bytes(out)


class PatternVideo:
    """Endless test-pattern access units (Annex B), one picture per item.

    Args:
        width: picture width in pixels (a multiple of 16).
        height: picture height in pixels (a multiple of 16).
        gop: pictures per group; the first of each is an IDR picture.
    """

    def __init__(self, *, width: int = 128, height: int = 96, gop: int = 25) -> None:
        if width % 16 or height % 16 or width <= 0 or height <= 0:
            raise ValueError("width and height are positive multiples of 16")
        if gop < 1:
            raise ValueError("gop must be at least 1")
        self.width = width
        self.height = height
        self.gop = gop
        self._mbs_w = width // 16
        self._mbs_h = height // 16

    def parameter_sets(self) -> bytes:
        """The SPS and PPS (Baseline, CAVLC, POC type 2, one reference frame)."""
        sps = _Bits()
        sps.u(8, 66)  # profile_idc: Baseline
        sps.u(8, 0b11000000)  # constraint_set0/1 (Baseline, Main compatible), reserved
        sps.u(8, 30)  # level_idc 3.0
        sps.ue(0)  # seq_parameter_set_id
        sps.ue(0)  # log2_max_frame_num_minus4: frame_num has 4 bits
        sps.ue(2)  # pic_order_cnt_type 2: output order = decoding order
        sps.ue(1)  # max_num_ref_frames
        sps.u(1, 0)  # gaps_in_frame_num_value_allowed_flag
        sps.ue(self._mbs_w - 1)
        sps.ue(self._mbs_h - 1)
        sps.u(1, 1)  # frame_mbs_only_flag
        sps.u(1, 1)  # direct_8x8_inference_flag
        sps.u(1, 0)  # frame_cropping_flag
        sps.u(1, 0)  # vui_parameters_present_flag
        pps = _Bits()
        pps.ue(0)  # pic_parameter_set_id
        pps.ue(0)  # seq_parameter_set_id
        pps.u(1, 0)  # entropy_coding_mode_flag: CAVLC
        pps.u(1, 0)  # bottom_field_pic_order_in_frame_present_flag
        pps.ue(0)  # num_slice_groups_minus1
        pps.ue(0)  # num_ref_idx_l0_default_active_minus1
        pps.ue(0)  # num_ref_idx_l1_default_active_minus1
        pps.u(1, 0)  # weighted_pred_flag
        pps.u(2, 0)  # weighted_bipred_idc
        pps.se(0)  # pic_init_qp_minus26
        pps.se(0)  # pic_init_qs_minus26
        pps.se(0)  # chroma_qp_index_offset
        pps.u(1, 1)  # deblocking_filter_control_present_flag
        pps.u(1, 0)  # constrained_intra_pred_flag
        pps.u(1, 0)  # redundant_pic_cnt_present_flag
        return _nal(3, 7, sps.trailing()) + _nal(3, 8, pps.trailing())

    def picture(self, index: int) -> bytes:
        """Access unit ``index``: an IDR picture (with SPS and PPS) or a P picture."""
        position = index % self.gop
        if position == 0:
            return self.parameter_sets() + self._idr(index // self.gop)
        return self._p(position % 16)

    def __iter__(self) -> Iterator[bytes]:
        index = 0
        while True:
            yield self.picture(index)
            index += 1

    def _idr(self, number: int) -> bytes:
        bits = _Bits()
        bits.ue(0)  # first_mb_in_slice
        bits.ue(7)  # slice_type: I (all slices of the picture)
        bits.ue(0)  # pic_parameter_set_id
        bits.u(4, 0)  # frame_num
        bits.ue(number % 65536)  # idr_pic_id
        bits.u(1, 0)  # no_output_of_prior_pics_flag
        bits.u(1, 0)  # long_term_reference_flag
        bits.se(0)  # slice_qp_delta
        bits.ue(1)  # disable_deblocking_filter_idc: off
        luma = self._luma(number)
        chroma = bytes([_CHROMA]) * 128  # 64 Cb then 64 Cr samples
        for mby in range(self._mbs_h):
            for mbx in range(self._mbs_w):
                bits.ue(25)  # mb_type I_PCM
                bits.align_zero()
                block = bytearray()
                for y in range(16):
                    row = (mby * 16 + y) * self.width + mbx * 16
                    block += luma[row : row + 16]
                bits.raw(bytes(block) + chroma)
        return _nal(3, 5, bits.trailing())

    def _p(self, frame_num: int) -> bytes:
        bits = _Bits()
        bits.ue(0)  # first_mb_in_slice
        bits.ue(5)  # slice_type: P (all slices of the picture)
        bits.ue(0)  # pic_parameter_set_id
        bits.u(4, frame_num)
        bits.u(1, 0)  # num_ref_idx_active_override_flag
        bits.u(1, 0)  # ref_pic_list_modification_flag_l0
        bits.u(1, 0)  # adaptive_ref_pic_marking_mode_flag
        bits.se(0)  # slice_qp_delta
        bits.ue(1)  # disable_deblocking_filter_idc: off
        bits.ue(self._mbs_w * self._mbs_h)  # mb_skip_run: every macroblock copied
        return _nal(2, 1, bits.trailing())

    def _luma(self, number: int) -> bytes:
        w, h = self.width, self.height
        plane = bytearray([_LUMA_BG]) * (w * h)
        bar = (number * 8) % w
        end = min(bar + 8, w)
        for y in range(h):
            plane[y * w + bar : y * w + end] = bytes([_LUMA_BAR]) * (end - bar)
        # Key frame counter, 16 bits, one 8x8 block per bit along the bottom row.
        for bit in range(min(16, w // 8)):
            value = _LUMA_ON if (number >> (15 - bit)) & 1 else _LUMA_OFF
            for y in range(h - 8, h):
                plane[y * w + bit * 8 : y * w + bit * 8 + 8] = bytes([value]) * 8
        return bytes(plane)
