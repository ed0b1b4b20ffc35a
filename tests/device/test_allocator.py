"""The agent's C allocator settings: chunk-sized blocks are mapped and returned, not kept."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from device.agent.allocator import (
    M_ARENA_MAX,
    M_MMAP_THRESHOLD,
    AllocatorSettings,
    tune_allocator,
)

REPO = Path(__file__).resolve().parents[2]

# Frees one 1 MiB block, then says whether the next 1 MiB block sits in the brk heap (where
# a freed block stays resident) rather than in a mapping of its own.
_CHILD = """
import sys
from device.agent.allocator import tune_allocator
if sys.argv[1] == "tuned" and not tune_allocator():
    raise SystemExit("not applied")
def in_heap(address):
    for line in open("/proc/self/maps"):
        if line.rstrip().endswith("[heap]"):
            low, high = (int(x, 16) for x in line.split()[0].split("-"))
            if low <= address < high:
                return True
    return False
first = bytes(1 << 20)
del first
second = bytes(1 << 20)
print("heap" if in_heap(id(second)) else "mapped")
"""


def _where_the_second_block_lands(mode: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, mode],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


def test_without_tuning_glibc_moves_chunk_sized_blocks_into_the_heap() -> None:
    # The behaviour the tuning exists for: glibc's adaptive mmap threshold.
    assert _where_the_second_block_lands("plain") == "heap"


def test_tuned_chunk_sized_blocks_stay_mapped_on_their_own() -> None:
    assert _where_the_second_block_lands("tuned") == "mapped"


def test_settings_are_passed_to_mallopt() -> None:
    calls: list[tuple[int, int]] = []

    def mallopt(param: int, value: int, /) -> int:
        calls.append((param, value))
        return 1

    settings = AllocatorSettings(mmap_threshold=256 * 1024, arena_max=1)
    assert tune_allocator(settings, mallopt=mallopt) is True
    assert calls == [(M_MMAP_THRESHOLD, 256 * 1024), (M_ARENA_MAX, 1)]


@pytest.mark.parametrize("refused", [M_MMAP_THRESHOLD, M_ARENA_MAX])
def test_a_refused_value_is_reported(refused: int) -> None:
    def mallopt(param: int, value: int, /) -> int:
        del value
        return 0 if param == refused else 1

    assert tune_allocator(mallopt=mallopt) is False
