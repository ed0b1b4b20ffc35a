"""The long-running commands stop cleanly on SIGTERM and leave nothing behind on SIGKILL.

Each test starts the real command as a subprocess, waits until it serves, records the
process tree it started and finds its work directories by their owner marks, signals it,
and then checks the exit status, the report, and that every recorded process has ended
and every work directory is gone.
"""

from __future__ import annotations

import json
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator.lifetime.workdirs import scratch_roots
from tests.simulator.lifetime.commandkit import Command, stale_workdir, wait_gone

pytestmark = pytest.mark.slow


@pytest.fixture
def commands() -> Iterator[list[Command]]:
    started: list[Command] = []
    yield started
    for command in started:
        command.close()


def _start(commands: list[Command], *argv: str) -> Command:
    command = Command(*argv)
    commands.append(command)
    return command


def _serving(command: Command, text: str) -> list[Path]:
    """Wait for ``text``, record the process tree, return the work directories."""
    command.wait_for(text)
    command.record_tree()
    assert command.tree, "the command started no process"
    workdirs = command.workdirs()
    assert workdirs, "the command made no marked work directory"
    return workdirs


def test_demo_sigterm_drains_reports_and_leaves_nothing(
    commands: list[Command], tmp_path: Path
) -> None:
    stale = stale_workdir(Path(tempfile.gettempdir()), "ossmedia-demo-")
    report = tmp_path / "report.json"
    demo = _start(commands, "demo", "--cameras", "1", "--report", str(report))
    workdirs = _serving(demo, "online 1/1")
    assert not stale.exists(), "the run did not remove a dead run's work directory"
    assert any(p.name() == "mosquitto" for p in demo.tree)

    demo.signal(signal.SIGTERM)

    assert demo.wait() == 0, demo.output()
    document = json.loads(report.read_text())
    assert document["interrupted"] is True
    assert document["ok"] is True
    assert document["produced_bytes"] == document["stored_bytes"] > 0
    assert "stopped early" in "".join(demo.out)
    assert "SIGTERM: stopping" in "".join(demo.err)
    assert demo.survivors() == []
    assert wait_gone(workdirs, 0) == []


def test_demo_sigkill_takes_its_children_and_work_directory(commands: list[Command]) -> None:
    demo = _start(commands, "demo", "--cameras", "1", "--no-console")
    workdirs = _serving(demo, "online 1/1")

    demo.signal(signal.SIGKILL)

    assert demo.wait() == -signal.SIGKILL
    assert demo.survivors(timeout_s=10) == []
    assert wait_gone(workdirs, timeout_s=10) == []


def test_fleet_sigterm_drains_reports_stopped_early_and_leaves_nothing(
    commands: list[Command], tmp_path: Path
) -> None:
    stale = stale_workdir(scratch_roots()[-1], "ossmedia-fleet-")
    report = tmp_path / "report.json"
    fleet = _start(
        commands, "fleet", "--cameras", "2", "--processes", "2", "--duration", "600",
        "--report", str(report),
    )  # fmt: skip
    workdirs = _serving(fleet, "online 2/2")
    assert not stale.exists(), "the run did not remove a dead run's work directory"
    assert sum("multiprocessing.spawn" in " ".join(p.cmdline()) for p in fleet.tree) == 2

    fleet.signal(signal.SIGTERM)

    # The report of what was run decides the status, as for a run that went to its end.
    assert fleet.wait() == 0, fleet.output()
    document = json.loads(report.read_text())
    assert document["interrupted"] is True
    assert document["exit_status"] == 0
    assert 0 < document["duration_s"] < 600
    assert document["ok"] is True
    assert document["cameras_not_drained"] == 0
    assert document["produced_bytes"] == document["stored_bytes"] > 0
    assert fleet.survivors() == []
    assert wait_gone(workdirs, 0) == []


def test_fleet_second_signal_skips_the_drain(commands: list[Command], tmp_path: Path) -> None:
    # OSS is down from the start, so the cameras cannot drain: only the second signal ends
    # the run before the drain time.
    scenario = tmp_path / "outage.toml"
    scenario.write_text(
        'name = "outage"\ndescription = "OSS down throughout"\n'
        '[[steps]]\nat = 0\naction = "oss_outage"\nduration = 3600\n'
    )
    fleet = _start(
        commands, "fleet", "--cameras", "1", "--duration", "600", "--drain", "600",
        "--scenario", str(scenario),
    )  # fmt: skip
    workdirs = _serving(fleet, "online 1/1")
    fleet.wait_for("upload:outage_wait")  # the camera holds bytes it cannot upload

    fleet.signal(signal.SIGINT)
    fleet.wait_for("SIGINT: stopping")
    with pytest.raises(subprocess.TimeoutExpired):  # draining, and it cannot finish
        fleet.proc.wait(3)
    fleet.signal(signal.SIGTERM)

    assert fleet.wait(timeout_s=60) == 128 + signal.SIGTERM, fleet.output()
    assert "stopped without draining" in fleet.output()
    assert "RESULT" not in fleet.output()
    assert fleet.survivors() == []
    assert wait_gone(workdirs, 0) == []


def test_fleet_sigkill_takes_camera_processes_and_work_directory(
    commands: list[Command],
) -> None:
    fleet = _start(commands, "fleet", "--cameras", "2", "--processes", "2", "--duration", "600")
    workdirs = _serving(fleet, "online 2/2")
    camera_processes = [p for p in fleet.tree if "multiprocessing.spawn" in " ".join(p.cmdline())]
    assert len(camera_processes) == 2

    fleet.signal(signal.SIGKILL)

    assert fleet.wait() == -signal.SIGKILL
    assert fleet.survivors(timeout_s=10) == []
    assert wait_gone(workdirs, timeout_s=10) == []


def test_bench_emulator_sigterm_reports_completed_rounds(commands: list[Command]) -> None:
    bench = _start(
        commands, "bench", "emulator", "--duration", "1", "--rounds", "50",
        "--clients", "1", "--warmup", "0", "--json",
    )  # fmt: skip
    bench.wait_for("round 1/50 emulator")
    bench.record_tree()
    assert len(bench.tree) >= 3  # lifeline, emulator, bare server

    bench.signal(signal.SIGTERM)

    code = bench.wait()
    document = json.loads("".join(bench.out))
    assert code == (0 if document["met"] else 1), bench.output()
    assert document["stopped_by"] == "SIGTERM"
    assert 1 <= document["rounds_completed"] < 50
    assert len(document["round_ratios"]) == document["rounds_completed"]
    assert bench.survivors() == []
