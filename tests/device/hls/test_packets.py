from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from device.hls.packets import ContinuityCounters, adaptation_field, packetize
from tests.device.hls.tsreader import check_continuity, read_packets


@settings(max_examples=150)
@given(
    size=st.integers(min_value=1, max_value=800),
    pcr=st.one_of(st.none(), st.integers(min_value=0, max_value=(1 << 33) * 300 - 1)),
    random_access=st.booleans(),
)
def test_packetize_round_trip(size: int, pcr: int | None, random_access: bool) -> None:
    payload = bytes(i % 251 for i in range(size))
    data = packetize(0x100, payload, ContinuityCounters(), pcr=pcr, random_access=random_access)
    packets = read_packets(data)
    assert b"".join(p.payload for p in packets) == payload
    assert [p.pusi for p in packets] == [True] + [False] * (len(packets) - 1)
    assert packets[0].pcr == pcr
    assert packets[0].random_access == random_access
    assert all(p.pcr is None and not p.random_access for p in packets[1:])
    # Only the first packet (flags) and the last one (stuffing) carry an adaptation field.
    assert all(not p.has_adaptation for p in packets[1:-1])
    assert [p.cc for p in packets] == [i % 16 for i in range(len(packets))]
    assert all(p.pid == 0x100 for p in packets)


@pytest.mark.parametrize(("size", "af_length"), [(183, 0), (182, 1), (184, -1), (100, 83)])
def test_stuffing_sizes(size: int, af_length: int) -> None:
    packets = read_packets(packetize(0x101, b"\x01" * size, ContinuityCounters()))
    assert len(packets) == 1
    assert packets[0].adaptation_length == af_length
    assert len(packets[0].payload) == size


def test_counters_are_per_pid_and_wrap() -> None:
    counters = ContinuityCounters()
    data = b"".join(packetize(pid, b"x" * 180, counters) for pid in [1, 2] * 20)
    packets = read_packets(data)
    check_continuity(packets)
    assert [p.cc for p in packets if p.pid == 1][15:18] == [15, 0, 1]


def test_adaptation_field_layouts() -> None:
    assert adaptation_field(1) == b"\x00"
    assert adaptation_field(2, random_access=True) == b"\x01\x40"
    field = adaptation_field(10, pcr=27_000_000, random_access=True)
    assert field[0] == 9
    assert field[1] == 0x50
    assert field[8:] == b"\xff\xff"
    with pytest.raises(ValueError, match="cannot hold"):
        adaptation_field(5, pcr=0)


def test_empty_payload_is_refused() -> None:
    with pytest.raises(ValueError, match="nothing"):
        packetize(0x100, b"", ContinuityCounters())
