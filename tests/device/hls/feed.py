"""Feeding helpers: interleave video and audio into a stream the way a camera would."""

from __future__ import annotations

from collections.abc import Sequence

from device.hls import HlsStream
from device.hls.adts import AdtsFrame
from tests.device.hls.media import VideoUnit


def feed(
    stream: HlsStream,
    units: Sequence[VideoUnit],
    audio: Sequence[AdtsFrame] = (),
    *,
    audio_rate: int = 16_000,
    explicit_dts: bool = False,
) -> None:
    """Write every unit with its PTS, each followed by the audio frames due by then."""
    next_audio = 0
    for unit in units:
        stream.write(video=unit.data, pts=unit.pts, dts=unit.dts if explicit_dts else None)
        while next_audio < len(audio) and next_audio * 1024 * 90_000 // audio_rate <= unit.dts:
            stream.write(audio=audio[next_audio].data)
            next_audio += 1
