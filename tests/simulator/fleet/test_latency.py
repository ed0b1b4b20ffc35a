"""Append latency from the crash-point seam, and the histogram the report reads."""

from __future__ import annotations

import pytest

from simulator.fleet.latency import BOUNDS_S, AppendTimer, LatencyHistogram, merge_counts
from simulator.fleet.report import histogram_quantile


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_span_between_appending_and_appended_is_recorded() -> None:
    clock = FakeClock()
    histogram = LatencyHistogram()
    timer = AppendTimer(histogram, clock)
    timer.reached("upload.appending")
    clock.now += 0.040
    timer.reached("journal.tmp_written")  # other points pass through untouched
    timer.reached("upload.appended")
    counts = histogram.counts()
    assert sum(counts) == 1
    bucket = counts.index(1)
    assert BOUNDS_S[bucket - 1] < 0.040 <= BOUNDS_S[bucket]


def test_a_failed_append_leaves_no_sample() -> None:
    clock = FakeClock()
    histogram = LatencyHistogram()
    timer = AppendTimer(histogram, clock)
    timer.reached("upload.appending")
    clock.now += 30.0  # the append raised: no "upload.appended"
    timer.reached("upload.appending")
    clock.now += 0.002
    timer.reached("upload.appended")
    timer.reached("upload.appended")  # a second end without a start is ignored
    buckets = merge_counts([histogram.counts()])
    assert buckets[-1][1] == 1
    assert histogram_quantile(buckets, 0.99) == pytest.approx(BOUNDS_S[4])  # 2.44 ms


def test_groups_merge_into_cumulative_buckets() -> None:
    clock = FakeClock()
    a, b = LatencyHistogram(), LatencyHistogram()
    for histogram, seconds in ((a, 0.001), (a, 0.010), (b, 0.010), (b, 2.0)):
        timer = AppendTimer(histogram, clock)
        timer.reached("upload.appending")
        clock.now += seconds
        timer.reached("upload.appended")
    merged = merge_counts([a.counts(), b.counts()])
    assert merged[-1] == (float("inf"), 4.0)
    p50 = histogram_quantile(merged, 0.5)
    p99 = histogram_quantile(merged, 0.99)
    assert p50 is not None
    assert 0.010 <= p50 < 0.0125
    assert p99 is not None
    assert 2.0 <= p99 < 2.5
