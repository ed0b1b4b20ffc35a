"""A small, real H.264 fragmented MP4 made with PyAV, for playback tests."""

from __future__ import annotations

import functools
import io

import av


@functools.cache
def fragmented_mp4(seconds: int = 4, fps: int = 10, width: int = 64, height: int = 64) -> bytes:
    """Encode a moving test pattern as H.264 in a fragmented MP4 (``frag_keyframe+empty_moov``).

    Args:
        seconds: duration.
        fps: frame rate.
        width: frame width in pixels.
        height: frame height in pixels.

    Returns:
        The file's bytes.
    """
    buf = io.BytesIO()
    out = av.open(
        buf,
        mode="w",
        format="mp4",
        options={"movflags": "frag_keyframe+empty_moov+default_base_moof"},
    )
    stream = out.add_stream("libx264", rate=fps)
    stream.width = width
    stream.height = height
    stream.pix_fmt = "yuv420p"
    stream.options = {"preset": "ultrafast", "g": str(fps)}
    for i in range(seconds * fps):
        frame = av.VideoFrame(width, height, "yuv420p")
        for plane_no, plane in enumerate(frame.planes):
            # A different flat colour each frame: cheap, but every frame really changes.
            shade = 90 + (i * 9) % 120 if plane_no == 0 else (i * 23 + plane_no * 80) % 256
            plane.update(bytes([shade]) * plane.buffer_size)
        frame.pts = i
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)
    out.close()
    return buf.getvalue()
