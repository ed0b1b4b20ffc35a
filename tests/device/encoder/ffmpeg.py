"""Debian's ffmpeg as the camera's encoder, and PyAV to check what was stored."""

from __future__ import annotations

import io
import itertools
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import av

FRAME_RATE = 25
# A test picture with moving content, small enough to encode fast on a loaded machine.
TEST_SOURCE = f"testsrc2=size=320x240:rate={FRAME_RATE}"
# The camera profile from the docs: constrained baseline, no B-frames, a key frame every 2 s.
BASELINE = ["-c:v", "libx264", "-profile:v", "baseline", "-bf", "0", "-g", "50"]


def ffmpeg() -> str:
    """The ffmpeg executable (installed by ``scripts/setup.sh``)."""
    path = shutil.which("ffmpeg")
    assert path is not None, "ffmpeg is not installed: run scripts/setup.sh"
    return path


def start(
    args: list[str], *, seconds: float, readrate: float | None = None
) -> subprocess.Popen[bytes]:
    """Start ffmpeg encoding ``seconds`` of the test picture with ``args`` as its output."""
    pace = [] if readrate is None else ["-readrate", str(readrate)]
    command = [ffmpeg(), "-hide_banner", "-loglevel", "error", "-nostdin", *pace,
               "-f", "lavfi", "-i", TEST_SOURCE, "-t", str(seconds), *args]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@dataclass(frozen=True)
class Decoded:
    """What PyAV decoded from one stored object."""

    frames: int
    pts_s: tuple[float, ...]
    errors: tuple[str, ...]


def decode(data: bytes) -> Decoded:
    """Decode every video frame of ``data`` (one stored object) with PyAV."""
    pts: list[float] = []
    errors: list[str] = []
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        for packet in container.demux(stream):
            try:
                for frame in packet.decode():
                    assert frame.pts is not None
                    assert frame.time_base is not None
                    pts.append(float(frame.pts * frame.time_base))
            except av.error.FFmpegError as exc:  # pragma: no cover - reported by the test
                errors.append(str(exc))
    return Decoded(len(pts), tuple(pts), tuple(errors))


def assert_continuous(pts_s: list[float], frames: int) -> None:
    """``frames`` pictures, each 1/25 s after the one before it."""
    assert len(pts_s) == frames, f"{len(pts_s)} frames stored, {frames} encoded"
    steps = {round(b - a, 3) for a, b in itertools.pairwise(pts_s)}
    assert steps == {round(1 / FRAME_RATE, 3)}, f"timestamps jump: steps {sorted(steps)}"


def tree(path: Path) -> list[str]:
    """Names in a directory, for assertion messages."""
    return sorted(p.name for p in path.iterdir())
