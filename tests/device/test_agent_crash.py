"""Issue test 4: SIGKILL of the agent in the middle of an upload, then a restart of the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from device.agent.config import load_settings
from device.recorder import pattern_bytes
from device.spool import Journal, Spool
from tests.device.crashkit import kill_camera_at, restart_camera
from tests.device.stack import Stack
from tests.device.toml_out import write_camera_toml


@pytest.mark.parametrize(
    ("point", "nth"),
    [
        ("inflight", 3),  # the append request is with the store when the process dies
        ("upload.appended", 3),  # landed, not journaled: the restart must not resend it
        ("upload.journaled", 4),  # journaled, still spooled: the restart must skip it
        ("journal.tmp_written", 6),  # mid journal write
        ("chunk.renamed", 5),  # mid spool write
    ],
)
def test_sigkill_mid_upload_then_restart_loses_and_duplicates_nothing(
    stack: Stack, tmp_path: Path, point: str, nth: int
) -> None:
    device_id = "cam-0004"
    spool_dir = tmp_path / "spool"
    first = stack.agent_settings(
        device_id, spool_dir, source={"duration_s": 3.0, "bitrate_bps": 2_000_000}
    )
    if point == "inflight":
        stack.emulator.set_faults({"rules": [{"operations": ["AppendObject"], "latency_ms": 1500}]})
    config = write_camera_toml(first, tmp_path / "camera.toml")
    kill_camera_at(config, point, nth)
    stack.emulator.clear_faults()

    # What survived the crash: bytes already journaled as uploaded plus bytes still spooled.
    journal = Journal(spool_dir)
    spool = Spool(spool_dir, max_bytes=first.spool.max_bytes,
                  done_through=journal.state.last_chunk_seq)  # fmt: skip
    survived = journal.state.counters.uploaded_bytes + spool.stats().bytes
    spool.close()
    assert survived > 0

    # Restart with the real command line; the camera now records a short file.
    segment = tmp_path / "after-restart.bin"
    segment.write_bytes(b"recorded after the restart " * 1000)
    second = first.model_copy(
        update={"source": first.source.model_copy(update={"kind": "file", "path": segment})}
    )
    write_camera_toml(second, config)
    assert load_settings(config).source.kind == "file"
    restart_camera(config)

    stored = stack.stored(f"videos/{device_id}/")
    after = segment.read_bytes()
    assert stored.endswith(after)
    before = stored[: len(stored) - len(after)]
    # No loss and no duplicate: exactly the surviving bytes, in recording order.
    assert len(before) == survived
    assert before == pattern_bytes(0, 0, survived)
    refused = stack.emulator.stats()["requests"]["AppendObject"].get("409", 0)
    if point in {"upload.appended", "journal.tmp_written"}:
        # The append landed but was not journaled: its replay was refused by position and
        # HEAD found it landed.
        assert refused == 1
    else:
        assert refused == 0
