"""HLS into the OSS emulator through oss2, with camera credentials that can only PutObject."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import oss2
from aliyunsdkcore.client import AcsClient
from aliyunsdksts.request.v20150401.AssumeRoleRequest import AssumeRoleRequest

from device.backoff import Backoff
from device.clock import ManualClock
from device.errors import TransientStorageError
from device.hls import (
    PLAYLIST_CONTENT_TYPE,
    HlsOptions,
    HlsStream,
    MemorySink,
    OssBucketSink,
)
from device.hls.adts import AdtsFrame
from simulator.emulator.handle import EmulatorHandle
from tests.device.hls.feed import feed
from tests.device.hls.media import VideoUnit
from tests.device.hls.playback import HLS_OPTIONS, decode, ffmpeg_log, write_out
from tests.device.hls.sinks import playlist_uris, resolve

PREFIX = "videos/cam-0001/"


def _camera_bucket(handle: EmulatorHandle) -> oss2.Bucket:
    """Credentials as the responder mints them, minus GetObject: PutObject on the prefix only."""
    policy = {
        "Version": "1",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["oss:PutObject"],
                "Resource": [f"acs:oss:*:*:{handle.bucket}/{PREFIX}*"],
            }
        ],
    }
    client = AcsClient(
        handle.access_key_id,
        handle.access_key_secret,
        handle.region,
        proxy={"http": None, "https": None},
    )
    request = AssumeRoleRequest()
    request.set_RoleArn(handle.role_arn)
    request.set_RoleSessionName("cam-0001")
    request.set_DurationSeconds(900)
    request.set_Policy(json.dumps(policy))
    request.set_endpoint(handle.sts_endpoint)
    creds = json.loads(client.do_action_with_exception(request))["Credentials"]
    auth = oss2.StsAuth(creds["AccessKeyId"], creds["AccessKeySecret"], creds["SecurityToken"])
    return oss2.Bucket(auth, handle.oss_endpoint, handle.bucket)


def _root_bucket(handle: EmulatorHandle) -> oss2.Bucket:
    auth = oss2.Auth(handle.access_key_id, handle.access_key_secret)
    return oss2.Bucket(auth, handle.oss_endpoint, handle.bucket)


class FixedBackoff(Backoff):
    """Always the same delay, so a run's request sequence does not depend on jitter."""

    def next_delay(self) -> float:
        self.attempts += 1
        return 0.3


def _injected(handle: EmulatorHandle) -> Counter[str]:
    """Faults injected on PutObject so far (the counters survive config changes)."""
    return Counter(handle.faults()["injected"].get("PutObject", {}))


def _mirror(bucket: oss2.Bucket, root: Path) -> MemorySink:
    copy = MemorySink()
    for obj in oss2.ObjectIterator(bucket, prefix=PREFIX):
        result = bucket.get_object(obj.key)
        copy.put_object(obj.key, result.read(), result.headers["Content-Type"])
    write_out(copy, root)
    return copy


@dataclass
class CheckedSink:
    """Puts through the camera's sink; before each playlist put, asks OSS (as the bucket
    owner) whether every segment the playlist lists is stored."""

    inner: OssBucketSink
    root: oss2.Bucket
    violations: list[str] = field(default_factory=list)
    checks: int = 0

    def put_object(self, key: str, data: bytes, content_type: str) -> None:
        if content_type == PLAYLIST_CONTENT_TYPE:
            for uri in playlist_uris(data.decode()):
                target = resolve(key, uri)
                try:
                    exists = self.root.object_exists(target)
                except oss2.exceptions.RequestError:
                    # OSS is down: the playlist put would fail as well.
                    raise TransientStorageError("OSS unreachable", object_key=key) from None
                if not exists:
                    self.violations.append(f"{key} lists {target}, which OSS does not hold")
            self.checks += 1
        self.inner.put_object(key, data, content_type)


def test_vod_recording_lands_in_oss_and_plays(
    emulator: EmulatorHandle,
    tmp_path: Path,
    video_units: list[VideoUnit],
    adts_frames: list[AdtsFrame],
) -> None:
    stream = HlsStream(OssBucketSink(_camera_bucket(emulator)), clock=ManualClock())
    stream.open(
        HlsOptions(
            prefix=PREFIX,
            stream="front",
            session="S1",
            mode="vod",
            frame_rate=10,
            audio_sample_rate=16_000,
        )
    )
    feed(stream, video_units, adts_frames)
    assert stream.close(timeout_s=5)
    root = _root_bucket(emulator)
    copy = _mirror(root, tmp_path)
    assert sorted(copy.objects) == [f"{PREFIX}front/S1.m3u8"] + [
        f"{PREFIX}front/S1/{i:06d}.ts" for i in range(4)
    ]
    assert copy.objects[f"{PREFIX}front/S1/000000.ts"].content_type == "video/mp2t"
    head = root.head_object(f"{PREFIX}front/S1.m3u8")
    assert head.headers["Content-Type"] == PLAYLIST_CONTENT_TYPE
    assert head.headers.get("Cache-Control") == "no-cache"
    with ffmpeg_log() as logs:
        whole = decode(tmp_path / PREFIX / "front/S1.m3u8", HLS_OPTIONS)
    assert logs == []
    assert len(whole.video_pts) == 65
    assert whole.codecs == {("video", "h264"), ("audio", "aac")}


def test_live_playlist_never_lists_a_missing_segment_under_oss_faults(
    emulator: EmulatorHandle, tmp_path: Path, video_units: list[VideoUnit]
) -> None:
    flaky: dict[str, Any] = {
        "seed": 7,
        "rules": [
            {
                "operations": ["PutObject"],
                "error_rate": 0.15,
                "reset_rate": 0.1,
                "lost_response_rate": 0.2,
            }
        ],
    }
    outage = {**flaky, "outages": [{"after_s": 0, "duration_s": None, "mode": "reset"}]}
    root = _root_bucket(emulator)
    sink = CheckedSink(OssBucketSink(_camera_bucket(emulator)), root)
    clock = ManualClock()
    stream = HlsStream(sink, clock=clock, backoff=FixedBackoff())
    stream.open(
        HlsOptions(
            prefix=PREFIX,
            stream="gate",
            session="S1",
            playlist_name="{stream}/live.m3u8",
            mode="live",
            list_size=3,
            frame_rate=10,
            target_duration_s=1.0,
        )
    )
    emulator.set_faults(flaky)
    for n, unit in enumerate(video_units):
        if n == 20:
            emulator.set_faults(outage)  # OSS down for 2 s of recording
        elif n == 40:
            emulator.set_faults(flaky)
        stream.write(video=unit.data, pts=unit.pts)
        clock.advance(0.1)
    assert stream.close(timeout_s=120)  # still under the flaky rules
    injected = _injected(emulator)
    emulator.clear_faults()
    assert sink.violations == []
    assert sink.checks >= 3
    # Every kind of failure happened (the seed and the fixed retry delays make the
    # request order, and so the faults, repeatable).
    assert set(injected) == {"error", "reset", "lost_response", "outage_reset"}
    assert stream.stats().storage_failures == sum(injected.values())
    copy = _mirror(root, tmp_path)
    text = copy.get(f"{PREFIX}gate/live.m3u8").decode()
    assert playlist_uris(text) == [f"S1/{i:06d}.ts" for i in range(4, 7)]
    assert text.endswith("#EXT-X-ENDLIST\n")
    # Every segment was stored exactly as cut, even those whose answer was lost.
    assert sum(k.endswith(".ts") for k in copy.objects) == 7
    with ffmpeg_log() as logs:
        whole = decode(tmp_path / PREFIX / "gate/live.m3u8", HLS_OPTIONS)
    assert logs == []
    assert len(whole.video_pts) == 25
