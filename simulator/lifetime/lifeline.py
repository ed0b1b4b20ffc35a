"""The lifeline: children of a command end with it, even when it is killed outright.

A command that starts child processes (Mosquitto, an emulator, camera processes ...) first
starts a lifeline, a small watcher process in a process group of its own, connected to the
command by a pipe only the command holds. Children join that group, either when they are
started (``Popen(process_group=child_process_group())``) or as their first act (the
multiprocessing entry points wrapped by :func:`tied`). When the command ends in any way,
SIGKILL included, the kernel closes the pipe; the lifeline reads end-of-file, sends SIGTERM
to the group, SIGKILL after a grace period to whatever is left, removes the work directories
the command registered, and exits.

Why not ``PR_SET_PDEATHSIG`` on each child: Linux sends it when the *thread* that started the
child ends, not the process (a broker restarted by a chaos thread would die with that thread),
and setting it needs a ``preexec_fn``, which is unsafe in a process that runs threads. A
separate group also keeps a terminal's Ctrl-C away from the children, so the command decides
the order they stop in (cameras drain before the broker goes).

Run as ``python -m simulator.lifetime`` by :meth:`Lifeline.start`; its standard
input is the pipe, one line per message: ``hold PATH`` or ``release PATH``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from simulator.lifetime.workdirs import remove_tree

__all__ = [
    "Lifeline",
    "active_lifeline",
    "child_process_group",
    "group_members",
    "join_group",
    "running_lifeline",
    "tied",
]

GRACE_S = 3.0
_POLL_S = 0.05
_START_TIMEOUT_S = 30.0
_READY = b"ready\n"
_PROC = Path("/proc")

_active: Lifeline | None = None


class Lifeline:
    """The command's side of a running lifeline.

    Args:
        process: the lifeline process (the leader of the children's process group).
        pipe: the write end of its pipe; only this process holds it.
    """

    def __init__(self, process: subprocess.Popen[bytes], pipe: int) -> None:
        self._process = process
        self._pipe: int | None = pipe

    @classmethod
    def start(cls, *, grace_s: float = GRACE_S) -> Lifeline:
        """Start a lifeline process and wait until it watches.

        Args:
            grace_s: after the command ends, how long children have between SIGTERM and
                SIGKILL.

        Raises:
            OSError: the process could not be started or did not answer.
        """
        read_end, write_end = os.pipe()  # both close-on-exec: no other child inherits them
        command = [sys.executable, "-m", "simulator.lifetime", "--grace", str(grace_s)]
        try:
            process = subprocess.Popen(  # noqa: S603 - this interpreter, our own module
                command,
                stdin=read_end,
                stdout=subprocess.PIPE,
                process_group=0,
            )
        finally:
            os.close(read_end)
        assert process.stdout is not None  # noqa: S101 - Popen was asked for a pipe
        answer = process.stdout.readline()
        process.stdout.close()
        if answer != _READY:
            os.close(write_end)
            process.kill()
            process.wait()
            raise OSError(f"the lifeline process did not start (exit status {process.poll()})")
        return cls(process, write_end)

    @property
    def pgid(self) -> int:
        """The process group children join (the lifeline's own)."""
        return self._process.pid

    @property
    def pid(self) -> int:
        """The lifeline's process id."""
        return self._process.pid

    def hold(self, path: Path) -> None:
        """Have the lifeline remove ``path`` should this process end without doing so."""
        self._send(f"hold {path}")

    def release(self, path: Path) -> None:
        """This process removed ``path`` itself."""
        self._send(f"release {path}")

    def _send(self, line: str) -> None:
        if self._pipe is None or "\n" in line:
            return
        with contextlib.suppress(OSError):
            os.write(self._pipe, (line + "\n").encode())

    def close(self, timeout_s: float = 15.0) -> None:
        """End the lifeline: it stops what is left of the group, then exits. Idempotent.

        Args:
            timeout_s: how long to wait for it; it is killed after that.
        """
        if self._pipe is not None:
            os.close(self._pipe)
            self._pipe = None
        try:
            self._process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


@contextlib.contextmanager
def running_lifeline(*, grace_s: float = GRACE_S) -> Iterator[Lifeline]:
    """Start a lifeline, make it the one children join, and close it at the end."""
    global _active
    lifeline = Lifeline.start(grace_s=grace_s)
    previous, _active = _active, lifeline
    try:
        yield lifeline
    finally:
        _active = previous
        lifeline.close()


def active_lifeline() -> Lifeline | None:
    """The lifeline of this process, if the command started one.

    A process-wide value on purpose: a process group is process-wide state, and every
    place that starts a child (however deep) must put it into the same group.
    """
    return _active


def child_process_group() -> int | None:
    """``process_group`` for ``subprocess.Popen``: the lifeline's group, or ``None``."""
    return _active.pgid if _active is not None else None


def join_group(pgid: int | None, parent: int) -> None:
    """First act of a child started without a group: join the lifeline's group.

    Exits at once when the parent is already gone (it died before the child joined, so the
    lifeline may have swept the group already).

    Args:
        pgid: the lifeline's group (``None``: no lifeline, nothing to do).
        parent: the PID of the process that started this child.
    """
    if pgid is None:
        return
    try:
        os.setpgid(0, pgid)
    except OSError:
        os._exit(1)  # the group is gone: the lifeline ended, so the command did
    if os.getppid() != parent:
        os._exit(1)


class _Tied:
    """A picklable entry point that joins the lifeline's group, then runs the target."""

    def __init__(self, target: Callable[..., Any], pgid: int, parent: int) -> None:
        self.target = target
        self.pgid = pgid
        self.parent = parent

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        join_group(self.pgid, self.parent)
        return self.target(*args, **kwargs)


def tied(target: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a ``multiprocessing.Process`` target so the child joins the lifeline's group.

    Returns the target unchanged when there is no lifeline.
    """
    if _active is None:
        return target
    return _Tied(target, _active.pgid, os.getpid())


def group_members(pgid: int, *, exclude: int | None = None) -> list[int]:
    """Live (not zombie) processes of process group ``pgid``, read from ``/proc``.

    Returns an empty list where ``/proc`` cannot be read.
    """
    members = []
    try:
        entries = list(_PROC.iterdir())
    except OSError:
        return []
    for entry in entries:
        if not entry.name.isdigit() or int(entry.name) == exclude:
            continue
        try:
            fields = (entry / "stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members.append(int(entry.name))
    return members


def end_group(pgid: int, grace_s: float, *, sleep: Callable[[float], None] = time.sleep) -> None:
    """SIGTERM to the group (this process ignores it), SIGKILL to those left after ``grace_s``.

    Where ``/proc`` cannot be read the members cannot be seen: the whole grace period is
    waited, and the group, this process included, gets SIGKILL from :func:`main` at its end.
    """
    me = os.getpid()
    with contextlib.suppress(OSError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and (not _PROC.is_dir() or group_members(pgid, exclude=me)):
        sleep(_POLL_S)
    for pid in group_members(pgid, exclude=me):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def main(argv: list[str]) -> int:
    """The lifeline process: watch standard input until end-of-file, then clean up."""
    grace_s = float(argv[argv.index("--grace") + 1]) if "--grace" in argv else GRACE_S
    # The group gets SIGTERM from this process, and a terminal's signals are not for it.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    held: set[str] = set()
    sys.stdout.buffer.write(_READY)
    sys.stdout.flush()
    for raw in sys.stdin.buffer:
        verb, _, path = raw.decode("utf-8", "replace").rstrip("\n").partition(" ")
        if verb == "hold":
            held.add(path)
        elif verb == "release":
            held.discard(path)
    pgid = os.getpgid(0)
    end_group(pgid, grace_s)
    for path in sorted(held):
        remove_tree(Path(path))
    if not _PROC.is_dir():
        os.killpg(pgid, signal.SIGKILL)  # members unseen: end them all, this process last
    return 0
