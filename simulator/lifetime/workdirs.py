"""Work directories that say who owns them, so a dead run's directory can be told apart.

A command makes its scratch directory with :func:`owned_workdir`: a fresh directory under
the system's temporary directory (or ``/dev/shm``) holding an owner mark, the PID and start
time of the process that made it. On a clean end the command removes it; when the command
was killed outright, its lifeline (:mod:`simulator.lifetime.lifeline`) removes it, and
should that have been killed too, the next command's :func:`sweep_stale` does, because the
mark names a process that no longer exists. A directory without a mark is never touched:
it may belong to a run that has just made it, or to something else entirely.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "OWNER_FILE",
    "Owner",
    "owned_workdir",
    "remove_tree",
    "scratch_roots",
    "stale_workdirs",
    "sweep_stale",
]

OWNER_FILE = ".ossmedia-owner"
NAME_PREFIX = "ossmedia-"
_SHM = Path("/dev/shm")  # noqa: S108 - only private directories (mkdtemp) are made inside it


@dataclass(frozen=True)
class Owner:
    """The process that owns a work directory.

    Attributes:
        pid: its process id.
        started: its start time in clock ticks since boot (``/proc/PID/stat``), which tells
            a reused PID apart; ``None`` where ``/proc`` is not available.
    """

    pid: int
    started: int | None

    @classmethod
    def this_process(cls) -> Owner:
        """The calling process."""
        pid = os.getpid()
        return cls(pid, process_start_ticks(pid))

    def alive(self) -> bool:
        """Whether the owner still runs (the same process, not a reuse of its PID)."""
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # someone else's process: it exists
        if self.started is None:
            return True
        return process_start_ticks(self.pid) == self.started

    def to_json(self) -> str:
        """The owner mark's contents."""
        return json.dumps({"pid": self.pid, "started": self.started})

    @classmethod
    def from_json(cls, text: str) -> Owner | None:
        """Read an owner mark; ``None`` when it is not one (unreadable, truncated ...)."""
        try:
            data = json.loads(text)
            pid, started = data["pid"], data["started"]
        except (ValueError, KeyError, TypeError):
            return None
        if not isinstance(pid, int) or pid <= 0:
            return None
        if started is not None and not isinstance(started, int):
            return None
        return cls(pid, started)


def process_start_ticks(pid: int) -> int | None:
    """When process ``pid`` started, in clock ticks since boot; ``None`` where unknown."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            # The command name (field 2) may hold spaces; the fields after its ")" do not.
            return int(stat.read().rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def scratch_roots() -> tuple[Path, ...]:
    """Where work directories are made: the temporary directory and, on Linux, ``/dev/shm``."""
    roots = [Path(tempfile.gettempdir())]
    if _SHM.is_dir() and os.access(_SHM, os.W_OK) and _SHM not in roots:
        roots.append(_SHM)
    return tuple(roots)


def read_owner(path: Path) -> Owner | None:
    """The owner mark of work directory ``path`` (``None``: no readable mark)."""
    try:
        text = (path / OWNER_FILE).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return Owner.from_json(text)


def stale_workdirs(roots: tuple[Path, ...] | None = None) -> list[Path]:
    """Work directories under ``roots`` whose owner mark names a process that has ended."""
    stale = []
    for root in roots if roots is not None else scratch_roots():
        try:
            entries = list(root.iterdir())
        except OSError:
            continue
        for entry in entries:
            if not entry.name.startswith(NAME_PREFIX) or entry.is_symlink() or not entry.is_dir():
                continue
            owner = read_owner(entry)
            if owner is not None and not owner.alive():
                stale.append(entry)
    return stale


def remove_tree(path: Path) -> bool:
    """Remove a directory tree even while a dying writer still adds files; True when gone."""
    for _ in range(5):
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            return True
    return not path.exists()


def sweep_stale(roots: tuple[Path, ...] | None = None) -> list[Path]:
    """Remove the work directories of runs that ended without removing them.

    Args:
        roots: where to look (default: :func:`scratch_roots`).

    Returns:
        The directories removed.
    """
    return [path for path in stale_workdirs(roots) if remove_tree(path)]


@contextlib.contextmanager
def owned_workdir(
    prefix: str,
    *,
    root: str | Path | None = None,
    on_create: Callable[[Path], None] | None = None,
    on_remove: Callable[[Path], None] | None = None,
) -> Iterator[Path]:
    """Make a fresh marked work directory, yield it, and remove it at the end.

    Stale directories of dead runs are swept first (from every scratch root and ``root``).

    Args:
        prefix: the directory name's start; must begin with ``ossmedia-``.
        root: where to make it (default: the system's temporary directory).
        on_create: told the new directory (a lifeline registers it there).
        on_remove: told once it is removed.

    Yields:
        The directory.
    """
    if not prefix.startswith(NAME_PREFIX):
        raise ValueError(f"a work directory's name must start with {NAME_PREFIX!r}")
    roots = scratch_roots()
    if root is not None and Path(root) not in roots:
        roots = (*roots, Path(root))
    sweep_stale(roots)
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=root))
    (path / OWNER_FILE).write_text(Owner.this_process().to_json(), encoding="utf-8")
    if on_create is not None:
        on_create(path)
    try:
        yield path
    finally:
        remove_tree(path)
        if on_remove is not None:
            on_remove(path)
