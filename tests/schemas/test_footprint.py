"""What importing the protocol costs a camera: field patterns the regex engine keeps small."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from schemas import CredsResponseOk, DeviceId, InvalidMessage
from schemas.jsonschema import render

# pydantic-core compiles each pattern with the Rust regex engine, which unrolls a bounded
# repetition into one state per step: ``{38,16384}`` alone held 6.4 MB resident. Bounds that
# large belong in max_length.
MAX_REPEAT = 255
_REPEAT = re.compile(r"\{(\d+)(?:,(\d*))?\}")


def _patterns(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                yield value
            else:
                yield from _patterns(value)
    elif isinstance(node, list):
        for item in node:
            yield from _patterns(item)


def test_no_field_pattern_repeats_more_than_a_few_hundred_times() -> None:
    patterns = {p for text in render().values() for p in _patterns(json.loads(text))}
    assert len(patterns) > 5
    bounds = {
        (pattern, int(hi or lo))
        for pattern in patterns
        for lo, hi in _REPEAT.findall(pattern)
        if hi != ""  # "{n,}" has no upper bound to unroll
    }
    too_large = sorted(b for b in bounds if b[1] > MAX_REPEAT)
    assert too_large == []


def _ok_response(sealed: str) -> CredsResponseOk:
    return CredsResponseOk(
        device_id=DeviceId("cam-0001"), request_id="0" * 32, server_time_ms=1, sealed=sealed
    )


@pytest.mark.parametrize("length", [38, 40, 16384])
def test_sealed_lengths_inside_the_bounds_are_accepted(length: int) -> None:
    assert len(_ok_response("A" * length).sealed) == length


@pytest.mark.parametrize("length", [36, 16386, 20000])
def test_sealed_lengths_outside_the_bounds_are_rejected(length: int) -> None:
    with pytest.raises(InvalidMessage, match="sealed"):
        _ok_response("A" * length)
