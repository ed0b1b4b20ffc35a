"""The camera agent with HLS output: real Mosquitto, the real responder, the emulator, PyAV.

The agent reads H.264 Annex B (a file, or its own generated pattern), cuts TS segments,
queues segments and playlists in its spool and uploads them with STS credentials that the
responder minted over MQTT.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
import tomllib
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from device.agent.agent import Agent
from device.agent.cli import main as cli_main
from device.agent.config import parse_settings
from device.agent.hls_mode import hls_options
from device.crc64 import crc64
from device.errors import ConfigError
from device.hls import SegmentSink, decrypt_segment
from device.hls.h264 import join_annexb, split_annexb
from device.settings import AgentSettings, OutputSettings
from device.spool import Journal, decode_object_put
from device.spool.chunkfile import decode_chunk
from schemas.content_keys import open_hls_key, verify_hls_key
from schemas.keys import DeviceKeys
from schemas.messages import HlsKey, parse_event
from schemas.topics import Topics
from tests.device.agentkit import AgentRun, Watcher, wait_until
from tests.device.crashkit import kill_camera_at, restart_camera
from tests.device.hls.media import encode_audio, encode_video
from tests.device.hls.observed import observed_emulator, playlist_violations
from tests.device.hls.playback import HLS_OPTIONS, decode, decode_segments, ffmpeg_log
from tests.device.hls.sinks import playlist_uris, resolve
from tests.device.stack import Stack
from tests.device.toml_out import write_camera_toml
from tests.fixtures.broker import MosquittoFactory, MqttProbeFactory

REPO = Path(__file__).resolve().parents[2]
PLAYLIST = "application/vnd.apple.mpegurl"


class Tee:
    """Wraps the agent's spool sink and remembers every segment it was given."""

    def __init__(self, inner: SegmentSink) -> None:
        self.inner = inner
        self.segments: dict[str, bytes] = {}

    def put_object(self, key: str, data: bytes, content_type: str) -> None:
        self.inner.put_object(key, data, content_type)
        if key.endswith(".ts"):
            self.segments[key] = data


def _record_teed(settings: AgentSettings) -> tuple[Agent, Tee]:
    """Run an HLS camera to the end; return it and the tee that saw every segment it stored."""
    tees: list[Tee] = []

    def tee(inner: SegmentSink) -> SegmentSink:
        tees.append(Tee(inner))
        return tees[-1]

    agent = Agent(settings, hls_sink=tee)
    assert AgentRun(agent).join() == 0
    return agent, tees[0]


def _mirror(objects: list[tuple[str, bytes]], root: Path) -> None:
    for key, data in objects:
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _check_playlists(objects: dict[str, bytes]) -> int:
    """Every stored playlist lists only stored segments; returns how many were checked."""
    playlists = [key for key in objects if key.endswith(".m3u8")]
    for key in playlists:
        for uri in playlist_uris(objects[key].decode()):
            assert resolve(key, uri) in objects, f"{key} lists {uri}, which is not stored"
    return len(playlists)


def test_hls_camera_uploads_segments_and_a_playlist_that_plays(
    stack: Stack, tmp_path: Path, mqtt_client_factory: MqttProbeFactory
) -> None:
    units = encode_video(65, fps=10, gop=10)
    clip = tmp_path / "camera.h264"
    clip.write_bytes(b"".join(u.data for u in units))
    settings = stack.agent_settings(
        "cam-0101",
        tmp_path / "spool",
        source={"kind": "file", "path": str(clip)},
        output={
            "format": "hls",
            "mode": "vod",
            "stream": "front",
            "session": "S1",
            "frame_rate": 50,  # paced at 50 pictures/s: 1.3 s of wall time
            "target_duration_s": 0.2,
        },
    )
    probe = mqtt_client_factory(stack.broker)
    probe.connect()
    watcher = Watcher(probe, "cam-0101", settings.secret.get_secret_value())
    agent, teed = _record_teed(settings)

    prefix = "videos/cam-0101/"
    objects = dict(stack.objects(prefix))
    produced = {prefix + key: data for key, data in teed.segments.items()}
    assert len(produced) == 7
    assert {k: v for k, v in objects.items() if k.endswith(".ts")} == produced
    assert _check_playlists(objects) == 1
    text = objects[prefix + "front/S1.m3u8"].decode()
    assert playlist_uris(text) == [f"S1/{i:06d}.ts" for i in range(7)]
    assert text.endswith("#EXT-X-ENDLIST\n")
    head = stack.bucket().head_object(prefix + "front/S1.m3u8")
    assert head.headers["Content-Type"] == PLAYLIST
    assert head.headers.get("Cache-Control") == "no-cache"
    assert agent.journal.state.counters.objects_put == 14  # 7 segments, 7 playlist versions
    assert agent.journal.state.current is None  # nothing was appended
    # The finished playlist is announced like a closed object, so the console lists it.
    wait_until(lambda: len(watcher.events()) == 1, what="segment.closed of the playlist")
    (event,) = watcher.events()
    playlist = objects[prefix + "front/S1.m3u8"]
    assert (event.key, event.bytes, event.crc64) == (
        prefix + "front/S1.m3u8",
        len(playlist),
        crc64(playlist),
    )
    assert event.end_ms - event.start_ms >= 1000  # 65 pictures paced at 50/s
    assert agent.journal.state.pending_events == ()

    _mirror(list(objects.items()), tmp_path / "bucket")
    with ffmpeg_log() as logs:
        whole = decode(tmp_path / "bucket" / prefix / "front/S1.m3u8", HLS_OPTIONS)
        for key in sorted(produced):
            assert decode(tmp_path / "bucket" / key).first_is_key, key
    assert logs == []
    assert len(whole.video_pts) == 65
    assert whole.codecs == {("video", "h264")}
    # Pictures are timed by the configured frame rate: 1/50 s apart, no gap, no jump.
    steps = {b - a for a, b in pairwise(whole.video_pts)}
    assert steps == {90_000 // 50}


def test_generated_pattern_is_h264_that_plays(stack: Stack, tmp_path: Path) -> None:
    settings = stack.agent_settings(
        "cam-0102",
        tmp_path / "spool",
        source={"kind": "pattern", "duration_s": 2.0},
        output={"format": "hls", "frame_rate": 20, "target_duration_s": 0.5, "list_size": 2},
    )
    agent = Agent(settings)
    assert agent.run(until_drained=True) == 0
    objects = stack.objects("videos/cam-0102/")
    segments = [key for key, _ in objects if key.endswith(".ts")]
    assert len(segments) == 4
    (playlist,) = [key for key, _ in objects if key.endswith(".m3u8")]
    assert playlist.startswith("videos/cam-0102/hls/")
    assert _check_playlists(dict(objects)) == 1
    _mirror(objects, tmp_path / "bucket")
    with ffmpeg_log() as logs:
        live = decode(tmp_path / "bucket" / playlist, HLS_OPTIONS)
        first = decode(tmp_path / "bucket" / segments[0])
    assert logs == []
    assert len(live.video_pts) == 20  # the live window: the last two segments of 0.5 s
    assert first.first_is_key
    assert len(first.video_pts) == 10


def test_append_mode_does_not_load_the_hls_package() -> None:
    code = (
        "import sys, device.agent.agent, device.agent.cli\n"
        "print(sorted(m for m in sys.modules if m.startswith('device.hls')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def _spooled(spool_dir: Path) -> dict[str, bytes]:
    """What waits in the spool, read from its files without touching them."""
    done = Journal(spool_dir).state.last_chunk_seq
    held: dict[str, bytes] = {}
    for path in sorted((spool_dir / "chunks").glob("*.chunk")):
        chunk = decode_chunk(path.read_bytes())
        if chunk.seq > done:
            assert chunk.whole_object
            put = decode_object_put(chunk.data)
            held[put.name] = put.data
    return held


@pytest.mark.parametrize(
    ("point", "nth"),
    [
        ("upload.put", 3),  # stored, not journaled: the restart puts it again
        ("upload.journaled", 4),  # journaled, still spooled: the restart skips it
        ("chunk.renamed", 5),  # mid spool write of a segment or playlist
    ],
)
def test_sigkill_in_hls_mode_loses_no_acknowledged_segment(
    stack: Stack, tmp_path: Path, point: str, nth: int
) -> None:
    device_id = "cam-0103"
    prefix = f"videos/{device_id}/"
    spool_dir = tmp_path / "spool"
    output: dict[str, Any] = {
        "format": "hls",
        "mode": "live",
        "frame_rate": 20,
        "target_duration_s": 0.25,
        "list_size": 3,
    }
    first = stack.agent_settings(
        device_id, spool_dir, source={"kind": "pattern", "duration_s": 3.0}, output=output
    )
    config = write_camera_toml(first, tmp_path / "camera.toml")
    # Slow puts keep segments waiting in the spool when the process dies.
    stack.emulator.set_faults({"rules": [{"operations": ["PutObject"], "latency_ms": 150}]})
    kill_camera_at(config, point, nth)
    stack.emulator.clear_faults()

    stored_before = dict(stack.objects(prefix))
    waiting = {prefix + name: data for name, data in _spooled(spool_dir).items()}
    acknowledged = {**stored_before, **waiting}
    assert any(key.endswith(".ts") for key in waiting), "nothing was left to recover"

    second = first.model_copy(
        update={"source": first.source.model_copy(update={"duration_s": 0.5})}
    )
    write_camera_toml(second, config)
    restart_camera(config)

    after = dict(stack.objects(prefix))
    # Every segment and playlist acknowledged before the crash is stored, byte for byte
    # (the first run's playlist may have been replaced only by a later version of itself).
    for key, data in acknowledged.items():
        assert key in after, f"{key} was acknowledged and is lost"
        if key.endswith(".ts"):
            assert after[key] == data
    assert _check_playlists(after) == 2  # the crashed recording's and the restart's
    sessions = {key.rsplit("/", 2)[1] for key in after if key.endswith(".ts")}
    assert len(sessions) == 2
    # The crashed recording's segments are numbered without a hole.
    first_session = min(sessions)
    numbers = sorted(
        int(key.rsplit("/", 1)[1][:-3]) for key in after if f"/{first_session}/" in key
    )
    assert numbers == list(range(len(numbers)))
    # And each of them is a whole segment that decodes from a key frame.
    _mirror(list(after.items()), tmp_path / "bucket")
    with ffmpeg_log() as logs:
        for key in after:
            if key.endswith(".ts"):
                assert decode(tmp_path / "bucket" / key).first_is_key, key
    assert logs == []


def test_example_config_is_complete_and_hls_ready(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["--example-config"]) == 0
    text = capsys.readouterr().out
    data = tomllib.loads(text)
    settings = parse_settings(data)
    defaults = AgentSettings(device_id="cam-0001", secret=SecretStr("x"))
    assert settings.output == defaults.output  # the example shows the defaults
    hls = parse_settings(
        {**data, "output": {**data["output"], "format": "hls"}, "source": {"kind": "pattern"}}
    )
    options = hls_options(hls.output, wall_ms=1_764_400_000_123)
    assert options.playlist_key(options.session or "") == "hls/20251129T070640123Z.m3u8"
    with pytest.raises(ConfigError, match=r"reads one H\.264 stream: source\.kind"):
        parse_settings({**data, "output": {"format": "hls"}})  # a directory source


def test_bad_hls_names_are_a_config_error() -> None:
    output = OutputSettings(format="hls", segment_name="{stream}/fixed.ts")
    with pytest.raises(ConfigError, match="segment_name"):
        hls_options(output, wall_ms=0)


def test_encrypted_hls_keys_reach_mqtt_sealed_and_decrypt_the_segments(
    stack: Stack, tmp_path: Path, mqtt_client_factory: MqttProbeFactory
) -> None:
    device_id = "cam-0104"
    settings = stack.agent_settings(
        device_id,
        tmp_path / "spool",
        source={"kind": "pattern", "duration_s": 2.0},
        output={
            "format": "hls",
            "mode": "vod",
            "session": "E1",
            "frame_rate": 20,
            "target_duration_s": 0.5,
            "encrypt": True,
            "rotate_every_segments": 2,
        },
    )
    probe = mqtt_client_factory(stack.broker)
    probe.connect()
    topics = Topics("ossmedia")
    probe.subscribe(topics.events(device_id))
    keys = DeviceKeys.from_secret(settings.secret.get_secret_value())

    agent = Agent(settings)
    assert agent.run(until_drained=True) == 0

    content_keys: dict[str, bytes] = {}
    for message in probe.received(topics.events(device_id)):
        event = parse_event(message.payload)
        if isinstance(event, HlsKey):
            assert verify_hls_key(keys, event)
            content_keys[event.key_id] = open_hls_key(keys, event)
            assert content_keys[event.key_id] not in message.payload  # sealed on the wire
    assert len(content_keys) == 2  # four segments, a new key every two

    prefix = f"videos/{device_id}/"
    objects = dict(stack.objects(prefix))
    text = objects[prefix + "hls/E1.m3u8"].decode()
    tags = re.findall(r'#EXT-X-KEY:METHOD=AES-128,URI="([^"]+)",IV=0x([0-9A-F]{32})', text)
    uris = playlist_uris(text)
    assert len(tags) == len(uris) == 4
    out = tmp_path / "clear"
    out.mkdir()
    with ffmpeg_log() as logs:
        for (uri, iv), name in zip(tags, uris, strict=True):
            key_id = uri.rsplit("/", 1)[1]
            assert uri == f"/api/keys/{device_id}/{key_id}"
            data = objects[resolve(prefix + "hls/E1.m3u8", name)]
            clear = decrypt_segment(data, content_keys[key_id], bytes.fromhex(iv))
            path = out / name.rsplit("/", 1)[1]
            path.write_bytes(clear)
            decoded = decode(path)
            assert decoded.first_is_key
            assert len(decoded.video_pts) == 10
    assert logs == []
    for key in content_keys.values():
        assert all(key not in data for data in objects.values())  # never beside the media


def test_h264_file_with_aac_audio_plays_both(stack: Stack, tmp_path: Path) -> None:
    units = encode_video(30, fps=10, gop=10)
    video = tmp_path / "camera.h264"
    video.write_bytes(b"".join(u.data for u in units))
    audio = tmp_path / "camera.aac"
    audio.write_bytes(b"".join(frame.data for frame in encode_audio(4.0, rate=16_000)))
    settings = stack.agent_settings(
        "cam-0105",
        tmp_path / "spool",
        source={"kind": "file", "path": str(video), "audio_path": str(audio)},
        output={
            "format": "hls",
            "mode": "vod",
            "session": "A1",
            "frame_rate": 20,
            "target_duration_s": 0.5,
            "audio_sample_rate": 16_000,
        },
    )
    agent = Agent(settings)
    assert agent.run(until_drained=True) == 0
    prefix = "videos/cam-0105/"
    objects = stack.objects(prefix)
    _mirror(objects, tmp_path / "bucket")
    with ffmpeg_log() as logs:
        whole = decode(tmp_path / "bucket" / prefix / "hls/A1.m3u8", HLS_OPTIONS)
    assert logs == []
    assert whole.codecs == {("video", "h264"), ("audio", "aac")}
    assert len(whole.video_pts) == 30
    # 30 pictures at 20/s are 1.5 s; audio follows the pictures to (at most a frame past) there.
    assert 1.5 * 16_000 <= whole.audio_samples <= 1.5 * 16_000 + 1024
    assert whole.audio_pts[0] == whole.video_pts[0]


def test_audio_needs_its_sample_rate_and_a_file_source() -> None:
    base = {"device_id": "cam-0001", "secret": "x"}
    with pytest.raises(ConfigError, match="go together"):
        parse_settings(
            {**base, "source": {"kind": "file", "path": "v.h264", "audio_path": "a.aac"},
             "output": {"format": "hls"}}
        )  # fmt: skip
    with pytest.raises(ConfigError, match="HLS output from a file source"):
        parse_settings(
            {**base, "source": {"kind": "pattern", "audio_path": "a.aac"},
             "output": {"format": "hls", "audio_sample_rate": 16_000}}
        )  # fmt: skip


def test_annexb_from_stdin_is_taken_as_fast_as_it_comes(stack: Stack, tmp_path: Path) -> None:
    units = encode_video(25, fps=10, gop=10)
    settings = stack.agent_settings(
        "cam-0106",
        tmp_path / "spool",
        source={"kind": "stdin"},
        output={"format": "hls", "mode": "vod", "session": "P1", "target_duration_s": 0.4},
    )
    agent = Agent(settings, stdin=io.BytesIO(b"".join(u.data for u in units)))
    assert agent.run(until_drained=True) == 0
    # Every picture was taken (counted with 4-byte start codes, as the splitter emits them).
    assert agent.recorder.stats.read_bytes == sum(
        len(join_annexb(split_annexb(u.data))) for u in units
    )
    objects = dict(stack.objects("videos/cam-0106/"))
    text = objects["videos/cam-0106/hls/P1.m3u8"].decode()
    # 25 pictures, a key frame every 10: cuts at 10 and 20. The stream says it is encoded
    # at 10 per second, which wins over the default frame_rate of 25 for a live source.
    assert playlist_uris(text) == [f"P1/{i:06d}.ts" for i in range(3)]
    assert re.findall(r"#EXTINF:([\d.]+),", text) == ["1.000", "1.000", "0.500"]


def test_live_camera_under_outage_and_lost_responses_never_lists_a_missing_segment(
    mosquitto_factory: MosquittoFactory, tmp_path: Path
) -> None:
    """The whole camera (real responder and credentials) against an emulator whose store
    records every object it commits, so every playlist version OSS held is checked."""
    with observed_emulator() as (emulator, store):
        stack = Stack(mosquitto_factory(), emulator, tmp_path / "stack-obs")
        try:
            settings = stack.agent_settings(
                "cam-0107",
                tmp_path / "spool",
                source={"kind": "pattern", "duration_s": 4.0},
                output={
                    "format": "hls",
                    "session": "L1",
                    "playlist_name": "{stream}/live.m3u8",
                    "frame_rate": 20,
                    "target_duration_s": 0.25,
                    "list_size": 3,
                },
            )
            # oss-lost-responses on PutObject all along, and oss-outage for 1.5 s.
            emulator.set_faults(
                {
                    "seed": 11,
                    "rules": [{"operations": ["PutObject"], "lost_response_rate": 0.2}],
                    "outages": [{"after_s": 1.5, "duration_s": 1.5, "mode": "reset"}],
                }
            )
            _, teed = _record_teed(settings)
            injected = emulator.faults()["injected"].get("PutObject", {})
            emulator.clear_faults()
        finally:
            stack.close()
        assert injected.get("lost_response", 0) > 0, injected
        assert injected.get("outage_reset", 0) > 0, injected

        commits = store.log()
        versions, problems = playlist_violations(commits)
        assert problems == []
        assert versions >= 16
        prefix = "videos/cam-0107/"
        produced = {prefix + key: data for key, data in teed.segments.items()}
        assert len(produced) == 16
        stored = {c.key: c.data for c in commits if c.key.endswith(".ts")}
        assert stored == produced
        final = [c for c in commits if c.key.endswith(".m3u8")][-1]
        assert playlist_uris(final.data.decode()) == [f"L1/{i:06d}.ts" for i in range(13, 16)]
        assert final.data.endswith(b"#EXT-X-ENDLIST\n")

        pts: list[int] = []
        with ffmpeg_log() as logs:
            for key, decoded in decode_segments(produced, tmp_path / "segments"):
                assert decoded.first_is_key, key
                assert len(decoded.video_pts) == 5
                pts += decoded.video_pts
        assert logs == []
        assert {b - a for a, b in pairwise(pts)} == {90_000 // 20}
