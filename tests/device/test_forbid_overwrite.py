"""Camera credentials never replace an object that is already stored.

Every put the agent makes carries ``x-oss-forbid-overwrite: true`` except live playlists,
which are rewritten in place by design; the emulator enforces the header as OSS does.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from device.agent.agent import Agent
from tests.device.agentkit import AgentRun
from tests.device.hls.media import encode_video
from tests.device.stack import Stack


def test_hls_segments_never_overwrite_and_playlists_are_rewritten(
    stack: Stack, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    units = encode_video(40, fps=10, gop=10)
    clip = tmp_path / "camera.h264"
    clip.write_bytes(b"".join(u.data for u in units))
    settings = stack.agent_settings(
        "cam-0201",
        tmp_path / "spool",
        source={"kind": "file", "path": str(clip)},
        output={
            "format": "hls",
            "mode": "vod",
            "stream": "front",
            "session": "S1",
            "frame_rate": 50,
            "target_duration_s": 0.2,
        },
    )
    prefix = "videos/cam-0201/"
    taken = prefix + "front/S1/000002.ts"
    stack.bucket().put_object(taken, b"an earlier recording")
    with caplog.at_level(logging.ERROR, logger="device.uploader"):
        agent = Agent(settings)
        assert AgentRun(agent).join() == 0
    objects = dict(stack.objects(prefix))
    assert objects[taken] == b"an earlier recording"  # not replaced
    assert f"{taken} already holds another object" in caplog.text
    segments = [key for key in objects if key.endswith(".ts")]
    assert len(segments) == 4
    # The playlist was put once per segment and the last version is the complete one.
    assert agent.journal.state.counters.objects_put == 3 + 4
    assert objects[prefix + "front/S1.m3u8"].decode().endswith("#EXT-X-ENDLIST\n")
