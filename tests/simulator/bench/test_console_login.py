"""``ossmedia bench console-login`` against a real console process, at a small scale."""

from __future__ import annotations

from simulator.bench.console_login import GOAL_RSS_GROWTH_KIB, build_parser, run


def test_a_small_sign_in_flood_is_measured_and_the_operator_signs_in() -> None:
    results = run(build_parser().parse_args(["--threads", "6", "--attempts", "2"]))
    answers = results["attackers"]
    assert sum(answers.values()) == 12
    assert set(answers) <= {"401", "429"}  # refused or wrong; never a crash or a 5xx
    assert results["operator_alone"]["status"] == 200
    assert results["operator_during_flood"]["status"] == 200
    assert 0 < results["rss_baseline_kib"] <= results["rss_peak_kib"]
    assert results["rss_growth_kib"] < GOAL_RSS_GROWTH_KIB
