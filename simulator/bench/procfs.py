"""What ``/proc`` says about a process the benchmarks measure: CPU time and resident memory."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

__all__ = ["process_cpu_s", "status_kib"]


def process_cpu_s(pid: int | None) -> float | None:
    """CPU seconds (user + system) a process has used so far; None where unknown (not Linux)."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            # The command name (field 2) may hold spaces; the fields after its ")" do not.
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def status_kib(pid: int, names: Iterable[str]) -> dict[str, int]:
    """The ``/proc/PID/status`` fields ``names`` (``VmRSS`` ...) in KiB; 0 for each one
    missing, or all of them once the process has exited."""
    values = dict.fromkeys(names, 0)
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name = line.split(":", 1)[0]
            if name in values:
                values[name] = int(line.split()[1])
    except OSError:
        pass  # the process just exited
    return values
