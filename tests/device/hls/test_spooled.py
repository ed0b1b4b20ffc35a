"""A live HLS stream through the camera's spool and uploader into the emulator, under faults.

The stream writes into a :class:`SpoolSink`; the real uploader drains the spool on its own
thread with camera STS credentials (PutObject on the prefix only). The emulator records
every object it commits, in order, so every playlist version it ever held is checked.
"""

from __future__ import annotations

import threading
from itertools import pairwise
from pathlib import Path

from device.clock import AdjustedClock, SystemClock
from device.hls import HlsOptions, HlsStream, SpoolSink
from device.settings import AppendRetrySettings, UploadSettings
from device.spool import Journal, Spool
from device.target import StaticTarget
from device.uploader import Uploader
from schemas.keys import DeviceKeys, new_device_secret
from simulator.emulator.handle import EmulatorHandle
from tests.device.agentkit import wait_until
from tests.device.hls.media import VideoUnit
from tests.device.hls.observed import Commit, observed_emulator, playlist_violations
from tests.device.hls.playback import decode_segments, ffmpeg_log
from tests.device.hls.sinks import playlist_uris
from tests.device.stores import camera_store

PREFIX = "videos/cam-0008/"
TICKS = 9000  # one picture at 10 fps, in 90 kHz ticks


def _injected(emulator: EmulatorHandle, kind: str) -> int:
    return int(emulator.faults()["injected"].get("PutObject", {}).get(kind, 0))


def _segments(commits: list[Commit]) -> dict[str, bytes]:
    return {c.key: c.data for c in commits if c.key.endswith(".ts")}


def test_live_stream_through_the_spool_survives_outage_and_lost_responses(
    tmp_path: Path, video_units: list[VideoUnit]
) -> None:
    with observed_emulator() as (emulator, store):
        spool = Spool(tmp_path, max_bytes=50_000_000)
        journal = Journal(tmp_path)
        uploader = Uploader(
            device_id="cam-0008",
            keys=DeviceKeys.from_secret(new_device_secret()),
            spool=spool,
            journal=journal,
            target=StaticTarget(camera_store(emulator, PREFIX), PREFIX),
            settings=UploadSettings(
                retry=AppendRetrySettings(
                    attempts=3, initial_s=0.01, max_s=0.05, request_timeout_s=5
                ),
                outage_initial_s=0.05,
                outage_max_s=0.2,
            ),
            clock=AdjustedClock(SystemClock()),
        )
        produced: dict[str, bytes] = {}

        class Tee(SpoolSink):
            """Remembers what the stream produced (what OSS must end up holding)."""

            def put_object(self, key: str, data: bytes, content_type: str) -> None:
                super().put_object(key, data, content_type)
                if key.endswith(".ts"):
                    produced[PREFIX + key] = data

        stream = HlsStream(Tee(spool, SystemClock()))
        stream.open(
            HlsOptions(
                prefix="",
                stream="gate",
                session="S1",
                playlist_name="{stream}/live.m3u8",
                mode="live",
                list_size=3,
                frame_rate=10,
                target_duration_s=1.0,
            )
        )
        stop = threading.Event()
        worker = threading.Thread(target=uploader.run, args=(stop,), daemon=True)
        worker.start()
        try:
            # oss-lost-responses: puts land but their answers are lost.
            emulator.set_faults(
                {"seed": 5, "rules": [{"operations": ["PutObject"], "lost_response_rate": 0.3}]}
            )
            for unit in video_units[:25]:
                stream.write(video=unit.data, pts=unit.pts)
            wait_until(lambda: spool.stats().chunks == 0, what="first segments uploaded")
            # oss-outage: OSS unreachable while the camera goes on recording.
            emulator.set_faults({"outages": [{"mode": "reset"}]})
            for unit in video_units[25:45]:
                stream.write(video=unit.data, pts=unit.pts)
            wait_until(lambda: _injected(emulator, "outage_reset") >= 3, what="outage felt")
            held = spool.stats().objects
            assert held >= 4  # two segments and their playlists wait in the spool
            emulator.set_faults(
                {"seed": 6, "rules": [{"operations": ["PutObject"], "lost_response_rate": 0.3}]}
            )
            for unit in video_units[45:]:
                stream.write(video=unit.data, pts=unit.pts)
            assert stream.close(timeout_s=5)  # queued in the spool, so at once
            wait_until(lambda: spool.stats().chunks == 0, timeout=30, what="spool drained")
            lost = _injected(emulator, "lost_response")
            emulator.clear_faults()
        finally:
            stop.set()
            worker.join(10)

        commits = store.log()
        versions, problems = playlist_violations(commits)
        assert problems == []
        assert versions >= 7
        assert lost >= 1
        # Every segment the camera produced is stored byte for byte, and nothing else.
        assert _segments(commits) == produced
        assert len(produced) == 7
        final = commits[-1]
        assert final.key == PREFIX + "gate/live.m3u8"
        text = final.data.decode()
        assert playlist_uris(text) == [f"S1/{i:06d}.ts" for i in range(4, 7)]
        assert text.endswith("#EXT-X-ENDLIST\n")

        # Each segment decodes on its own from a key frame; timestamps run on across them.
        pts: list[int] = []
        with ffmpeg_log() as logs:
            for key, decoded in decode_segments(produced, tmp_path / "mirror"):
                assert decoded.first_is_key, key
                pts += decoded.video_pts
        assert logs == []
        assert len(pts) == len(video_units)
        assert all(b - a == TICKS for a, b in pairwise(pts))
