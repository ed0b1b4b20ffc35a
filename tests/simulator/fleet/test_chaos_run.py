"""The CI-sized fleet run: 50 real camera agents x 60 s of the ``chaos`` scenario.

Every byte must be accounted for, and the report's counters must match what was injected.
"""

from __future__ import annotations

import io
from pathlib import Path

from simulator.fleet.runner import FleetSettings, run_fleet
from simulator.fleet.scenario import load_scenario


def test_fifty_cameras_sixty_seconds_of_chaos_lose_nothing(tmp_path: Path) -> None:
    scenario = load_scenario("chaos")
    progress = io.StringIO()
    report = run_fleet(
        FleetSettings(
            cameras=50,
            duration_s=60,
            bitrate_bps=128_000,
            chunk_bytes=16 * 1024,
            scenario=scenario,
            seed=7,
            drain_s=45,
            workdir=tmp_path,
        ),
        out=progress,
    )
    summary = report.summary()
    assert report.ok, summary
    assert (report.lost_bytes, report.duplicated_bytes, report.corrupted_bytes) == (0, 0, 0)
    assert report.cameras_not_drained == 0, summary
    assert report.pending_bytes == 0
    # Every produced byte is stored exactly once, but for what the squeezed spools (10 % of
    # the cameras, 64 KiB each, through a 6 s outage) dropped by policy.
    assert report.stored_bytes == report.ok_bytes > 0
    assert report.dropped_bytes > 0, summary
    assert report.stored_bytes + report.dropped_bytes == report.produced_bytes
    # The faults were injected, and the cameras saw and survived them.
    injected = report.retries_by_cause
    assert injected.get("oss:error", 0) > 0, injected
    assert not any(cause.endswith(":delayed") for cause in injected), injected
    assert injected.get("oss:lost_response", 0) > 0, injected
    assert injected.get("oss:outage_error", 0) > 0, injected
    assert injected.get("upload:gave_up_waiting", 0) > 0, injected
    # 10 % of 50 cameras are an hour off: each is told once, adopts the server time.
    assert injected.get("credentials:clock_skew", 0) >= 5, injected
    # One lease per camera at least; the restarts and throttling may add a few.
    assert report.credential_leases >= 50
    assert 50 <= report.sts_calls <= report.credential_requests, summary
    actions = [step["action"] for step in report.steps]
    assert sorted(actions) == sorted(step.action for step in scenario.steps)
    assert all(step["error"] is None for step in report.steps), report.steps
    steps = {s["action"]: s for s in report.steps if s["end_s"] is not None}
    # A broker restart takes every camera offline and an outage stops every upload: both
    # disrupt cameras, which then recover; a responder restart may pass unnoticed.
    for action in ("broker_restart", "oss_outage"):
        assert steps[action]["disrupted_cameras"], report.steps
        assert steps[action]["recovery_s"] is not None, report.steps
    assert "not recovered" not in str(steps["responder_restart"]["effect"]), report.steps
    assert report.reply_latency_p50_s is not None
    assert report.append_latency_p50_s is not None
    assert report.append_latency_p99_s is not None
    assert report.append_latency_p50_s <= report.append_latency_p99_s
    assert "online" in progress.getvalue()
    assert "RESULT: OK" in summary
