"""A small file system for the spool: a real tmpfs mount (the test process must be root)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def small_tmpfs(path: Path, size: str = "8m") -> Iterator[Path]:
    """Mount a tmpfs of ``size`` on ``path`` for the duration of the block."""
    assert os.geteuid() == 0, "mounting a small tmpfs for the spool needs root"
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size},mode=0700"
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


def remount_read_only(path: Path) -> None:
    """Make the tmpfs mounted on ``path`` read-only (as a failing SD card is remounted)."""
    subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True)
