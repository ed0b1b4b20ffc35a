"""Exceptions raised by the HLS output (``device.hls``).

They hang under the device package's root, so an agent catching ``DeviceError`` also
catches them. Storage failures are not redefined here: a :class:`~device.hls.sink.SegmentSink`
raises the device's ``StorageError`` family (``device.errors``), and :class:`HlsStream`
keeps the affected objects queued instead of letting those errors escape ``write``.

Tree::

    DeviceError (device.errors)
    └── HlsError                     code, object_key
        ├── HlsInputError            a video or audio buffer cannot be muxed
        ├── HlsStateError            the stream is not open, or already open
        ├── HlsBackpressureError     too many finished segments are not stored yet
        └── KeyDeliveryError         an encryption key could not be handed over
"""

from __future__ import annotations

from device.errors import DeviceError

__all__ = [
    "HlsBackpressureError",
    "HlsError",
    "HlsInputError",
    "HlsStateError",
    "KeyDeliveryError",
]


class HlsError(DeviceError):
    """Root of the HLS output's own errors."""

    default_code = "hls"


class HlsInputError(HlsError):
    """A buffer given to the muxer is malformed or out of order.

    Examples: an access unit without any NAL unit, a key frame before any SPS/PPS was seen,
    a broken ADTS header, decoding timestamps going backwards, audio on a video-only stream.
    """

    default_code = "hls_input"


class HlsStateError(HlsError):
    """The operation does not fit the stream's state (write before open, open twice)."""

    default_code = "hls_state"


class HlsBackpressureError(HlsError):
    """Finished segments are piling up unstored; the frame was not accepted.

    Attributes:
        pending: how many finished segments wait for storage.
    """

    default_code = "hls_backpressure"

    def __init__(self, message: str, *, pending: int) -> None:
        super().__init__(message)
        self.pending = pending


class KeyDeliveryError(HlsError):
    """A content key could not be delivered, so no segment may be encrypted with it.

    Attributes:
        key_id: the identifier of the key that was not delivered (never the key itself).
    """

    default_code = "key_delivery"

    def __init__(self, message: str, *, key_id: str) -> None:
        super().__init__(message)
        self.key_id = key_id
