"""Debian's ffmpeg writing segments into a directory source, the agent storing them.

Each run encodes 20 s of video (500 pictures at 25 fps) at twice real time, so a segment
file sits empty for about a second before ffmpeg writes it: longer than the
``settle_s`` used here. Every stored object must decode on its own with PyAV, and all of
them together must hold every picture with continuous timestamps.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from device.agent.agent import Agent
from tests.device.agentkit import directory_stored, wait_until
from tests.device.encoder import ffmpeg
from tests.device.stack import Stack

SECONDS = 20
FRAMES = SECONDS * ffmpeg.FRAME_RATE


def _settings(stack: Stack, device_id: str, spool: Path, segments: Path) -> Any:
    return stack.agent_settings(
        device_id,
        spool,
        source={"kind": "directory", "path": str(segments), "settle_s": 0.5},
        upload={"rollover_s": 4.0, "key_suffix": ".ts"},
    )


def _run(agent: Agent) -> threading.Thread:
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()
    return thread


def _wait_taken(agent: Agent, segments: Path) -> None:
    try:
        wait_until(
            lambda: directory_stored(agent, segments, {".ts", ".m4s", ".mp4"}),
            timeout=60,
            what="every segment stored",
        )
    except AssertionError as exc:
        raise AssertionError(
            f"{exc}: left {ffmpeg.tree(segments)}, {agent.spool.stats()}"
        ) from None


def _stop(agent: Agent, thread: threading.Thread) -> None:
    agent.stop()
    thread.join(30)
    assert not thread.is_alive()


def _check_objects(stack: Stack, device_id: str) -> list[tuple[str, ffmpeg.Decoded]]:
    objects = stack.objects(f"videos/{device_id}/")
    decoded = [(key, ffmpeg.decode(data)) for key, data in objects]
    for key, result in decoded:
        assert result.frames > 0, f"{key} does not decode on its own"
    pts = [t for _, result in decoded for t in result.pts_s]
    ffmpeg.assert_continuous(pts, FRAMES)
    return decoded


def test_segment_muxer_mpegts(stack: Stack, tmp_path: Path) -> None:
    segments = tmp_path / "segs"
    segments.mkdir()
    agent = Agent(_settings(stack, "cam-ts", tmp_path / "spool", segments))
    thread = _run(agent)
    muxer = ["-f", "segment", "-segment_time", "2", "-segment_format", "mpegts"]
    encoder = ffmpeg.start(
        [*ffmpeg.BASELINE, *muxer, str(segments / "seg%d.ts")], seconds=SECONDS, readrate=2
    )
    assert encoder.wait(120) == 0, encoder.stderr.read() if encoder.stderr else ""
    _wait_taken(agent, segments)
    _stop(agent, thread)
    decoded = _check_objects(stack, "cam-ts")
    assert len(decoded) >= 2  # rolled over: each object stands alone
    # seg10.ts came after seg9.ts, not between seg1.ts and seg2.ts
    assert agent.recorder.stats.read_bytes == sum(
        len(data) for _, data in stack.objects("videos/cam-ts/")
    )


def test_hls_muxer_fmp4_with_temp_files_and_a_restart(stack: Stack, tmp_path: Path) -> None:
    segments = tmp_path / "segs"
    segments.mkdir()
    settings = _settings(stack, "cam-fmp4", tmp_path / "spool", segments)
    settings = settings.model_copy(
        update={"upload": settings.upload.model_copy(update={"key_suffix": ".mp4"})}
    )
    agent = Agent(settings)
    thread = _run(agent)
    encoder = ffmpeg.start(
        [*ffmpeg.BASELINE, "-f", "hls", "-hls_time", "2", "-hls_segment_type", "fmp4",
         "-hls_flags", "temp_file", "-hls_list_size", "0",
         "-hls_fmp4_init_filename", "init.mp4",
         "-hls_segment_filename", str(segments / "seg%d.m4s"), str(segments / "index.m3u8")],
        seconds=SECONDS,
        readrate=2,
    )  # fmt: skip
    # Restart the agent once the first objects are stored and init.mp4 is gone from the
    # directory: the objects of the second run must still begin with it.
    wait_until(
        lambda: (
            not (segments / "init.mp4").exists() and len(stack.objects("videos/cam-fmp4/")) >= 2
        ),
        timeout=60,
        what="init.mp4 taken and a rollover",
    )
    _stop(agent, thread)
    before_restart = len(stack.objects("videos/cam-fmp4/"))
    # Roll over at every segment after the restart, so new objects are opened for sure.
    upload = settings.upload.model_copy(update={"rollover_s": 0.5})
    agent = Agent(settings.model_copy(update={"upload": upload}))
    thread = _run(agent)
    assert encoder.wait(120) == 0, encoder.stderr.read() if encoder.stderr else ""
    _wait_taken(agent, segments)
    _stop(agent, thread)
    decoded = _check_objects(stack, "cam-fmp4")
    assert len(decoded) > before_restart  # objects opened after the restart play too
    for key, data in stack.objects("videos/cam-fmp4/"):
        assert data[4:8] == b"ftyp", f"{key} does not begin with the initialisation segment"
    assert ffmpeg.tree(segments) == ["index.m3u8"]  # the playlist is not media
