"""Shared media for the HLS tests (encoded once per session: PyAV is only used in tests)."""

from __future__ import annotations

import pytest

from device.hls.adts import AdtsFrame
from tests.device.hls.media import VideoUnit, encode_audio, encode_video

FPS = 10
AUDIO_RATE = 16_000


@pytest.fixture(scope="session")
def video_units() -> list[VideoUnit]:
    """6.5 s of 160x120 H.264 at 10 fps, an IDR picture every second, no B-frames."""
    return encode_video(65, fps=FPS, gop=FPS)


@pytest.fixture(scope="session")
def bframe_units() -> list[VideoUnit]:
    """3 s with two B-frames between references (PTS differs from DTS)."""
    return encode_video(30, fps=FPS, gop=FPS, bframes=2)


@pytest.fixture(scope="session")
def adts_frames() -> list[AdtsFrame]:
    """7 s of a 440 Hz tone, AAC-LC mono 16 kHz, in ADTS frames."""
    return encode_audio(7.0, rate=AUDIO_RATE)
