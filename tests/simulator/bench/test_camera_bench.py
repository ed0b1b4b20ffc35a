"""``ossmedia bench camera``: how memory is attributed and how the table reads."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from simulator.bench import camera

REPO = Path(__file__).resolve().parents[3]


def _vmrss_kib(pid: int) -> int:
    match = re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text())
    assert match is not None
    return int(match.group(1))


def test_guest_memory_counts_only_mappings_below_the_limit() -> None:
    pid = os.getpid()
    everything = camera._guest_rss_kib(pid, 1 << 64)
    # smaps and status are read a moment apart: within a few hundred KiB of each other.
    assert abs(everything - _vmrss_kib(pid)) < 4096
    assert camera._guest_rss_kib(pid, 0) == 0
    # A 64-bit process maps its libraries and heap far above 4 GiB.
    assert camera._guest_rss_kib(pid, 1 << 32) < everything


def test_table_gives_ratios_to_the_native_board() -> None:
    native = camera.BoardFigures("x86_64 (native)", 5.0, 12.4, 2.0, 2.0, 40.0, 40.0, 39.0,
                                 8.0, 32.0, 30.0, 30.0, 0)  # fmt: skip
    arm = camera.BoardFigures("armv7l (qemu)", 5.0, 12.2, 15.0, 5.0, 32.0, 78.0, 31.0,
                              6.0, 26.0, 240.0, 30.0, 0)  # fmt: skip
    text = camera.table([native, arm])
    assert "| CPU s per recorded hour | 30 | 240 (8.0x) |" in text
    assert "| peak RSS at 4 Mbit/s, the board's own (MB) | 40 | 32 (0.8x) |" in text


def test_help() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "ossmedia_cli", "bench", "camera", "--help"],
        capture_output=True, text=True, timeout=60, check=False, cwd=REPO,
    )  # fmt: skip
    assert run.returncode == 0
    assert "--seconds" in run.stdout
    text = " ".join(run.stdout.split())
    for status in ("0 every board ran", "1 a board failed", "2 bad arguments", "130", "143"):
        assert status in text
