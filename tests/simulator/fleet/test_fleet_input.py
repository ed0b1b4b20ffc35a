"""Every operator error is refused before any service starts: exit 2, one line, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.bench.fleet import main as bench_fleet_main
from simulator.fleet.cli import main as fleet_main
from simulator.fleet.errors import FleetInputError
from simulator.fleet.runner import FleetSettings, run_fleet
from simulator.fleet.scenario import ScenarioError, load_scenario


def _refused(capsys: pytest.CaptureFixture[str], status: int) -> str:
    out, err = capsys.readouterr()
    assert status == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    # Nothing ran: no progress line, no summary.
    assert "online" not in err
    assert "RESULT" not in out
    return lines[0]


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["--chunk", "0"], "--chunk"),
        (["--chunk", "-5"], "--chunk"),
        (["--bitrate", "1", "--duration", "20"], "--bitrate"),
        (["--bitrate", "0"], "--bitrate"),
        (["--cameras", "0"], "--cameras"),
        (["--processes", "0"], "--processes"),
        (["--duration", "nan"], "--duration"),
        (["--duration", "inf"], "--duration"),
        (["--duration", "0"], "--duration"),
        (["--drain", "-5"], "--drain"),
        (["--drain", "nan"], "--drain"),
    ],
)
def test_arguments_that_cannot_prove_anything_are_refused(
    capsys: pytest.CaptureFixture[str], args: list[str], names: str
) -> None:
    line = _refused(capsys, fleet_main(["--cameras", "2", *args]))
    assert names in line


def test_unwritable_report_and_workdir_are_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert "--report" in _refused(capsys, fleet_main(["--report", str(tmp_path / "no" / "r")]))
    assert "--report" in _refused(capsys, fleet_main(["--report", str(tmp_path)]))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert "--workdir" in _refused(capsys, fleet_main(["--workdir", str(blocker / "w")]))


def test_external_services_must_answer(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OSSMEDIA_ADMIN_TOKEN", raising=False)
    line = _refused(capsys, fleet_main(["--endpoint", "http://127.0.0.1:9"]))
    assert "OSSMEDIA_ADMIN_TOKEN" in line
    monkeypatch.setenv("OSSMEDIA_ADMIN_TOKEN", "token")
    line = _refused(capsys, fleet_main(["--endpoint", "http://127.0.0.1:9"]))
    assert "--endpoint http://127.0.0.1:9" in line
    line = _refused(capsys, fleet_main(["--broker", "mqtt://127.0.0.1:9"]))
    assert "not reachable" in line


def _scenario(tmp_path: Path, step: str) -> Path:
    path = tmp_path / "s.toml"
    path.write_text(f'name = "bad"\ndescription = "d"\n[[steps]]\n{step}\n', encoding="utf-8")
    return path


BAD_STEPS = {
    "negative rate": (
        'at = 1\naction = "oss_faults"\nparams = { error_rate = -0.2 }',
        "error_rate",
    ),
    "rate above 1": ('at = 1\naction = "oss_faults"\nparams = { error_rate = 1.5 }', "error_rate"),
    "rates above 1": (
        'at = 1\naction = "oss_faults"\nparams = { error_rate = 0.6, lost_response_rate = 0.6 }',
        "exceed 1",
    ),
    "status 404": ('at = 1\naction = "oss_faults"\nparams = { status = 404 }', "status"),
    "negative latency": (
        'at = 1\naction = "oss_faults"\nparams = { latency_ms = -50 }',
        "latency_ms",
    ),
    "misspelt key": ('at = 1\naction = "oss_faults"\nparams = { eror_rate = 0.1 }', "eror_rate"),
    "share 3": ('at = 1\naction = "clock_skew"\nparams = { share = 3.0 }', "share"),
    "nan offset": ('at = 1\naction = "clock_skew"\nparams = { offset_s = nan }', "offset_s"),
    "zero downtime": (
        'at = 1\naction = "broker_restart"\nparams = { downtime_s = 0 }',
        "downtime_s",
    ),
    "removed sts rate": ('at = 1\naction = "sts_throttle"\nparams = { rate = 5 }', "rate"),
    "link probability": (
        'at = 1\naction = "link"\nparams = { reset_probability = 2 }',
        "reset_probability",
    ),
    "outage params": ('at = 1\naction = "oss_outage"\nparams = { share = 1 }', "share"),
    "spool bytes": ('at = 0\naction = "spool_pressure"\nparams = { max_bytes = 0 }', "max_bytes"),
}


@pytest.mark.parametrize("case", sorted(BAD_STEPS))
def test_each_invalid_step_param_is_refused_naming_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, case: str
) -> None:
    step, name = BAD_STEPS[case]
    path = _scenario(tmp_path, step)
    with pytest.raises(ScenarioError, match=name):
        load_scenario(str(path))
    line = _refused(capsys, fleet_main(["--scenario", str(path), "--duration", "12"]))
    assert "steps.0" in line
    assert name in line


def test_a_step_after_the_end_of_the_run_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = _scenario(tmp_path, 'at = 500\naction = "oss_outage"\nduration = 5')
    line = _refused(capsys, fleet_main(["--scenario", str(path), "--duration", "12"]))
    assert "500" in line
    assert "12 s run" in line


def test_a_broker_restart_needs_the_runs_own_broker(tmp_path: Path) -> None:
    # Refused before anything is reached: the external broker's address is never used.
    settings = FleetSettings(
        cameras=1,
        duration_s=10,
        scenario=load_scenario("broker-restart"),
        broker_url="mqtt://127.0.0.1:9",
        workdir=tmp_path,
    )
    with pytest.raises(FleetInputError, match="own broker"):
        run_fleet(settings)


@pytest.mark.parametrize(
    "args",
    [
        ["chaos", "--cameras", "0"],
        ["sts", "--cameras", "0"],
        ["capacity", "--sizes", "250,x"],
        ["capacity", "--sizes", "500,250"],
        ["capacity", "--sizes", "0,5"],
        ["chaos", "--chunk", "0", "--cameras", "2"],
        ["chaos", "--duration", "nan", "--cameras", "2"],
    ],
)
def test_bench_fleet_refuses_runs_that_produce_nothing(
    capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    _refused(capsys, bench_fleet_main(args))
