"""HLS output for cameras: a pure-Python MPEG-TS muxer and an HLS stream writer.

The camera feeds H.264 (Annex B, one access unit per call) and optionally AAC (ADTS);
:class:`HlsStream` cuts TS segments at IDR pictures, optionally encrypts them with
AES-128, stores them through a :class:`SegmentSink` and rewrites the m3u8 playlist only
after the segments it lists are stored. No FFmpeg and no native code of its own: AES-128
goes through the interpreter's libcrypto.
"""

from __future__ import annotations

from device.hls.encryption import (
    ContentKey,
    InMemoryKeyDelivery,
    KeyDelivery,
    decrypt_segment,
    encrypt_segment,
    iv_for_sequence,
)
from device.hls.errors import (
    HlsBackpressureError,
    HlsError,
    HlsInputError,
    HlsStateError,
    KeyDeliveryError,
)
from device.hls.options import EncryptionOptions, HlsOptions
from device.hls.playlist import KeyTag, PlaylistEntry, PlaylistWindow, render_media_playlist
from device.hls.segmenter import Segmenter, TsSegment
from device.hls.sink import (
    PLAYLIST_CONTENT_TYPE,
    SEGMENT_CONTENT_TYPE,
    MemorySink,
    OssBucketSink,
    SegmentSink,
)
from device.hls.spooled import SpoolSink
from device.hls.stream import HlsStats, HlsStream

__all__ = [
    "PLAYLIST_CONTENT_TYPE",
    "SEGMENT_CONTENT_TYPE",
    "ContentKey",
    "EncryptionOptions",
    "HlsBackpressureError",
    "HlsError",
    "HlsInputError",
    "HlsOptions",
    "HlsStateError",
    "HlsStats",
    "HlsStream",
    "InMemoryKeyDelivery",
    "KeyDelivery",
    "KeyDeliveryError",
    "KeyTag",
    "MemorySink",
    "OssBucketSink",
    "PlaylistEntry",
    "PlaylistWindow",
    "SegmentSink",
    "Segmenter",
    "SpoolSink",
    "TsSegment",
    "decrypt_segment",
    "encrypt_segment",
    "iv_for_sequence",
    "render_media_playlist",
]
