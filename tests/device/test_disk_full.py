"""A spool on an 8 MiB file system: "no space left" is a full spool, never a crash.

The spool bound stays at its 1 GiB default, so the file system fills long before it; OSS is
down throughout the recording, so nothing leaves the spool.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from device.agent.agent import Agent
from device.errors import SpoolError
from device.recorder import pattern_bytes
from device.spool import Journal, Spool
from schemas.events import StatusAlert
from tests.device.agentkit import AgentRun, Watcher, wait_until
from tests.device.smalldisk import remount_read_only, small_tmpfs
from tests.device.stack import Stack
from tests.fixtures.broker import MqttProbeFactory


@pytest.mark.parametrize("policy", ["drop_oldest", "reject_new"])
def test_a_full_disk_applies_the_policy_and_reports_it(
    stack: Stack,
    tmp_path: Path,
    mqtt_client_factory: MqttProbeFactory,
    caplog: pytest.LogCaptureFixture,
    policy: str,
) -> None:
    device_id = f"cam-disk-{policy[0]}"
    with small_tmpfs(tmp_path / "sd") as disk:
        settings = stack.agent_settings(
            device_id,
            disk / "spool",
            spool={"policy": policy, "chunk_bytes": 256 * 1024, "chunk_max_age_s": 0.5},
            source={"duration_s": 4.0, "bitrate_bps": 24_000_000},  # 12 MB: more than fits
        )
        probe = mqtt_client_factory(stack.broker)
        probe.connect()
        watcher = Watcher(probe, device_id, settings.secret.get_secret_value())
        stack.emulator.set_faults({"outages": [{"mode": "error"}]})  # nothing can be uploaded
        with caplog.at_level(logging.WARNING):
            agent = Agent(settings)
        assert "more than its file system can hold" in caplog.text
        run = AgentRun(agent)
        wait_until(agent.recorder.finished.is_set, timeout=30, what="end of recording")
        wait_until(
            lambda: any(
                StatusAlert.DISK_FULL in s.alerts and s.dropped_bytes > 0
                for s in watcher.statuses()
            ),
            what="disk_full and drops in the status",
        )
        assert agent.recorder.stats.finished
        stack.emulator.clear_faults()
        assert run.join(60) == 0  # no "No space left on device" failure, no exit 1

    counters = agent.spool.stats().counters
    recorded = agent.recorder.stats.read_bytes
    stored = stack.stored(f"videos/{device_id}/")
    lost = counters.dropped_bytes + counters.rejected_bytes
    assert recorded == 12_000_000
    assert len(stored) + lost == recorded
    assert lost > 0
    if policy == "drop_oldest":
        assert counters.dropped_bytes > 0
        assert stored[-100_000:] == pattern_bytes(0, recorded - 100_000, 100_000)  # newest kept
    else:
        assert counters.dropped_bytes == 0
        assert stored[:100_000] == pattern_bytes(0, 0, 100_000)  # oldest kept
    assert max(s.dropped_bytes for s in watcher.statuses()) == lost


def test_spool_sized_from_free_space(stack: Stack, tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "sd") as disk:
        settings = stack.agent_settings(
            "cam-sized",
            disk / "spool",
            spool={"max_free_fraction": 0.5},
        )
        agent = Agent(settings)
        try:
            assert 3_500_000 < agent.spool.max_bytes < 4_300_000  # half of 8 MiB
        finally:
            agent.spool.close()
            agent.link.stop()


def test_read_only_spool_is_refused_with_its_path(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "ro", size="1m") as disk:
        Spool(disk / "spool", max_bytes=1_000_000).close()
        remount_read_only(disk)
        with pytest.raises(SpoolError, match="not writable") as info:
            Spool(disk / "spool", max_bytes=1_000_000)
        assert str(disk / "spool") in str(info.value)
        with pytest.raises(SpoolError, match="Read-only") as info:
            Journal(disk / "other")
        assert str(disk / "other") in str(info.value)
