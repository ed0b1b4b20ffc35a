"""Playing what the stream stored, with PyAV (FFmpeg), and catching FFmpeg's complaints."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import av
import av.logging

from device.hls import MemorySink

HLS_OPTIONS = {"allowed_extensions": "ALL", "protocol_whitelist": "file,crypto,data"}


@contextmanager
def ffmpeg_log() -> Iterator[list[tuple[int, str, str]]]:
    """Collect FFmpeg's warnings and errors while the block runs."""
    before = av.logging.get_level()
    av.logging.set_level(av.logging.WARNING)
    try:
        with av.logging.Capture(True) as logs:
            yield logs
    finally:
        av.logging.set_level(before)


def write_out(sink: MemorySink, root: Path) -> None:
    """Copy every stored object to ``root / key`` (a local mirror of the bucket)."""
    for key, obj in sink.objects.items():
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(obj.data)


@dataclass
class Decoded:
    codecs: set[tuple[str, str]]
    video_pts: list[int]
    audio_pts: list[int]
    first_is_key: bool
    audio_samples: int


def decode(path: Path, options: dict[str, str] | None = None) -> Decoded:
    """Decode every frame of a file or playlist."""
    with av.open(str(path), options=options or {}) as container:
        codecs: set[tuple[str, str]] = {
            (str(s.type), s.codec_context.name) for s in container.streams
        }
        video_pts: list[int] = []
        audio_pts: list[int] = []
        samples = 0
        first_is_key = False
        for frame in container.decode(*container.streams):
            if isinstance(frame, av.VideoFrame):
                if not video_pts:
                    first_is_key = bool(frame.key_frame)
                assert frame.pts is not None
                video_pts.append(frame.pts)
            elif isinstance(frame, av.AudioFrame):
                assert frame.pts is not None
                audio_pts.append(frame.pts)
                samples += frame.samples
    return Decoded(codecs, video_pts, audio_pts, first_is_key, samples)


def decode_segments(segments: Mapping[str, bytes], directory: Path) -> list[tuple[str, Decoded]]:
    """Write each segment (by key, in key order) into ``directory`` and decode it on its own."""
    directory.mkdir()
    decoded = []
    for key in sorted(segments):
        path = directory / key.rsplit("/", 1)[1]
        path.write_bytes(segments[key])
        decoded.append((key, decode(path)))
    return decoded


def extinf(text: str) -> list[float]:
    return [float(v) for v in re.findall(r"#EXTINF:([\d.]+),", text)]


def target_duration(text: str) -> int:
    match = re.search(r"#EXT-X-TARGETDURATION:(\d+)", text)
    assert match is not None
    return int(match.group(1))
