"""The MPEG-TS muxer: PSI, video and audio PES on fixed PIDs, PCR on the video PID.

:class:`TsMuxer` turns already-timestamped access units and ADTS frames into TS packets.
It knows nothing about segments or playlists; :mod:`device.hls.segmenter` decides where
segments start and asks for the PAT/PMT there.
"""

from __future__ import annotations

from collections.abc import Sequence

from device.hls.adts import AdtsFrame
from device.hls.packets import ContinuityCounters, packetize
from device.hls.pes import (
    AUDIO_STREAM_ID,
    MAX_AUDIO_PES_PAYLOAD,
    VIDEO_STREAM_ID,
    pes_header,
)
from device.hls.psi import (
    PAT_PID,
    STREAM_TYPE_AAC_ADTS,
    STREAM_TYPE_H264,
    pat_section,
    pmt_section,
    psi_packet,
)

__all__ = ["AUDIO_PID", "PCR_DELAY", "PMT_PID", "VIDEO_PID", "TsMuxer"]

PMT_PID = 0x1000
VIDEO_PID = 0x0100
AUDIO_PID = 0x0101
PROGRAM_NUMBER = 1
TRANSPORT_STREAM_ID = 1
# The PCR runs this far (90 kHz ticks, 0.7 s) behind the video DTS: a decoder buffers that
# long before decoding, so every DTS lies ahead of the clock when its packet arrives.
PCR_DELAY = 63_000


class TsMuxer:
    """Mux H.264 and (optionally) AAC into one MPEG-TS program.

    Args:
        audio: whether the PMT announces an AAC stream.
    """

    def __init__(self, *, audio: bool) -> None:
        self._counters = ContinuityCounters()
        self._audio = audio
        streams = [(STREAM_TYPE_H264, VIDEO_PID)]
        if audio:
            streams.append((STREAM_TYPE_AAC_ADTS, AUDIO_PID))
        self._pat = pat_section(
            transport_stream_id=TRANSPORT_STREAM_ID,
            program_number=PROGRAM_NUMBER,
            pmt_pid=PMT_PID,
        )
        self._pmt = pmt_section(program_number=PROGRAM_NUMBER, pcr_pid=VIDEO_PID, streams=streams)

    @property
    def has_audio(self) -> bool:
        """Whether the program carries an audio stream."""
        return self._audio

    def tables(self) -> bytes:
        """Return a PAT and a PMT packet (the start of every segment)."""
        return psi_packet(PAT_PID, self._pat, self._counters) + psi_packet(
            PMT_PID, self._pmt, self._counters
        )

    def video(self, annexb: bytes, *, pts: int, dts: int, key_frame: bool) -> bytes:
        """Return the TS packets of one video access unit.

        Args:
            annexb: the access unit, AUD first (see :meth:`AccessUnit.to_annexb`).
            pts: presentation timestamp, 90 kHz ticks, already offset to be positive.
            dts: decoding timestamp, 90 kHz ticks (``<= pts``).
            key_frame: set the random access indicator.
        """
        header = pes_header(VIDEO_STREAM_ID, pts=pts, dts=dts, data_alignment=True)
        return packetize(
            VIDEO_PID,
            header + annexb,
            self._counters,
            pcr=(dts - PCR_DELAY) * 300,
            random_access=key_frame,
        )

    def audio(self, frames: Sequence[AdtsFrame], pts: Sequence[int]) -> bytes:
        """Return the TS packets of consecutive ADTS frames.

        Frames are grouped into as few PES packets as PES_packet_length allows; each PES
        takes the timestamp of its first frame, the rest follow by sample count.

        Args:
            frames: ADTS frames in order.
            pts: the presentation timestamp of each frame, 90 kHz ticks.

        Raises:
            ValueError: the program has no audio stream, or the lists differ in length.
        """
        if not self._audio:
            raise ValueError("this program has no audio stream")
        if len(frames) != len(pts):
            raise ValueError("one timestamp per frame is needed")
        out = bytearray()
        group: list[bytes] = []
        group_pts = 0
        size = 0
        for frame, stamp in zip(frames, pts, strict=True):
            if group and size + len(frame.data) > MAX_AUDIO_PES_PAYLOAD:
                out += self._audio_pes(b"".join(group), group_pts)
                group, size = [], 0
            if not group:
                group_pts = stamp
            group.append(frame.data)
            size += len(frame.data)
        if group:
            out += self._audio_pes(b"".join(group), group_pts)
        return bytes(out)

    def _audio_pes(self, payload: bytes, pts: int) -> bytes:
        header = pes_header(AUDIO_STREAM_ID, pts=pts, payload_len=len(payload))
        return packetize(AUDIO_PID, header + payload, self._counters)
