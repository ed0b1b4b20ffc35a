"""Timing pictures of an Annex B stream, and refusing what cannot be timed that way."""

from __future__ import annotations

import logging

from device.errors import SourceError
from device.hls import HlsInputError
from device.hls.h264 import NAL_SPS, nal_type, split_annexb
from device.hls.pes import CLOCK_HZ
from device.hls.sps import has_b_slice, sps_frame_rate

__all__ = ["PictureTiming"]

log = logging.getLogger(__name__)


class PictureTiming:
    """Checks each picture before it is timed by its index.

    An Annex B stream has no timestamps, so picture ``n`` is shown at ``n / frame_rate``.
    That holds only for pictures in presentation order (no B-frames: refused) at the rate
    the stream was encoded at: when the SPS states a rate that differs from the configured
    one, the stream's own rate wins (with one warning). Only for a live source (stdin):
    a file is paced at the configured rate, which then is the recording's rate.
    """

    def __init__(self, frame_rate: float, *, trust_stream_rate: bool = True) -> None:
        self.frame_rate = frame_rate
        self._trust_stream_rate = trust_stream_rate
        self._checked_rate = False
        self._override = False

    @property
    def interval_s(self) -> float:
        return 1.0 / self.frame_rate

    def check(self, unit: bytes, index: int) -> int | None:
        """Return the picture's pts when the stream's rate overrides the configured one.

        Raises:
            SourceError: the picture has B-slices.
        """
        try:
            nals = split_annexb(unit)
            if has_b_slice(nals):
                raise SourceError(
                    f"the H.264 stream has B-frames (picture {index}): HLS output times"
                    " pictures in the order they arrive, which B-frames break; encode"
                    " without them (ffmpeg/x264: -bf 0 or -profile:v baseline; GStreamer"
                    " x264enc: bframes=0)"
                )
            if self._trust_stream_rate and not self._checked_rate:
                sps = next((nal for nal in nals if nal_type(nal) == NAL_SPS), None)
                if sps is not None:
                    self._checked_rate = True
                    self._adopt(sps_frame_rate(sps))
        except HlsInputError:
            return None  # the stream refuses the picture itself and says why
        if not self._override:
            return None
        return round(index * CLOCK_HZ / self.frame_rate)

    def _adopt(self, stated: float | None) -> None:
        if stated is None or abs(stated - self.frame_rate) <= self.frame_rate * 0.01:
            return
        log.warning(
            "output.frame_rate is %g but the H.264 stream says it is encoded at %g pictures"
            " per second; timing it by the stream's rate",
            self.frame_rate,
            stated,
        )
        self.frame_rate = stated
        self._override = True
