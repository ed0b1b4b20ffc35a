"""GStreamer's splitmuxsink writing MPEG-TS segments into a directory source.

splitmuxsink writes each file as the encoder produces it and closes it before it opens the
next one (with its default ``async-finalize=false``), so a file is complete once a later
one exists. 8 s of live video (200 pictures at 25 fps) must come out of the stored objects,
each decoding on its own, with continuous timestamps. The source is live: GStreamer 1.22
sometimes stalls at the end of a finite non-live splitmuxsink pipeline.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path

from device.agent.agent import Agent
from tests.device.agentkit import directory_stored, wait_until
from tests.device.encoder import ffmpeg
from tests.device.stack import Stack

FRAMES = 200


def test_splitmuxsink_mpegts(stack: Stack, tmp_path: Path) -> None:
    gst = shutil.which("gst-launch-1.0")
    assert gst is not None, "GStreamer is not installed: run scripts/setup.sh"
    segments = tmp_path / "segs"
    segments.mkdir()
    settings = stack.agent_settings(
        "cam-gst",
        tmp_path / "spool",
        source={"kind": "directory", "path": str(segments), "settle_s": 0.5},
        upload={"rollover_s": 3.0, "key_suffix": ".ts"},
    )
    agent = Agent(settings)
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()
    pipeline = (
        f"videotestsrc is-live=true num-buffers={FRAMES} pattern=ball "
        "! video/x-raw,width=320,height=240,framerate=25/1 "
        "! x264enc key-int-max=50 bframes=0 speed-preset=ultrafast tune=zerolatency "
        "! h264parse ! splitmuxsink muxer-factory=mpegtsmux max-size-time=2000000000 "
        f"location={segments}/seg%d.ts"
    )
    done = subprocess.run(
        [gst, "-q", "-e", *pipeline.split()],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    wait_until(
        lambda: directory_stored(agent, segments),
        timeout=60,
        what="every segment stored",
    )
    agent.stop()
    thread.join(30)
    decoded = [ffmpeg.decode(data) for _, data in stack.objects("videos/cam-gst/")]
    assert len(decoded) >= 2
    assert all(result.frames > 0 for result in decoded)
    ffmpeg.assert_continuous([t for result in decoded for t in result.pts_s], FRAMES)
