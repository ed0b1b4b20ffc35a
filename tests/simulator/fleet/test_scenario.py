"""Scenario files: every built-in loads, bad files fail with a message that says where."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from simulator.fleet.chaos import plan_spool_limits
from simulator.fleet.scenario import ScenarioError, builtin_names, load_scenario

REQUIRED = {
    "steady",
    "boot-storm",
    "broker-restart",
    "responder-restart",
    "oss-5xx",
    "oss-lost-responses",
    "oss-outage",
    "sts-throttle",
    "clock-skew",
    "slow-link",
    "chaos",
}


def test_every_required_scenario_ships() -> None:
    assert set(builtin_names()) >= REQUIRED


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_builtin_scenarios_load_and_are_named_after_their_file(name: str) -> None:
    scenario = load_scenario(name)
    assert scenario.name == name
    assert scenario.description


def test_chaos_mixes_every_kind_of_fault() -> None:
    assert load_scenario("chaos").actions() >= {
        "oss_faults",
        "oss_outage",
        "sts_throttle",
        "broker_restart",
        "responder_restart",
        "clock_skew",
        "link",
        "spool_pressure",
    }


def test_spool_pressure_squeezes_a_seeded_share_to_at_least_two_chunks() -> None:
    ids = [f"cam-{i:03d}" for i in range(200)]
    limits = plan_spool_limits(load_scenario("chaos"), ids, 16 * 1024, seed=3)
    assert len(limits) == 20  # share 0.1
    assert set(limits.values()) == {64 * 1024}
    assert limits == plan_spool_limits(load_scenario("chaos"), ids, 16 * 1024, seed=3)
    assert limits != plan_spool_limits(load_scenario("chaos"), ids, 16 * 1024, seed=4)
    big = plan_spool_limits(load_scenario("chaos"), ids, 256 * 1024, seed=3)
    assert set(big.values()) == {512 * 1024}
    assert plan_spool_limits(load_scenario("steady"), ids, 16 * 1024, seed=3) == {}


def test_percent_times_scale_with_the_run() -> None:
    outage = next(s for s in load_scenario("chaos").steps if s.action == "oss_outage")
    assert outage.at.resolve(60) == pytest.approx(30)
    assert outage.at.resolve(600) == pytest.approx(300)
    assert outage.duration is not None
    assert outage.duration.resolve(600) == pytest.approx(90)


def test_unknown_name_lists_the_builtins() -> None:
    with pytest.raises(ScenarioError, match="chaos"):
        load_scenario("no-such-scenario")


def test_invalid_file_names_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\ndescription = "d"\n[[steps]]\nat = "150%"\naction = "oss_outage"\n')
    with pytest.raises(ScenarioError, match=r"steps\.0\.at"):
        load_scenario(str(bad))


def test_unknown_action_and_extra_keys_are_rejected(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        'name = "x"\ndescription = "d"\ncolour = 1\n[[steps]]\nat = 1\naction = "nuke"\n'
    )
    with pytest.raises(ScenarioError) as info:
        load_scenario(str(bad))
    assert "colour" in str(info.value)
    assert "action" in str(info.value)


def test_broken_toml_and_missing_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("name = ")
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load_scenario(str(broken))
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(str(tmp_path / "missing.toml"))


def test_docs_list_every_built_in_scenario() -> None:
    text = (Path(__file__).resolve().parents[3] / "docs" / "fleet.md").read_text("utf-8")
    listing = text.split("Built-in scenarios", 1)[1].split("The file format", 1)[0]
    assert set(re.findall(r"`([a-z0-9-]+)`", listing)) == set(builtin_names())
