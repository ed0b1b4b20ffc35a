"""Debian's ffmpeg piping H.264 into the agent's stdin, the agent writing HLS.

Each run encodes 20 s of video. A stream with B-frames is refused with a message that says
how to encode instead (counting pictures in arrival order cannot time it); a stream encoded
at 12.5 pictures per second while ``frame_rate`` says 25 is timed by the rate its SPS
states, so the stored recording lasts 20 s, not 10.
"""

from __future__ import annotations

import itertools
import logging
import subprocess
from pathlib import Path

import pytest

from device.agent.agent import EXIT_FAILED, EXIT_OK, Agent
from device.settings import AgentSettings
from tests.device.encoder import ffmpeg
from tests.device.stack import Stack

SECONDS = 20


def _settings(stack: Stack, device_id: str, spool: Path) -> AgentSettings:
    return stack.agent_settings(
        device_id,
        spool,
        source={"kind": "stdin"},
        output={"format": "hls", "mode": "vod", "stream": "cam", "session": "S1",
                "frame_rate": 25.0, "target_duration_s": 2.0},
    )  # fmt: skip


def _encoder(args: list[str], rate: str) -> subprocess.Popen[bytes]:
    command = [ffmpeg.ffmpeg(), "-hide_banner", "-loglevel", "error", "-nostdin",
               "-f", "lavfi", "-i", f"testsrc2=size=320x240:rate={rate}", "-t", str(SECONDS),
               *args, "-f", "h264", "-"]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_b_frames_are_refused_with_a_clear_message(
    stack: Stack, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    encoder = _encoder(["-c:v", "libx264", "-profile:v", "high", "-g", "50"], "25")
    assert encoder.stdout is not None
    agent = Agent(_settings(stack, "cam-bframes", tmp_path / "spool"), stdin=encoder.stdout)
    with caplog.at_level(logging.ERROR):
        assert agent.run(until_drained=True) == EXIT_FAILED
    encoder.kill()
    encoder.wait(30)
    assert "has B-frames" in caplog.text
    assert "-bf 0" in caplog.text
    # Only the pictures before the first B-frame (an I and a P picture) were taken.
    stored = [data for key, data in stack.objects("videos/cam-bframes/") if key.endswith(".ts")]
    assert len(stored) <= 1
    assert sum(ffmpeg.decode(data).frames for data in stored) <= 2


def test_stream_rate_wins_over_a_wrong_frame_rate(
    stack: Stack, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    encoder = _encoder([*ffmpeg.BASELINE[:-2], "-g", "25"], "12.5")
    assert encoder.stdout is not None
    agent = Agent(_settings(stack, "cam-12fps", tmp_path / "spool"), stdin=encoder.stdout)
    with caplog.at_level(logging.WARNING):
        assert agent.run(until_drained=True) == EXIT_OK
    assert encoder.wait(30) == 0
    warnings = [r.getMessage() for r in caplog.records if "encoded at 12.5" in r.getMessage()]
    assert len(warnings) == 1  # once
    objects = dict(stack.objects("videos/cam-12fps/"))
    playlist = objects["videos/cam-12fps/cam/S1.m3u8"].decode()
    segments = [line for line in playlist.splitlines() if line.endswith(".ts")]
    joined = b"".join(objects[f"videos/cam-12fps/cam/{name}"] for name in segments)
    decoded = ffmpeg.decode(joined)
    frames = int(SECONDS * 12.5)
    assert decoded.frames == frames
    steps = {round(b - a, 3) for a, b in itertools.pairwise(decoded.pts_s)}
    assert steps == {0.08}
    assert decoded.pts_s[-1] - decoded.pts_s[0] == pytest.approx(SECONDS - 0.08, abs=0.01)
    durations = [float(line[8:].rstrip(",")) for line in playlist.splitlines()
                 if line.startswith("#EXTINF:")]  # fmt: skip
    assert sum(durations) == pytest.approx(SECONDS, abs=0.1)
