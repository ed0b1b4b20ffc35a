"""``ossmedia bench live``: arguments checked, and a short real run reports both figures."""

from __future__ import annotations

import re

import pytest

from simulator.bench import live


def test_bad_arguments_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        live.main(["--seconds", "3"])
    assert info.value.code == 2
    assert "--seconds must be at least 10" in capsys.readouterr().err


def test_a_short_run_measures_the_live_edge_and_the_clip_next_to_raw_gets(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = live.main(["--seconds", "10", "--clip-mb", "4", "--rounds", "1"])
    out = capsys.readouterr().out
    edge = re.search(r"live edge: (\d+) fragments .* p50 ([\d.]+) s, p99 ([\d.]+) s", out)
    clip = re.search(r"clip ([\d.]+) MiB/s, raw ranged GET ([\d.]+) MiB/s, ratio ([\d.]+)", out)
    assert edge is not None, out
    assert clip is not None, out
    assert int(edge.group(1)) >= 8  # about one fragment a second, each one seen
    assert 0 < float(edge.group(2)) <= float(edge.group(3)) < 30
    assert float(clip.group(1)) > 0
    assert float(clip.group(2)) > 0
    # The exit status follows the goals, which a loaded machine may miss (figures within
    # rounding of a goal could go either way).
    p50, ratio = float(edge.group(2)), float(clip.group(3))
    if abs(p50 - live.LATENCY_GOAL_S) > 0.01 and abs(ratio - live.CLIP_GOAL) > 0.01:
        assert code == (0 if p50 <= live.LATENCY_GOAL_S and ratio >= live.CLIP_GOAL else 1)
    assert code in {0, 1}
