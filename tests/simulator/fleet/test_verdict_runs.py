"""Runs that did not prove every byte fail, each with its own reason and exit status.

Short real runs (real agents, Mosquitto, the emulator over HTTP): an outage the cameras cannot
drain, a camera process killed with SIGKILL, and two runs against one external emulator.
"""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path

import oss2
import pytest

from simulator.emulator.handle import EmulatorHandle
from simulator.fleet.errors import FleetServiceError
from simulator.fleet.runner import FleetSettings, run_fleet
from simulator.fleet.scenario import Scenario, load_scenario
from simulator.fleet.verdict import Reason


def _reasons(report_failures: list[object]) -> set[str]:
    return {f.reason.value for f in report_failures}


def test_an_outage_the_cameras_cannot_drain_fails_the_run(tmp_path: Path) -> None:
    scenario_file = tmp_path / "long-outage.toml"
    scenario_file.write_text(
        'name = "long-outage"\ndescription = "d"\nboot_spread_s = 0.5\n'
        '[[steps]]\nat = 1\naction = "oss_outage"\nduration = 60\n',
        encoding="utf-8",
    )
    report = run_fleet(
        FleetSettings(
            cameras=2,
            duration_s=5,
            bitrate_bps=64_000,
            chunk_bytes=4096,
            scenario=load_scenario(str(scenario_file)),
            drain_s=1,
            workdir=tmp_path / "w",
        ),
        out=io.StringIO(),
    )
    summary = report.summary()
    assert not report.ok, summary
    assert report.pending_bytes > 0
    assert report.cameras_not_drained == 2
    assert _reasons(report.failures) == {Reason.INCOMPLETE.value}, summary
    assert report.exit_status == 3
    assert "not drained" in summary
    assert "RESULT: FAILED (incomplete), exit status 3" in summary
    data = json.loads(report.to_json())
    assert data["ok"] is False
    assert data["exit_status"] == 3
    assert any("still spooled" in f["detail"] for f in data["failures"])


def test_a_killed_camera_process_leaves_its_cameras_not_audited(tmp_path: Path) -> None:
    progress = io.StringIO()
    killed: list[int] = []

    def kill_one_camera_process() -> None:
        # Once every camera is online, SIGKILL one of the two camera processes.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "online 2/2" not in progress.getvalue():
            time.sleep(0.2)
        children = multiprocessing.active_children()
        if children:
            os.kill(children[0].pid or 0, signal.SIGKILL)
            killed.append(children[0].pid or 0)

    killer = threading.Thread(target=kill_one_camera_process, daemon=True)
    killer.start()
    report = run_fleet(
        FleetSettings(
            cameras=2,
            duration_s=12,
            bitrate_bps=64_000,
            chunk_bytes=4096,
            processes=2,
            scenario=Scenario(name="steady", description="d", boot_spread_s=0.5),
            drain_s=10,
            workdir=tmp_path,
            progress_s=0.5,
        ),
        out=progress,
    )
    killer.join(5)
    summary = report.summary()
    assert killed, progress.getvalue()
    assert not report.ok, summary
    assert report.cameras == 2
    assert len(report.cameras_not_audited) == 1, summary
    assert report.cameras_audited == 1
    assert report.exit_status == 3
    assert any(f"killed by signal {signal.SIGKILL.value}" in f.detail for f in report.failures)
    assert "1 camera(s) not audited" in summary


def test_two_runs_against_one_external_emulator_each_audit_their_own_objects(
    tmp_path: Path, emulator: EmulatorHandle
) -> None:
    # The emulator has faults configured and requests counted before the runs.
    found = {
        "seed": 5,
        "rules": [{"operations": ["DeleteBucket"], "error_rate": 0.5}],
        "outages": [],
    }
    emulator.set_faults(found)
    auth = oss2.Auth(emulator.access_key_id, emulator.access_key_secret)
    oss2.Bucket(auth, emulator.oss_endpoint, emulator.bucket).put_object("earlier", b"x")
    before = emulator.stats()["requests"]
    assert before["PutObject"]
    reports = []
    for run in range(2):
        reports.append(
            run_fleet(
                FleetSettings(
                    cameras=2,
                    duration_s=3,
                    bitrate_bps=64_000,
                    chunk_bytes=4096,
                    scenario=Scenario(name="steady", description="d", boot_spread_s=0.5),
                    drain_s=20,
                    emulator_endpoint=emulator.oss_endpoint,
                    admin_token=emulator.admin_token,
                    workdir=tmp_path / str(run),
                ),
                out=io.StringIO(),
            )
        )
    first, second = reports
    assert first.ok, first.summary()
    assert second.ok, second.summary()
    assert second.duplicated_bytes == 0
    assert first.key_prefix != second.key_prefix
    assert first.key_prefix.startswith("fleet-runs/")
    # Each run counts only its own cameras' requests, not the audit's reads nor the past.
    for report in reports:
        assert "GetObject" not in report.oss_requests, report.oss_requests
        assert sum(report.oss_requests["AssumeRole"].values()) == 2
    # The emulator's configuration and counters are as the runs found them (plus theirs).
    config = emulator.faults()["config"]
    assert config["rules"][0]["operations"] == ["DeleteBucket"]
    assert config["rules"][0]["error_rate"] == 0.5
    after = emulator.stats()["requests"]
    for op, outcomes in before.items():
        for status, n in outcomes.items():
            assert after[op][status] >= n
    assert "restored" in first.emulator_note


def test_services_that_do_not_start_are_an_infrastructure_failure(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x", encoding="utf-8")
    settings = FleetSettings(
        cameras=1,
        duration_s=2,
        bitrate_bps=64_000,
        chunk_bytes=4096,
        workdir=tmp_path / "w",
        store_dir=blocker,  # the emulator cannot keep its objects there
    )
    with pytest.raises(FleetServiceError, match="did not start"):
        run_fleet(settings, out=io.StringIO())
