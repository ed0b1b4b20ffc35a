"""Just enough H.264 Annex B parsing to mux a camera's stream into MPEG-TS.

The muxer never decodes slices. It needs to split an access unit into NAL units, see which
ones are parameter sets (SPS 7, PPS 8), delimiters (AUD 9) and IDR slices (5), and rebuild
the access unit in the order a transport stream wants: delimiter first, then parameter
sets, then everything else.

Frame boundaries are not guessed from the bitstream: each buffer the camera hands over is
one access unit (one picture), which is how hardware encoders deliver frames anyway.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from device.hls.errors import HlsInputError

__all__ = [
    "AUD_NAL",
    "NAL_AUD",
    "NAL_IDR",
    "NAL_PPS",
    "NAL_SEI",
    "NAL_SLICE",
    "NAL_SPS",
    "AccessUnit",
    "ParameterSets",
    "join_annexb",
    "nal_type",
    "split_annexb",
]

NAL_SLICE = 1
NAL_IDR = 5
NAL_SEI = 6
NAL_SPS = 7
NAL_PPS = 8
NAL_AUD = 9

# An access unit delimiter with primary_pic_type 7 ("any slice type") and its stop bit:
# always true, so it never has to look at the slices it announces.
AUD_NAL = b"\x09\xf0"
_START_CODE = b"\x00\x00\x00\x01"


def split_annexb(data: bytes) -> list[bytes]:
    """Split an Annex B byte stream into NAL units (without start codes).

    Both 3- and 4-byte start codes are accepted; zero bytes before a start code
    (``trailing_zero_8bits``) are dropped, since no NAL unit ends in a zero byte.

    Args:
        data: one or more NAL units, each preceded by ``00 00 01`` or ``00 00 00 01``.

    Returns:
        The NAL units in order, each starting with its header byte.

    Raises:
        HlsInputError: ``data`` does not start with a start code (length-prefixed AVCC
            input, for example) or holds no NAL unit.
    """
    first = data.find(b"\x00\x00\x01")
    if first < 0 or data[:first].strip(b"\x00"):
        raise HlsInputError("video is not an H.264 Annex B stream (no leading start code)")
    nals: list[bytes] = []
    start = first + 3
    while True:
        nxt = data.find(b"\x00\x00\x01", start)
        end = len(data) if nxt < 0 else nxt
        nal = data[start:end].rstrip(b"\x00")
        if nal:
            nals.append(nal)
        if nxt < 0:
            break
        start = nxt + 3
    if not nals:
        raise HlsInputError("video buffer holds no NAL unit")
    return nals


def join_annexb(nals: Iterable[bytes]) -> bytes:
    """Join NAL units into Annex B with 4-byte start codes."""
    return b"".join(_START_CODE + nal for nal in nals)


def nal_type(nal: bytes) -> int:
    """Return ``nal_unit_type`` (the low five bits of the header byte)."""
    return nal[0] & 0x1F


@dataclass
class ParameterSets:
    """The latest SPS and PPS seen in the stream, repeated at each segment start.

    A segment must decode on its own, but encoders often send parameter sets only with the
    first key frame. Cameras use one SPS and one PPS, so keeping the latest of each is
    enough; a stream that switches between several ids needs them in every key frame.
    """

    sps: bytes | None = None
    pps: bytes | None = None

    def learn(self, nals: Sequence[bytes]) -> None:
        """Remember the last SPS and PPS found in ``nals``."""
        for nal in nals:
            kind = nal_type(nal)
            if kind == NAL_SPS:
                self.sps = nal
            elif kind == NAL_PPS:
                self.pps = nal


@dataclass(frozen=True)
class AccessUnit:
    """One coded picture, as NAL units.

    Attributes:
        nals: the NAL units (without start codes) in bitstream order.
    """

    nals: tuple[bytes, ...]

    @classmethod
    def parse(cls, data: bytes) -> AccessUnit:
        """Parse one Annex B access unit.

        Raises:
            HlsInputError: see :func:`split_annexb`; also when no NAL is a picture slice.
        """
        nals = tuple(split_annexb(data))
        if not any(nal_type(nal) in (NAL_SLICE, NAL_IDR) for nal in nals):
            raise HlsInputError("video access unit holds no coded slice")
        return cls(nals)

    @property
    def is_idr(self) -> bool:
        """Whether the picture is an IDR picture (a clean segment start)."""
        return any(nal_type(nal) == NAL_IDR for nal in self.nals)

    def to_annexb(self, params: ParameterSets | None = None) -> bytes:
        """Rebuild the access unit for a transport stream.

        An AUD comes first (added when missing: players and segmenters rely on it to find
        picture starts). With ``params``, the access unit also carries an SPS and PPS right
        after the AUD, its own if it has them, the cached ones otherwise.

        Args:
            params: parameter sets to guarantee in this access unit (at a segment start).

        Raises:
            HlsInputError: ``params`` is given but no SPS or PPS is known.
        """
        body = [nal for nal in self.nals if nal_type(nal) != NAL_AUD]
        if params is None:
            return join_annexb([AUD_NAL, *body])
        sps = [nal for nal in body if nal_type(nal) == NAL_SPS]
        pps = [nal for nal in body if nal_type(nal) == NAL_PPS]
        if not sps and params.sps is not None:
            sps = [params.sps]
        if not pps and params.pps is not None:
            pps = [params.pps]
        if not sps or not pps:
            raise HlsInputError("key frame without SPS/PPS: the segment could not be decoded")
        rest = [nal for nal in body if nal_type(nal) not in (NAL_SPS, NAL_PPS)]
        return join_annexb([AUD_NAL, *sps, *pps, *rest])
