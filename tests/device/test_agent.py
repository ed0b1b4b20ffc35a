"""The camera agent end to end: real Mosquitto, the real responder, the emulator and its faults."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from cloud.settings import Limits
from device.agent.agent import EXIT_REJECTED, Agent
from device.clock import AdjustedClock, SystemClock
from device.crc64 import crc64
from device.recorder import pattern_bytes
from schemas.events import StatusState
from tests.device.agentkit import AgentRun, Watcher, wait_until
from tests.device.stack import Stack, sha256
from tests.fixtures.broker import MqttProbeFactory

HOUR_MS = 3_600_000


def prefix(device_id: str) -> str:
    return f"videos/{device_id}/"


def test_records_uploads_and_reports(
    stack: Stack, tmp_path: Path, mqtt_client_factory: MqttProbeFactory
) -> None:
    settings = stack.agent_settings("cam-0001", tmp_path / "spool")
    probe = mqtt_client_factory(stack.broker)
    probe.connect()
    watcher = Watcher(probe, "cam-0001", settings.secret.get_secret_value())

    agent = Agent(settings)
    assert agent.run(until_drained=True) == 0

    objects = stack.objects(prefix("cam-0001"))
    recorded = agent.recorder.stats.read_bytes
    assert recorded == 500_000  # 1 s at 4 Mbit/s
    assert stack.stored(prefix("cam-0001")) == pattern_bytes(0, 0, recorded)
    (key, data), = objects  # fmt: skip
    assert key.startswith("videos/cam-0001/")
    assert key.endswith("-000001.mp4")

    wait_until(lambda: len(watcher.events()) == 1, what="segment.closed event")
    (event,) = watcher.events()
    assert (event.key, event.bytes, event.crc64, event.seq) == (key, len(data), crc64(data), 1)
    assert event.start_ms <= event.end_ms
    statuses = watcher.statuses()
    assert statuses[-1].state is StatusState.OFFLINE  # a clean stop says so, signed
    assert statuses[-1].sig is not None
    assert any(s.state is StatusState.ONLINE and s.uploaded_bytes > 0 for s in statuses)
    assert agent.journal.state.pending_events == ()
    # The object was announced when its first bytes were stored, before it was closed.
    (opened,) = watcher.opened()
    assert (opened.key, opened.seq, opened.start_ms) == (key, 1, event.start_ms)
    assert watcher.all_events().index(opened) < watcher.all_events().index(event)


def test_status_follows_the_first_upload_without_waiting_for_the_interval(
    stack: Stack, tmp_path: Path, mqtt_client_factory: MqttProbeFactory
) -> None:
    settings = stack.agent_settings(
        "cam-0009",
        tmp_path / "spool",
        upload={"status_interval_s": 600},
        source={"duration_s": 30.0, "bitrate_bps": 200_000},
    )
    probe = mqtt_client_factory(stack.broker)
    probe.connect()
    watcher = Watcher(probe, "cam-0009", settings.secret.get_secret_value())
    agent = Agent(settings)
    run = AgentRun(agent)
    try:
        wait_until(lambda: bool(watcher.statuses()), what="status on connecting")
        assert watcher.statuses()[0].last_upload_ms is None
        wait_until(
            lambda: any(
                s.last_upload_ms is not None and s.cred_expires_at_ms is not None
                for s in watcher.statuses()
            ),
            timeout=15,
            what="a status after the first upload, long before the 600 s interval",
        )
        wait_until(lambda: bool(watcher.opened()), what="segment.opened while recording")
        assert watcher.events() == []  # nothing closed yet: the object is in progress
    finally:
        agent.stop()
        run.join()


def test_credentials_expire_mid_stream(stack_factory: Callable[..., Stack], tmp_path: Path) -> None:
    """Issue test 2: a 403 on an expired token, one refresh, the same position, no loss."""
    # The responder must not hand the expired token back from its cache: the emulator's
    # clock, not the responder's, is the one that moved.
    stack = stack_factory(limits=Limits(device_requests_per_minute=600, device_burst=50,
                                        cache_reuse_threshold=1.0))  # fmt: skip
    stack.emulator.admin.call("POST", "/clock", {"offset_s": -700})
    settings = stack.agent_settings(
        "cam-0002", tmp_path / "spool", source={"duration_s": 3.0, "bitrate_bps": 2_000_000}
    )
    agent = Agent(settings)
    run = AgentRun(agent)
    wait_until(lambda: agent.uploader.stats.appended_chunks >= 3, what="first appends")
    stack.emulator.admin.call("POST", "/clock", {"offset_s": 250})  # token now expired
    assert run.join() == 0

    recorded = agent.recorder.stats.read_bytes
    assert stack.stored(prefix("cam-0002")) == pattern_bytes(0, 0, recorded)
    assert agent.credentials.stats.forced_refreshes == 1
    appends = stack.emulator.stats()["requests"]["AppendObject"]
    assert appends.get("403") == 1
    assert len(stack.objects(prefix("cam-0002"))) == 1  # same object, same position


@pytest.mark.slow
def test_oss_outage_of_30s_while_recording(
    stack: Stack, tmp_path: Path, mqtt_client_factory: MqttProbeFactory
) -> None:
    """Issue test 3: the spool grows during a 30 s outage, then drains in order."""
    settings = stack.agent_settings(
        "cam-0003",
        tmp_path / "spool",
        source={"duration_s": 33.0, "bitrate_bps": 1_000_000},
        upload={"outage_max_s": 1.0},
    )
    probe = mqtt_client_factory(stack.broker)
    probe.connect()
    watcher = Watcher(probe, "cam-0003", settings.secret.get_secret_value())
    agent = Agent(settings)
    run = AgentRun(agent)
    wait_until(lambda: agent.uploader.stats.appended_chunks >= 2, what="first appends")
    stack.emulator.set_faults({"outages": [{"duration_s": 30.0, "mode": "error"}]})
    outage_started = time.monotonic()
    wait_until(lambda: agent.spool.stats().bytes > 1_000_000, timeout=30, what="spool growth")
    peak = max(s.spool_bytes for s in watcher.statuses())
    assert run.join(90) == 0
    assert time.monotonic() - outage_started >= 30

    recorded = agent.recorder.stats.read_bytes
    stored = stack.stored(prefix("cam-0003"))
    assert sha256(stored) == sha256(pattern_bytes(0, 0, recorded))
    assert peak > 0
    assert agent.uploader.stats.outage_waits > 0
    assert any((s.oldest_unsent_age_ms or 0) > 5_000 for s in watcher.statuses())


@pytest.mark.parametrize("policy", ["drop_oldest", "reject_new"])
def test_spool_full_applies_the_policy_counts_and_reports(
    stack: Stack, tmp_path: Path, mqtt_client_factory: MqttProbeFactory, policy: str
) -> None:
    """Issue test 5."""
    settings = stack.agent_settings(
        f"cam-full-{policy[0]}",
        tmp_path / "spool",
        spool={"max_bytes": 256 * 1024, "policy": policy},
        source={"duration_s": 2.0, "bitrate_bps": 4_000_000},
    )
    probe = mqtt_client_factory(stack.broker)
    probe.connect()
    watcher = Watcher(probe, settings.device_id, settings.secret.get_secret_value())
    stack.emulator.set_faults({"outages": [{"mode": "error"}]})  # nothing can be uploaded
    agent = Agent(settings)
    run = AgentRun(agent)
    wait_until(agent.recorder.finished.is_set, what="end of recording")
    wait_until(lambda: any(s.dropped_bytes > 0 for s in watcher.statuses()), what="drops in status")
    stack.emulator.clear_faults()
    assert run.join() == 0

    counters = agent.spool.stats().counters
    recorded = agent.recorder.stats.read_bytes
    stored = stack.stored(prefix(settings.device_id))
    pattern = pattern_bytes(0, 0, recorded)
    if policy == "drop_oldest":
        assert counters.dropped_bytes > 0
        assert counters.rejected_bytes == 0
        lost = counters.dropped_bytes
        # The chunk being uploaded is never dropped; after it, the newest data survives.
        head = next(
            i
            for i in range(len(stored) + 1)
            if stored[i:] == pattern[recorded - (len(stored) - i) :]
        )
        assert stored[:head] == pattern[:head]
    else:
        assert counters.rejected_bytes > 0
        assert counters.dropped_bytes == 0
        lost = counters.rejected_bytes
        assert stored == pattern[: len(stored)]  # the oldest data is kept
    assert len(stored) + lost == recorded
    assert max(s.dropped_bytes for s in watcher.statuses()) == lost


def test_camera_clock_one_hour_off(stack: Stack, tmp_path: Path) -> None:
    """Issue test 6: the responder's signed clock_skew fixes the clock; uploads proceed."""
    settings = stack.agent_settings("cam-0006", tmp_path / "spool")
    wrong = AdjustedClock(SystemClock(), offset_ms=-HOUR_MS)
    agent = Agent(settings, clock=wrong)
    assert agent.run(until_drained=True) == 0

    assert abs(agent.clock.offset_ms - HOUR_MS) < 60_000
    assert agent.credentials.stats.skew_adoptions == 1
    recorded = agent.recorder.stats.read_bytes
    assert stack.stored(prefix("cam-0006")) == pattern_bytes(0, 0, recorded)
    (key, _), = stack.objects(prefix("cam-0006"))  # fmt: skip
    stamp = time.strftime("%Y%m%dT%H", time.gmtime())
    assert key.startswith(f"videos/cam-0006/{stamp}")  # named by the corrected time


def test_broker_unreachable_at_boot(stack: Stack, tmp_path: Path) -> None:
    """Issue test 7: recording is spooled while the broker is down and uploaded once it is back."""
    settings = stack.agent_settings("cam-0007", tmp_path / "spool", source={"duration_s": 1.0})
    stack.broker.stop()
    agent = Agent(settings)
    run = AgentRun(agent)
    wait_until(agent.recorder.finished.is_set, what="end of recording")
    assert not agent.link.is_connected()
    assert agent.spool.stats().bytes == agent.recorder.stats.read_bytes == 500_000
    stack.broker.start()
    assert run.join() == 0
    assert stack.stored(prefix("cam-0007")) == pattern_bytes(0, 0, 500_000)


def test_rollover_by_configured_size(stack: Stack, tmp_path: Path) -> None:
    settings = stack.agent_settings(
        "cam-size", tmp_path / "spool", upload={"max_object_bytes": 150_000}
    )
    agent = Agent(settings)
    assert agent.run(until_drained=True) == 0
    objects = stack.objects(prefix("cam-size"))
    assert len(objects) >= 4
    assert all(len(data) <= 150_000 for _, data in objects)
    assert [k for k, _ in objects] == sorted(k for k, _ in objects)
    assert b"".join(d for _, d in objects) == pattern_bytes(0, 0, 500_000)


def test_rollover_at_the_stores_appendable_limit(
    stack_factory: Callable[..., Stack], tmp_path: Path, mqtt_client_factory: MqttProbeFactory
) -> None:
    """Issue test 8: the emulator's appendable limit is low and the agent does not know it."""
    stack = stack_factory(emulator={"max_append_size": 200_000})
    settings = stack.agent_settings("cam-0008", tmp_path / "spool")
    probe = mqtt_client_factory(stack.broker)
    probe.connect()
    watcher = Watcher(probe, "cam-0008", settings.secret.get_secret_value())
    agent = Agent(settings)
    assert agent.run(until_drained=True) == 0

    objects = stack.objects(prefix("cam-0008"))
    assert len(objects) >= 3
    assert all(len(data) <= 200_000 for _, data in objects)
    assert b"".join(d for _, d in objects) == pattern_bytes(0, 0, 500_000)
    wait_until(lambda: len(watcher.events()) == len(objects), what="one event per object")
    assert [(e.key, e.bytes, e.seq) for e in watcher.events()] == [
        (key, len(data), i + 1) for i, (key, data) in enumerate(objects)
    ]


def test_rollover_by_time(stack: Stack, tmp_path: Path) -> None:
    settings = stack.agent_settings(
        "cam-time",
        tmp_path / "spool",
        upload={"rollover_s": 0.5},
        source={"duration_s": 2.0, "bitrate_bps": 1_000_000},
    )
    agent = Agent(settings)
    assert agent.run(until_drained=True) == 0
    objects = stack.objects(prefix("cam-time"))
    assert 3 <= len(objects) <= 5
    assert b"".join(d for _, d in objects) == pattern_bytes(0, 0, 250_000)


def test_revoked_device_stops_with_a_clear_error(
    stack: Stack, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = stack.agent_settings("cam-gone", tmp_path / "spool")
    stack.registry.revoke("cam-gone")
    agent = Agent(settings)
    assert agent.run(until_drained=True) == EXIT_REJECTED
    assert "revoked" in caplog.text
    assert agent.spool.stats().bytes > 0  # the recording stays spooled
