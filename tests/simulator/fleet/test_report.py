"""Report figures computed from camera results."""

from __future__ import annotations

import pytest

from simulator.fleet.report import steady_key_rate


def test_steady_sts_rate_counts_refreshes_over_the_time_they_span() -> None:
    # Two cameras: one refreshed twice 2,880 s apart, one once after 2,700 s; one booted late
    # and never refreshed (no interval, no span).
    intervals, rate = steady_key_rate([[1.0, 2881.0, 5761.0], [2.0, 2702.0], [30.0]])
    assert intervals == 3
    assert rate == pytest.approx(3 * 3600 / (5760 + 2700))


def test_no_refresh_means_no_steady_state_figure() -> None:
    assert steady_key_rate([[1.0], [], [3.0]]) == (0, None)
