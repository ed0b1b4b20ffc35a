"""Real media for the tests, made with PyAV: H.264 access units and AAC ADTS frames."""

from __future__ import annotations

import io
import math
import struct
from dataclasses import dataclass
from fractions import Fraction

import av

from device.hls.adts import AdtsFrame, split_adts
from device.hls.h264 import NAL_PPS, NAL_SPS, join_annexb, nal_type, split_annexb

WIDTH, HEIGHT = 160, 120


@dataclass(frozen=True)
class VideoUnit:
    data: bytes
    pts: int  # 90 kHz
    dts: int
    key: bool


def encode_video(frames: int, *, fps: int = 10, gop: int = 10, bframes: int = 0) -> list[VideoUnit]:
    """Encode a moving test pattern with libx264 (Annex B, closed GOPs of ``gop``)."""
    cc = av.CodecContext.create("libx264", "w")
    cc.width, cc.height = WIDTH, HEIGHT
    cc.pix_fmt = "yuv420p"
    cc.time_base = Fraction(1, fps)
    cc.framerate = Fraction(fps, 1)
    cc.gop_size = gop
    cc.options = {
        "preset": "veryfast" if bframes else "ultrafast",
        "sc_threshold": "0",
        "keyint_min": str(gop),
        "bframes": str(bframes),
        "rc-lookahead": "0" if not bframes else "4",
    }
    ticks = 90_000 // fps
    packets = []
    for i in range(frames):
        frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
        for j, plane in enumerate(frame.planes):
            plane.update(bytes(((k + i * 7) * (j + 1)) & 0xFF for k in range(plane.buffer_size)))
        frame.pts = i
        packets += cc.encode(frame)
    packets += cc.encode(None)
    units = []
    for p in packets:
        assert p.pts is not None
        assert p.dts is not None
        units.append(VideoUnit(bytes(p), p.pts * ticks, p.dts * ticks, bool(p.is_keyframe)))
    return units


def encode_audio(seconds: float, *, rate: int = 16_000) -> list[AdtsFrame]:
    """Encode a 440 Hz tone with PyAV's AAC encoder through the ADTS muxer."""
    buf = io.BytesIO()
    out = av.open(buf, "w", format="adts")
    stream = out.add_stream("aac", rate=rate, layout="mono")
    for i in range(math.ceil(seconds * rate / 1024)):
        frame = av.AudioFrame(format="fltp", layout="mono", samples=1024)
        samples = [0.3 * math.sin(2 * math.pi * 440 * (i * 1024 + k) / rate) for k in range(1024)]
        frame.planes[0].update(struct.pack("<1024f", *samples))
        frame.sample_rate = rate
        frame.pts = i * 1024
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode(None):
        out.mux(packet)
    out.close()
    return split_adts(buf.getvalue())


def strip_parameter_sets(unit: VideoUnit) -> VideoUnit:
    """The same picture without SPS/PPS (as encoders that send them once produce)."""
    nals = [n for n in split_annexb(unit.data) if nal_type(n) not in (NAL_SPS, NAL_PPS)]
    return VideoUnit(join_annexb(nals), unit.pts, unit.dts, unit.key)
