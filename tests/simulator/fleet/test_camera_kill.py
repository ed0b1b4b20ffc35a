"""The ``camera-kill`` scenario: camera processes SIGKILLed mid-run and restarted, twice,
under OSS faults; every camera resumes its recording and the audit finds every produced
byte stored exactly once."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from simulator.fleet.cli import main as fleet_main
from simulator.fleet.runner import FleetSettings, run_fleet
from simulator.fleet.scenario import load_scenario
from simulator.fleet.verdict import EXIT_STATUS, Reason


def test_killed_and_restarted_camera_processes_lose_and_duplicate_nothing(
    tmp_path: Path,
) -> None:
    scenario = load_scenario("camera-kill")
    report = run_fleet(
        FleetSettings(
            cameras=6,
            processes=2,
            duration_s=12,
            bitrate_bps=256_000,
            chunk_bytes=8 * 1024,
            scenario=scenario,
            seed=5,
            drain_s=30,
            workdir=tmp_path,
        ),
        out=io.StringIO(),
    )
    summary = report.summary()
    kills = [step for step in report.steps if step["action"] == "camera_kill"]
    assert [step["error"] for step in kills] == [None, None], report.steps
    assert [step["params"]["killed"] for step in kills] == [1, 1], report.steps
    assert (report.lost_bytes, report.duplicated_bytes, report.corrupted_bytes) == (0, 0, 0)
    assert report.ok, summary
    assert report.cameras_not_drained == 0, summary
    # Every byte the cameras produced (12 s at 256 kbit/s less the boot spread) is stored.
    assert report.stored_bytes == report.ok_bytes == report.produced_bytes > 6 * 300_000


def test_a_kill_scenario_with_hls_output_is_refused_with_a_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = fleet_main(["--scenario", "camera-kill", "--output", "hls", "--cameras", "2"])
    assert code == EXIT_STATUS[Reason.INVALID_INPUT]
    err = capsys.readouterr().err
    assert "steps.1 (camera_kill): needs cameras that resume (--output append)" in err
