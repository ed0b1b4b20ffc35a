"""A small, real H.264 fragmented MP4 made with PyAV, for playback tests."""

from __future__ import annotations

import functools
import io

import av


@functools.cache
def fragmented_mp4(seconds: int = 4, fps: int = 10, size: int = 64) -> bytes:
    """Encode a moving test pattern as H.264 in a fragmented MP4 (``frag_keyframe+empty_moov``).

    Args:
        seconds: duration.
        fps: frame rate.
        size: width and height in pixels.

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
    stream.width = size
    stream.height = size
    stream.pix_fmt = "yuv420p"
    stream.options = {"preset": "ultrafast", "g": str(fps)}
    for i in range(seconds * fps):
        frame = av.VideoFrame(size, size, "yuv420p")
        for plane_no, plane in enumerate(frame.planes):
            # A different flat shade each frame: cheap, but every frame really changes.
            plane.update(bytes([(i * 7 + plane_no * 60) % 256]) * plane.buffer_size)
        frame.pts = i
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)
    out.close()
    return buf.getvalue()
