"""Real H.264 video for simulated cameras: a test pattern in fragmented MP4.

Each frame shows a moving bar, the camera id and the wall-clock time, so a person watching a
recording in the console can tell which camera and which moment it is. The output is
fragmented MP4 (``empty_moov`` + a fragment per key frame), so an appendable object holding any
prefix of whole fragments plays in a browser while the camera keeps appending.

PyAV is an optional dependency (the ``sim`` extra); :func:`video_available` says whether it is
installed, and :class:`SyntheticSource` gives deterministic bytes when it is not.
"""

from __future__ import annotations

import hashlib
import importlib.util
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from simulator.video.font import draw_text


def video_available() -> bool:
    """Whether PyAV is installed, so real video can be produced."""
    return importlib.util.find_spec("av") is not None


@dataclass(frozen=True, kw_only=True)
class PatternSettings:
    """How the test pattern is encoded.

    Attributes:
        width, height: frame size in pixels (even numbers, as H.264 4:2:0 needs).
        fps: frames per second.
        gop_s: seconds between key frames; each key frame starts a new MP4 fragment, so this is
            also how often a growing object gains a playable piece.
        bitrate: target bits per second for the encoder.
    """

    width: int = 320
    height: int = 180
    fps: int = 10
    gop_s: float = 1.0
    bitrate: int = 256_000


class _Sink:
    """A write-only file for PyAV's muxer that hands out what was written so far."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._pos = 0

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        self._pos += len(data)
        return len(data)

    def tell(self) -> int:
        return self._pos

    def flush(self) -> None:
        return None

    def take(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


def _frame_plane(settings: PatternSettings, camera_id: str, index: int, wall_s: float) -> bytes:
    w, h = settings.width, settings.height
    plane = bytearray(b"\x10") * (w * h)
    bar_x = (index * 4) % w
    for y in range(h):
        row = y * w
        plane[row + bar_x : row + min(bar_x + 12, w)] = b"\xa0" * (min(bar_x + 12, w) - bar_x)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(wall_s))
    draw_text(plane, w, camera_id, 8, 8)
    draw_text(plane, w, f"{stamp}.{int(wall_s * 10) % 10}", 8, 28)
    return bytes(plane)


def encode_test_pattern(
    camera_id: str,
    seconds: float,
    settings: PatternSettings = PatternSettings(),
    *,
    start_wall_s: float | None = None,
    clock: Callable[[], float] = time.time,
) -> Iterator[bytes]:
    """Encode ``seconds`` of test pattern and yield the fMP4 bytes as they are produced.

    The first piece holds the ``ftyp`` + ``moov`` header; each later piece is one or more whole
    fragments, so every prefix ending at a piece boundary is a playable file.

    Args:
        camera_id: burnt into every frame.
        seconds: length of video to produce.
        settings: size, rate and encoder settings.
        start_wall_s: wall-clock time of the first frame (default: now by ``clock``).
        clock: wall clock, injectable for reproducible output.

    Raises:
        RuntimeError: PyAV is not installed.
    """
    if not video_available():
        raise RuntimeError("real video needs PyAV: pip install 'ossmedia[sim]'")
    import av

    start = clock() if start_wall_s is None else start_wall_s
    sink = _Sink()
    container: Any = av.open(
        sink,
        mode="w",
        format="mp4",
        options={"movflags": "frag_keyframe+empty_moov+default_base_moof"},
    )
    stream: Any = container.add_stream("libx264", rate=settings.fps)
    stream.width = settings.width
    stream.height = settings.height
    stream.pix_fmt = "yuv420p"
    stream.bit_rate = settings.bitrate
    gop = max(1, round(settings.fps * settings.gop_s))
    stream.codec_context.gop_size = gop
    stream.codec_context.options = {
        "preset": "ultrafast",
        "tune": "zerolatency",
        "keyint_min": str(gop),
        "sc_threshold": "0",
    }
    chroma = bytes([128]) * ((settings.width // 2) * (settings.height // 2))
    frames = max(1, round(seconds * settings.fps))
    try:
        for index in range(frames):
            frame = av.VideoFrame(settings.width, settings.height, "yuv420p")
            luma = _frame_plane(settings, camera_id, index, start + index / settings.fps)
            _fill(frame.planes[0], luma, settings.width)
            _fill(frame.planes[1], chroma, settings.width // 2)
            _fill(frame.planes[2], chroma, settings.width // 2)
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
            piece = sink.take()
            if piece:
                yield piece
        for packet in stream.encode(None):
            container.mux(packet)
    finally:
        container.close()
    tail = sink.take()
    if tail:
        yield tail


def _fill(plane: Any, data: bytes, width: int) -> None:
    """Copy tightly packed rows into a plane whose stride may be padded."""
    stride = int(plane.line_size)
    if stride == width:
        plane.update(data)
        return
    rows = len(data) // width
    padded = bytearray(stride * rows)
    for r in range(rows):
        padded[r * stride : r * stride + width] = data[r * width : (r + 1) * width]
    plane.update(bytes(padded))


class SyntheticSource:
    """Deterministic pseudo-video bytes: the same camera and seed always give the same stream.

    Used when PyAV is missing and for fleet runs where only byte integrity matters.
    """

    def __init__(self, camera_id: str, seed: int = 0) -> None:
        self._key = hashlib.sha256(f"{camera_id}/{seed}".encode()).digest()
        self._counter = 0
        self._left = b""

    def read(self, size: int) -> bytes:
        """Return the next ``size`` bytes of the stream."""
        out = bytearray(self._left)
        while len(out) < size:
            out += hashlib.sha256(self._key + self._counter.to_bytes(8, "big")).digest()
            self._counter += 1
        self._left = bytes(out[size:])
        return bytes(out[:size])
