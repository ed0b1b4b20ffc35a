"""The verdict rules, recovery figures and per-change fault seeds, as pure logic."""

from __future__ import annotations

import random
import time
from typing import Any, cast

import pytest

from simulator.emulator.handle import EmulatorHandle
from simulator.fleet.camera import piece_bytes
from simulator.fleet.chaos import ChaosDriver
from simulator.fleet.integrity import Chunk, audit_stream
from simulator.fleet.recovery import CameraPoint, measure_recovery
from simulator.fleet.report import SCHEMA_VERSION, FleetReport
from simulator.fleet.scenario import Scenario, ScenarioError, Step
from simulator.fleet.services import LocalServices
from simulator.fleet.verdict import Failure, Reason, exit_status


def _report(**fields: Any) -> FleetReport:
    report = FleetReport("steady", 1, 2, 10.0, 64_000, 1, cameras_audited=2, produced_bytes=10)
    for name, value in fields.items():
        setattr(report, name, value)
    return report


def test_a_clean_report_is_ok_and_carries_its_schema_version() -> None:
    report = _report(stored_bytes=10, ok_bytes=10)
    assert report.ok
    assert report.exit_status == 0
    assert f'"schema_version": {SCHEMA_VERSION}' in report.to_json()


@pytest.mark.parametrize(
    ("fields", "reason", "status"),
    [
        ({"lost_bytes": 1}, Reason.INTEGRITY, 1),
        ({"duplicated_bytes": 5}, Reason.INTEGRITY, 1),
        ({"object_problems": [{"key": "k", "reason": "r"}]}, Reason.INTEGRITY, 1),
        ({"cameras_audited": 1, "cameras_not_audited": ["cam-1"]}, Reason.INCOMPLETE, 3),
        ({"cameras_audited": 1}, Reason.INCOMPLETE, 3),
        ({"pending_bytes": 7, "cameras_not_drained": 1}, Reason.INCOMPLETE, 3),
        ({"produced_bytes": 0}, Reason.INCOMPLETE, 3),
        (
            {"steps": [{"action": "broker_restart", "at_s": 1.0, "error": "external broker"}]},
            Reason.INCOMPLETE,
            3,
        ),
        (
            {"infrastructure_errors": ["reading the objects back: refused"]},
            Reason.INFRASTRUCTURE,
            4,
        ),
    ],
)
def test_each_shortfall_fails_with_its_reason(
    fields: dict[str, Any], reason: Reason, status: int
) -> None:
    report = _report(**fields)
    assert not report.ok
    assert {f.reason for f in report.failures} == {reason}
    assert report.exit_status == status
    assert f"RESULT: FAILED ({reason.value}), exit status {status}" in report.summary()


def test_data_loss_outranks_every_other_reason() -> None:
    failures = [
        Failure(Reason.INCOMPLETE, "x"),
        Failure(Reason.INFRASTRUCTURE, "y"),
        Failure(Reason.INTEGRITY, "z"),
    ]
    assert exit_status(failures) == 1
    assert exit_status(failures[:2]) == 4
    assert exit_status([]) == 0


def _history(
    points: list[tuple[float, bool, int, int]],
) -> list[tuple[float, dict[str, CameraPoint]]]:
    return [(at, {"cam": CameraPoint(up, prod, conn)}) for at, conn, up, prod in points]


def test_recovery_counts_from_the_end_until_disrupted_cameras_caught_up() -> None:
    history = _history(
        [
            (0.0, True, 0, 0),
            (1.0, True, 100, 100),
            (2.0, False, 100, 200),  # the broker is down
            (3.0, False, 100, 300),
            (4.0, True, 100, 400),  # back online at the end, not yet stored
            (5.0, True, 300, 500),
            (6.0, True, 450, 600),  # stored everything produced by the end (400)
        ]
    )
    rec = measure_recovery(history, 1.5, 4.0, slack_bytes=1000)
    assert (rec.disrupted, rec.recovery_s) == (1, 2.0)
    assert rec.describe() == "1 camera(s) disrupted, recovered in 2.0s"


def test_a_step_that_disrupted_nothing_has_no_effect_and_no_recovery_time() -> None:
    history = _history([(t, True, 100 * t, 100 * t + 50) for t in (0.0, 1.0, 2.0, 3.0, 4.0)])
    rec = measure_recovery(history, 1.0, 2.0, slack_bytes=1000)
    assert (rec.disrupted, rec.recovery_s) == (0, None)
    assert rec.describe() == "no effect"


def test_a_camera_never_caught_up_has_not_recovered() -> None:
    history = _history([(0.0, True, 0, 0), (1.0, True, 0, 5000), (2.0, True, 0, 9000)])
    rec = measure_recovery(history, 0.0, 1.0, slack_bytes=1000)
    assert (rec.disrupted, rec.recovery_s) == (1, None)
    assert "not recovered" in rec.describe()


def test_steps_must_start_within_the_run_and_have_their_services() -> None:
    scenario = Scenario(
        name="s",
        description="d",
        steps=(
            Step.model_validate({"at": "50%", "action": "link"}),
            Step.model_validate({"at": 20, "action": "broker_restart"}),
        ),
    )
    scenario.check_run(30)
    with pytest.raises(ScenarioError, match=r"steps\.1 \(broker_restart\): starts at 20 s"):
        scenario.check_run(12)
    with pytest.raises(ScenarioError, match=r"steps\.0 \(link\): needs the run's own broker"):
        scenario.check_run(30, local_broker=False)
    with pytest.raises(ScenarioError, match="own emulator"):
        scenario.check_run(30, local_emulator=False)


class _Services:
    """Just the emulator: the chaos driver's fault steps touch nothing else."""

    def __init__(self, emulator: EmulatorHandle) -> None:
        self.emulator = emulator


def _fault_seeds(emulator: EmulatorHandle, seed: int) -> list[int]:
    """The seeds of the fault configurations the driver puts in force, read back from the
    emulator (steps a second apart: the faults, a throttle on top, the throttle's end)."""
    scenario = Scenario(
        name="s",
        description="d",
        steps=(
            Step.model_validate({"at": 0, "action": "oss_faults", "params": {"error_rate": 0.1}}),
            Step.model_validate({"at": 1, "action": "sts_throttle", "duration": 1}),
        ),
    )
    emulator.clear_faults()
    driver = ChaosDriver(scenario, cast(LocalServices, _Services(emulator)), 60, seed)
    seeds: list[int] = []
    driver.start(time.monotonic())
    deadline = time.monotonic() + 20
    while len(seeds) < 3 and time.monotonic() < deadline:
        config = emulator.faults()["config"]
        if config["rules"] and (not seeds or config["seed"] != seeds[-1]):
            seeds.append(config["seed"])
        time.sleep(0.05)
    driver.stop()
    return seeds


def test_every_fault_change_gets_its_own_seed_drawn_from_the_runs(
    emulator: EmulatorHandle,
) -> None:
    first = _fault_seeds(emulator, 7)
    assert len(first) == 3  # the faults, the throttle on top, the throttle's end
    assert len(set(first)) == 3
    assert _fault_seeds(emulator, 7) == first
    assert _fault_seeds(emulator, 8) != first


def test_damage_inside_a_rebuilt_piece_is_counted_to_the_byte() -> None:
    pieces = [piece_bytes("cam-1", 4, n, 5000) for n in range(6)]
    chunks = [Chunk.of(n, data) for n, data in enumerate(pieces)]
    objects = [b"".join(pieces[:3]), b"".join(pieces[3:])]

    def rebuild(n: int, size: int) -> bytes:
        return piece_bytes("cam-1", 4, n, size)

    flipped = bytearray(objects[0])
    flipped[7000] ^= 0xFF
    audit = audit_stream(chunks, bytes(flipped) + objects[1], starts=[0, 15000], regenerate=rebuild)
    assert (audit.corrupted_bytes, audit.lost_bytes, audit.ok_bytes) == (1, 0, 29999)
    cut = objects[0][:-40] + objects[1]
    audit = audit_stream(chunks, cut, starts=[0, 14960], regenerate=rebuild)
    assert (audit.corrupted_bytes, audit.lost_bytes) == (0, 40)
    assert [(f.kind, f.offset, f.size) for f in audit.findings] == [("lost", 14960, 40)]
    # Without the bytes, the damage is counted to the chunk and the stream picked up after.
    audit = audit_stream(chunks, bytes(flipped) + objects[1], starts=[0, 15000])
    assert (audit.corrupted_bytes, audit.lost_bytes, audit.ok_bytes) == (5000, 0, 25000)
    rng = random.Random(1)
    garbage = rng.randbytes(333)
    audit = audit_stream(chunks, garbage + b"".join(pieces), starts=[0, 333])
    assert (audit.corrupted_bytes, audit.ok_bytes) == (333, 30000)


def test_steps_the_run_ended_before_are_reported_not_applied() -> None:
    scenario = Scenario(
        name="s",
        description="d",
        steps=(
            Step.model_validate({"at": 0, "action": "clock_skew"}),
            Step.model_validate({"at": 50, "action": "clock_skew"}),
        ),
    )
    driver = ChaosDriver(scenario, None, 60, 1)
    driver.start(time.monotonic())
    deadline = time.monotonic() + 10
    while not driver.applied and time.monotonic() < deadline:
        time.sleep(0.02)
    driver.stop()  # a Ctrl-C at 0 s: the second step never came
    # The first step is applied when it falls due (a moment after 0 s on a loaded machine);
    # the unreached one keeps the time it was written for.
    assert [(s.at_s >= 50, s.error) for s in driver.applied] == [
        (False, None),
        (True, "not reached: the run ended first"),
    ]
    report = _report(
        steps=[{"action": s.action, "at_s": s.at_s, "error": s.error} for s in driver.applied]
    )
    assert report.exit_status == 3
    assert "step clock_skew at 50.0s not applied: not reached" in report.summary()


def test_a_cut_tail_without_the_bytes_is_its_stored_part_corrupted_and_the_rest_lost() -> None:
    pieces = [piece_bytes("cam-2", 1, n, 3000) for n in range(4)]
    chunks = [Chunk.of(n, data) for n, data in enumerate(pieces)]
    stored = b"".join(pieces[:2])[:-700] + b"".join(pieces[2:])
    audit = audit_stream(chunks, stored, starts=[0, 5300])
    assert (audit.corrupted_bytes, audit.lost_bytes, audit.ok_bytes) == (2300, 700, 9000)
    assert [(f.kind, f.offset, f.size) for f in audit.findings] == [
        ("corrupted", 3000, 2300),
        ("lost", 5300, 700),
    ]
