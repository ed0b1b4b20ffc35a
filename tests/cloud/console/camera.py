"""A test camera: provisioned in the real registry, uploads real objects to the emulator, and
builds the signed ``segment.closed`` and ``status`` messages a real camera would send."""

from __future__ import annotations

from dataclasses import dataclass

import oss2

from cloud.registry import Registry
from schemas import (
    DeviceKeys,
    HlsKey,
    SegmentClosed,
    SegmentOpened,
    Status,
    build_hls_key,
    encode,
    new_event_id,
    sign_segment_closed,
    sign_segment_opened,
    sign_status,
)


@dataclass
class TestCamera:
    """One provisioned camera.

    Attributes:
        device_id: its id.
        keys: its derived keys.
        bucket: an oss2 bucket with enough rights to upload (the emulator's root key).
        prefix: its object prefix.
    """

    device_id: str
    keys: DeviceKeys
    bucket: oss2.Bucket
    prefix: str
    seq: int = 0

    __test__ = False  # not a pytest test class

    @classmethod
    def provision(cls, registry: Registry, device_id: str, bucket: oss2.Bucket) -> TestCamera:
        """Provision ``device_id`` and return a camera holding its keys."""
        _, secret = registry.add(device_id)
        return cls(device_id, DeviceKeys.from_secret(secret), bucket, f"videos/{device_id}/")

    def upload(self, name: str, data: bytes) -> tuple[str, int]:
        """Put an object under the camera's prefix; returns its key and CRC-64."""
        key = self.prefix + name
        result = self.bucket.put_object(key, data)
        return key, int(result.crc)

    def segment(
        self,
        key: str,
        data_len: int,
        crc64: int,
        start_ms: int,
        end_ms: int,
        *,
        seq: int | None = None,
        event_id: str | None = None,
        keys: DeviceKeys | None = None,
    ) -> SegmentClosed:
        """A signed ``segment.closed`` event (by default with the next sequence number)."""
        if seq is None:
            self.seq += 1
            seq = self.seq
        return sign_segment_closed(
            keys or self.keys,
            device_id=self.device_id,
            event_id=event_id or new_event_id(),
            seq=seq,
            key=key,
            bytes=data_len,
            crc64=crc64,
            start_ms=start_ms,
            end_ms=end_ms,
        )

    def opened(
        self,
        key: str,
        start_ms: int,
        *,
        seq: int,
        event_id: str | None = None,
        keys: DeviceKeys | None = None,
    ) -> SegmentOpened:
        """A signed ``segment.opened`` event for object ``seq``."""
        return sign_segment_opened(
            keys or self.keys,
            device_id=self.device_id,
            event_id=event_id or new_event_id(),
            seq=seq,
            key=key,
            start_ms=start_ms,
        )

    def record(self, name: str, data: bytes, start_ms: int, end_ms: int) -> SegmentClosed:
        """Upload ``data`` and return the signed event that reports it."""
        key, crc = self.upload(name, data)
        return self.segment(key, len(data), crc, start_ms, end_ms)

    def content_key(
        self, key_id: str, key: bytes, *, created_ms: int = 0, keys: DeviceKeys | None = None
    ) -> HlsKey:
        """A sealed, signed ``hls.key`` event handing ``key`` to the console."""
        return build_hls_key(
            keys or self.keys,
            device_id=self.device_id,
            key_id=key_id,
            created_ms=created_ms,
            key=key,
        )

    def status(self, ts_ms: int, *, online: bool = True, **fields: int | None) -> Status:
        """A signed status message."""
        values: dict[str, int | None] = {
            "spool_bytes": 0,
            "clock_offset_ms": 0,
            "uploaded_bytes": 0,
            "dropped_bytes": 0,
        }
        values.update(fields)
        return sign_status(
            self.keys,
            device_id=self.device_id,
            ts_ms=ts_ms,
            state="online" if online else "offline",
            **values,  # type: ignore[arg-type]
        )

    def events_topic(self, prefix: str = "ossmedia") -> str:
        """Where the camera publishes events."""
        return f"{prefix}/v1/{self.device_id}/events"

    def status_topic(self, prefix: str = "ossmedia") -> str:
        """Where the camera publishes its status."""
        return f"{prefix}/v1/{self.device_id}/status"


def wire(message: SegmentOpened | SegmentClosed | HlsKey | Status) -> bytes:
    """The message as the camera puts it on the wire."""
    return encode(message)
