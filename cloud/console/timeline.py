"""A camera's day: its recordings and the gaps between them, as spans of time.

Pure functions over ledger entries; the pages draw the result as an SVG bar and the API
returns it as JSON.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from cloud.console.ledger import Recording

__all__ = ["DAY_MS", "Span", "Timeline", "build_timeline", "day_bounds", "utc_date"]

DAY_MS = 86_400_000


@dataclass(frozen=True)
class Span:
    """A stretch of time.

    Attributes:
        start_ms: start (inclusive).
        end_ms: end (exclusive).
        recording_id: the recording, for recording spans; empty for gaps.
        verification: the recording's state, for recording spans; empty for gaps.
    """

    start_ms: int
    end_ms: int
    recording_id: str = ""
    verification: str = ""

    @property
    def duration_ms(self) -> int:
        """Length in milliseconds."""
        return self.end_ms - self.start_ms


@dataclass(frozen=True)
class Timeline:
    """One camera's day.

    Attributes:
        day: the UTC date.
        start_ms: midnight UTC at the start of the day.
        end_ms: midnight UTC at its end.
        recordings: recording spans clipped to the day, in time order; a recording in
            progress is among them with verification ``live``, reaching up to now.
        gaps: uncovered stretches between the first recording of the day (or midnight) and
            the end of the day (or now, for today), longer than the gap threshold.
        truncated: the day had more recordings than were read.
    """

    day: dt.date
    start_ms: int
    end_ms: int
    recordings: tuple[Span, ...]
    gaps: tuple[Span, ...]
    truncated: bool


def utc_date(ms: int) -> dt.date:
    """The UTC calendar day an epoch-milliseconds instant falls on."""
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).date()


def day_bounds(day: dt.date) -> tuple[int, int]:
    """Midnight UTC at the start and at the end of ``day``, in milliseconds."""
    start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    start_ms = int(start.timestamp() * 1000)
    return start_ms, start_ms + DAY_MS


def build_timeline(
    day: dt.date,
    recordings: Sequence[Recording],
    *,
    now_ms: int,
    min_gap_ms: int = 2000,
    truncated: bool = False,
    live: tuple[str, int, int] | None = None,
) -> Timeline:
    """Lay out a day's recordings and find the gaps.

    Args:
        day: the UTC date.
        recordings: the camera's recordings overlapping the day, in start order.
        now_ms: current time (time after it is not a gap: nothing could be recorded yet).
        min_gap_ms: shorter uncovered stretches (segment boundaries) are not gaps.
        truncated: passed through to the result.
        live: the recording in progress, if any: ``(live_id, start_ms, covered_to_ms)``.

    Returns:
        The timeline.
    """
    start_ms, end_ms = day_bounds(day)
    horizon = min(end_ms, max(start_ms, now_ms))
    spans = tuple(
        Span(
            max(r.facts.start_ms, start_ms),
            min(max(r.facts.end_ms, r.facts.start_ms), end_ms),
            r.recording_id,
            r.verification.value,
        )
        for r in recordings
    )
    if live is not None and live[1] < end_ms and live[2] > start_ms:
        live_id, live_start, live_end = live
        spans = (*spans, Span(max(live_start, start_ms), min(live_end, end_ms), live_id, "live"))
    gaps: list[Span] = []
    covered_to = start_ms
    for span in sorted(spans, key=lambda s: s.start_ms):
        if span.start_ms - covered_to >= min_gap_ms:
            gaps.append(Span(covered_to, min(span.start_ms, horizon)))
        covered_to = max(covered_to, span.end_ms)
    if horizon - covered_to >= min_gap_ms:
        gaps.append(Span(covered_to, horizon))
    return Timeline(
        day=day,
        start_ms=start_ms,
        end_ms=end_ms,
        recordings=spans,
        gaps=tuple(g for g in gaps if g.duration_ms >= min_gap_ms),
        truncated=truncated,
    )
