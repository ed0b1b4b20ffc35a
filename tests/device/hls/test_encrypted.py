"""AES-128 streams: keys go to the key receiver first, never to the bucket, and decrypt."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from device.clock import ManualClock
from device.errors import LinkError
from device.hls import (
    ContentKey,
    EncryptionOptions,
    HlsOptions,
    HlsStateError,
    HlsStream,
    InMemoryKeyDelivery,
    KeyDeliveryError,
    MemorySink,
    decrypt_segment,
)
from device.hls.adts import AdtsFrame
from device.hls.packets import PACKET_SIZE
from tests.device.hls.feed import feed
from tests.device.hls.media import VideoUnit
from tests.device.hls.playback import HLS_OPTIONS, decode, ffmpeg_log, write_out
from tests.device.hls.sinks import playlist_uris, resolve

DEVICE = "cam-0001"
PLAYLIST = "videos/cam-0001/front/S1.m3u8"
KEY_TAG = re.compile(r'#EXT-X-KEY:METHOD=AES-128,URI="([^"]+)"(?:,IV=0x([0-9A-F]{32}))?')


@dataclass
class Journal:
    """One ordered log shared by a sink and a key receiver."""

    events: list[str] = field(default_factory=list)


@dataclass
class JournalSink:
    journal: Journal
    store: MemorySink = field(default_factory=MemorySink)

    def put_object(self, key: str, data: bytes, content_type: str) -> None:
        self.store.put_object(key, data, content_type)
        self.journal.events.append(f"put {key}")


@dataclass
class JournalDelivery:
    journal: Journal
    inner: InMemoryKeyDelivery = field(default_factory=InMemoryKeyDelivery)
    fail_after: int | None = None
    delivered: list[ContentKey] = field(default_factory=list)

    def deliver(self, key: ContentKey) -> None:
        if self.fail_after is not None and len(self.delivered) >= self.fail_after:
            raise LinkError("broker unreachable")  # any DeviceError counts as a failure
        self.inner.deliver(key)
        self.delivered.append(key)
        self.journal.events.append(f"key {key.key_id}")


def _options(**encryption: object) -> HlsOptions:
    return HlsOptions(
        prefix="videos/cam-0001/",
        stream="front",
        session="S1",
        mode="vod",
        frame_rate=10,
        audio_sample_rate=16_000,
        target_duration_s=1.0,
        encryption=EncryptionOptions(device_id=DEVICE, **encryption),  # type: ignore[arg-type]
    )


def _record(
    options: HlsOptions,
    units: list[VideoUnit],
    audio: list[AdtsFrame],
    delivery: JournalDelivery | None = None,
) -> tuple[JournalSink, JournalDelivery, HlsStream]:
    journal = delivery.journal if delivery else Journal()
    sink = JournalSink(journal)
    delivery = delivery or JournalDelivery(journal)
    stream = HlsStream(sink, key_delivery=delivery, clock=ManualClock())
    stream.open(options)
    feed(stream, units, audio)
    assert stream.close()
    return sink, delivery, stream


def test_keys_are_delivered_before_use_and_never_stored(
    video_units: list[VideoUnit], adts_frames: list[AdtsFrame]
) -> None:
    sink, delivery, _ = _record(_options(rotate_every_segments=3), video_units, adts_frames)
    events = sink.journal.events
    # 7 segments, a new key every 3: keys for segments 0, 3 and 6.
    assert [k.first_sequence for k in delivery.delivered] == [0, 3, 6]
    for key in delivery.delivered:
        first_use = f"put videos/cam-0001/front/S1/{key.first_sequence:06d}.ts"
        assert events.index(f"key {key.key_id}") < events.index(first_use)
    for obj in sink.store.objects.values():
        for key in delivery.delivered:
            assert key.key not in obj.data
            assert key.key.hex() not in obj.data.decode("latin-1").lower()
    assert all(k.endswith((".ts", ".m3u8")) for k in sink.store.objects)
    text = sink.store.get(PLAYLIST).decode()
    tags = KEY_TAG.findall(text)
    assert len(tags) == 7  # explicit IV: one tag per segment
    assert [uri for uri, _ in tags] == [
        f"/api/keys/{DEVICE}/{delivery.delivered[min(i // 3, 2)].key_id}" for i in range(7)
    ]
    assert [int(iv, 16) for _, iv in tags] == list(range(7))


def test_segments_decrypt_with_the_delivered_key_and_decode(
    tmp_path: Path, video_units: list[VideoUnit], adts_frames: list[AdtsFrame]
) -> None:
    sink, delivery, _ = _record(_options(rotate_every_segments=2), video_units, adts_frames)
    text = sink.store.get(PLAYLIST).decode()
    lines = text.splitlines()
    video_frames = 0
    for n, uri in enumerate(playlist_uris(text)):
        tag_line = lines[lines.index(uri) - 2]
        match = KEY_TAG.fullmatch(tag_line)
        assert match is not None
        key_id = match.group(1).rsplit("/", 1)[1]
        sealed = sink.store.get(resolve(PLAYLIST, uri))
        # The stored object is ciphertext: no TS sync bytes where packets would start.
        assert [sealed[i * PACKET_SIZE] for i in range(4)] != [0x47] * 4
        plain = decrypt_segment(
            sealed, delivery.inner.lookup(DEVICE, key_id), bytes.fromhex(match.group(2))
        )
        assert plain[0] == 0x47
        path = tmp_path / f"{n}.ts"
        path.write_bytes(plain)
        with ffmpeg_log() as logs:
            part = decode(path)
        assert logs == []
        assert part.first_is_key
        assert part.codecs == {("video", "h264"), ("audio", "aac")}
        video_frames += len(part.video_pts)
    assert video_frames == 65


def test_ffmpeg_plays_the_encrypted_playlist_with_the_default_iv(
    tmp_path: Path, video_units: list[VideoUnit], adts_frames: list[AdtsFrame]
) -> None:
    # Players fetch keys from the console; here a local folder stands in for it.
    options = _options(
        key_uri_template="keys/{device_id}/{key_id}.key",
        rotate_every_segments=4,
        explicit_iv=False,
    )
    sink, delivery, stream = _record(options, video_units, adts_frames)
    text = sink.store.get(PLAYLIST).decode()
    assert len(KEY_TAG.findall(text)) == 2
    assert ",IV=" not in text
    write_out(sink.store, tmp_path)
    for key in delivery.delivered:
        path = tmp_path / "videos/cam-0001/front/keys" / DEVICE / f"{key.key_id}.key"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(delivery.inner.lookup(DEVICE, key.key_id))
    with ffmpeg_log() as logs:
        whole = decode(tmp_path / PLAYLIST, HLS_OPTIONS)
    assert logs == []
    assert len(whole.video_pts) == 65
    assert whole.codecs == {("video", "h264"), ("audio", "aac")}
    assert stream.stats().key_deliveries == 2


def test_open_fails_when_the_key_cannot_be_delivered(video_units: list[VideoUnit]) -> None:
    journal = Journal()
    sink = JournalSink(journal)
    stream = HlsStream(
        sink, key_delivery=JournalDelivery(journal, fail_after=0), clock=ManualClock()
    )
    with pytest.raises(KeyDeliveryError) as info:
        stream.open(_options())
    assert info.value.key_id  # names the key, never its bytes
    assert not stream.is_open
    with pytest.raises(HlsStateError):
        stream.write(video=video_units[0].data)
    with pytest.raises(KeyDeliveryError):
        HlsStream(sink, clock=ManualClock()).open(_options())  # no receiver at all
    assert journal.events == []


def test_failed_rotation_keeps_the_delivered_key(
    video_units: list[VideoUnit], adts_frames: list[AdtsFrame]
) -> None:
    delivery = JournalDelivery(Journal(), fail_after=1)
    sink, _, stream = _record(_options(rotate_every_segments=2), video_units, adts_frames, delivery)
    assert len(delivery.delivered) == 1
    stats = stream.stats()
    assert stats.key_deliveries == 1
    assert stats.key_delivery_failures == 5  # segments 2..6 each tried to rotate
    text = sink.store.get(PLAYLIST).decode()
    assert {uri for uri, _ in KEY_TAG.findall(text)} == {
        f"/api/keys/{DEVICE}/{delivery.delivered[0].key_id}"
    }
