"""The /proc readings the benchmarks share."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from simulator.bench.procfs import process_cpu_s, status_kib


def test_status_kib_reads_the_named_fields_and_zero_for_unknown_ones() -> None:
    own = Path(f"/proc/{os.getpid()}/status").read_text()
    rss = status_kib(os.getpid(), ("VmRSS", "NoSuchField"))
    match = re.search(r"^VmRSS:\s+(\d+) kB$", own, re.MULTILINE)
    assert match is not None
    assert rss["NoSuchField"] == 0
    # Resident memory moves a little between the two reads; the same order of magnitude.
    assert int(match.group(1)) // 2 < rss["VmRSS"] < int(match.group(1)) * 2


def test_an_exited_process_reads_as_zeros_and_unknown_cpu() -> None:
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    pid = int(child.stdout)
    assert status_kib(pid, ("VmRSS", "RssAnon")) == {"VmRSS": 0, "RssAnon": 0}
    assert process_cpu_s(pid) is None
    assert process_cpu_s(None) is None


def test_cpu_seconds_grow_with_work() -> None:
    before = process_cpu_s(os.getpid())
    assert before is not None
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:
        pass
    after = process_cpu_s(os.getpid())
    assert after is not None
    assert after - before >= 0.2
