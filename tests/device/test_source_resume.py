"""Every resumable source continues exactly after SIGKILL: no byte stored twice, none lost.

A camera records a file, a directory of segment files or the test pattern while the store
answers some appends with 5xx, resets and lost responses. It is killed (SIGKILL, at a named
crash point) a quarter of the way in, started again, killed again at half way, and started
once more to the end. What the bucket holds, read back with the root key, must equal the
source byte for byte. Each source-side crash point is tried: ``chunk.tmp_written`` (the
chunk and its source position are not committed yet), ``source.spooled`` (both committed,
a directory's segment file not yet removed) and ``source.released`` (segment file removed).
HLS output from a file must go on in the same session: the bucket ends up holding exactly
what one uninterrupted recording stores.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from device.agent.agent import Agent
from device.agent.config import load_settings
from device.agent.hls_mode import access_units, hls_options
from device.hls import HlsStream, MemorySink
from device.recorder import pattern_bytes
from device.settings import AgentSettings
from device.spool import Journal
from tests.device.agentkit import directory_stored, wait_until
from tests.device.crashkit import kill_camera_at, restart_camera
from tests.device.hls.media import encode_video
from tests.device.stack import Stack
from tests.device.toml_out import write_camera_toml

FAULTS = {
    "rules": [
        {
            "operations": ["AppendObject"],
            "error_rate": 0.1,
            "reset_rate": 0.05,
            "lost_response_rate": 0.05,
        }
    ]
}
CHUNK = 64 * 1024
FILE_BYTES = 16 * CHUNK  # the kills come after the 4th chunk of each run: 1/4, then 1/2
SEGMENT_BYTES = CHUNK + CHUNK // 2  # two chunks per segment file: a kill can split one
SEGMENTS = 6
PATTERN = {"kind": "pattern", "bitrate_bps": 4_000_000, "duration_s": 1.2, "seed": 7}


def _source(kind: str, tmp_path: Path) -> tuple[dict[str, Any], bytes]:
    """The ``[source]`` table for ``kind`` and the bytes the bucket must end up holding."""
    if kind == "file":
        data = pattern_bytes(11, 0, FILE_BYTES)
        path = tmp_path / "recording.ts"
        path.write_bytes(data)
        return {"kind": "file", "path": str(path)}, data
    if kind == "directory":
        segments = tmp_path / "segments"
        segments.mkdir()
        parts = [pattern_bytes(20 + i, 0, SEGMENT_BYTES) for i in range(SEGMENTS)]
        for index, part in enumerate(parts):
            (segments / f"seg-{index:03d}.ts").write_bytes(part)
        return {"kind": "directory", "path": str(segments), "settle_s": 0.0}, b"".join(parts)
    total = int(PATTERN["bitrate_bps"] * PATTERN["duration_s"] / 8)  # type: ignore[operator]
    return dict(PATTERN), pattern_bytes(7, 0, total)


def _run_directory_to_the_end(config: Path) -> None:
    # A directory source never ends by itself: stop once every segment file is stored.
    agent = Agent(load_settings(config))
    segments = agent.settings.source.path
    assert segments is not None

    def stop_when_stored() -> None:
        wait_until(
            lambda: directory_stored(agent, segments),
            timeout=60,
            what="every segment file stored",
        )
        agent.stop()

    threading.Thread(target=stop_when_stored, daemon=True).start()
    assert agent.run() == 0
    # The progress line says the recording went on rather than started again.
    assert agent.progress().source_note.startswith("resumed after"), agent.progress().line()


CASES = [
    ("file", "chunk.tmp_written"),
    ("file", "source.spooled"),
    ("directory", "chunk.tmp_written"),
    ("directory", "source.spooled"),
    ("directory", "source.released"),
    ("pattern", "chunk.tmp_written"),
    ("pattern", "source.spooled"),
]


@pytest.mark.parametrize("client", ["oss2", "http"])
@pytest.mark.parametrize(("kind", "point"), CASES)
def test_sigkill_twice_then_restart_stores_the_source_exactly_once(
    stack: Stack, tmp_path: Path, kind: str, point: str, client: str
) -> None:
    device_id = f"cam-{kind[:3]}-{point.split('.')[1][:4]}-{client}"
    source, expected = _source(kind, tmp_path)
    settings = stack.agent_settings(
        device_id,
        tmp_path / "spool",
        source=source,
        oss={"client": client},
        spool={"chunk_bytes": CHUNK},
    )
    config = write_camera_toml(settings, tmp_path / "camera.toml")
    stack.emulator.set_faults(FAULTS)

    # Directory segments pass `source.released` once per file, the others once per chunk.
    nth = 2 if point == "source.released" else 4
    kill_camera_at(config, point, nth)  # a quarter of the way
    first = Journal(tmp_path / "spool").state
    kill_camera_at(config, point, nth)  # half way
    if kind == "directory":
        _run_directory_to_the_end(config)
    else:
        restart_camera(config)

    stored = stack.stored(f"videos/{device_id}/")
    assert len(stored) == len(expected)
    assert stored == expected
    assert first.source is None or first.source.kind == kind


def _hls_camera(stack: Stack, tmp_path: Path, device_id: str, client: str) -> AgentSettings:
    clip = tmp_path / "camera.h264"
    clip.write_bytes(b"".join(u.data for u in encode_video(120, fps=10, gop=10)))
    return stack.agent_settings(
        device_id,
        tmp_path / "spool",
        source={"kind": "file", "path": str(clip)},
        output={"format": "hls", "mode": "vod", "frame_rate": 80, "target_duration_s": 0.125},
        oss={"client": client},
    )


def _assert_one_uninterrupted_recording(stack: Stack, settings: AgentSettings, prefix: str) -> None:
    stored = {key.removeprefix(prefix): data for key, data in stack.objects(prefix)}
    playlists = [key for key in stored if key.endswith(".m3u8")]
    assert len(playlists) == 1, sorted(stored)  # one session, not one per start
    session = playlists[0].rsplit("/", 1)[1].removesuffix(".m3u8")
    # What one uninterrupted recording of the file in that session stores, byte for byte.
    output = settings.output.model_copy(update={"session": session})
    reference = MemorySink()
    stream = HlsStream(reference)
    stream.open(hls_options(output, 0, device_id=settings.device_id))
    for unit in access_units(settings.source, output)[0]:
        stream.write(video=unit)
    assert stream.close()
    assert len(reference.objects) == 13
    assert stored == {key: obj.data for key, obj in reference.objects.items()}


def test_hls_from_a_file_stopped_cleanly_goes_on_in_its_session(
    stack: Stack, tmp_path: Path
) -> None:
    device_id = "cam-hls-stop"
    settings = _hls_camera(stack, tmp_path, device_id, "oss2")
    config = write_camera_toml(settings, tmp_path / "camera.toml")
    agent = Agent(load_settings(config))
    spool = agent.spool

    def stop_at_a_quarter() -> None:
        queued = lambda: spool.stats().objects + agent.journal.state.counters.objects_put  # noqa: E731
        wait_until(lambda: queued() >= 6, timeout=30, what="a quarter of the recording")
        agent.stop()

    threading.Thread(target=stop_at_a_quarter, daemon=True).start()
    assert agent.run() == 0
    assert not any(key.endswith(".m3u8") and b"ENDLIST" in data
                   for key, data in stack.objects(f"videos/{device_id}/"))  # fmt: skip
    restart_camera(config)
    _assert_one_uninterrupted_recording(stack, settings, f"videos/{device_id}/")


@pytest.mark.parametrize("client", ["oss2", "http"])
@pytest.mark.parametrize("point", ["chunk.tmp_written", "source.spooled"])
def test_hls_from_a_file_continues_its_session_after_sigkill_twice(
    stack: Stack, tmp_path: Path, point: str, client: str
) -> None:
    device_id = f"cam-hls-{point.split('.')[1][:4]}-{client}"
    prefix = f"videos/{device_id}/"
    settings = _hls_camera(stack, tmp_path, device_id, client)
    config = write_camera_toml(settings, tmp_path / "camera.toml")
    stack.emulator.set_faults(
        {"rules": [{"operations": ["PutObject"], "error_rate": 0.1, "lost_response_rate": 0.05}]}
    )
    # 12 segments, each followed by a playlist version: 6 entries are a quarter.
    kill_camera_at(config, point, 6)
    kill_camera_at(config, point, 6)
    restart_camera(config)
    _assert_one_uninterrupted_recording(stack, settings, prefix)
