"""Run an ``ossmedia`` command as a real subprocess, signal it, and check what it left behind.

:class:`Command` records the process tree once the command serves, so a test can assert
that every process it started has ended, and finds the command's work directories by their
owner marks.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

from simulator.lifetime.workdirs import Owner, read_owner, scratch_roots

WAIT_S = 120.0  # generous: a loaded machine starts a fleet slowly; only a failure waits this long


class Command:
    """``python -m ossmedia_cli ARGV...`` in a session of its own, its output collected."""

    def __init__(self, *argv: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ossmedia_cli", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.out), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.err), daemon=True),
        ]
        for reader in self._readers:
            reader.start()
        self.tree: list[psutil.Process] = []

    @staticmethod
    def _read(stream: object, lines: list[str]) -> None:
        for line in stream:  # type: ignore[attr-defined]
            lines.append(line)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return "".join(self.out) + "".join(self.err)

    def wait_for(self, text: str, timeout_s: float = WAIT_S) -> None:
        """Wait until ``text`` appears on stderr or stdout; fail if the command ends first."""
        deadline = time.monotonic() + timeout_s
        while text not in self.output():
            if self.proc.poll() is not None:
                time.sleep(0.2)  # let the readers catch up
                assert text in self.output(), f"ended ({self.proc.returncode}):\n{self.output()}"
                return
            assert time.monotonic() < deadline, f"no {text!r} in time:\n{self.output()}"
            time.sleep(0.1)

    def record_tree(self) -> list[psutil.Process]:
        """Every process the command has started so far (children of children included)."""
        self.tree = psutil.Process(self.pid).children(recursive=True)
        return self.tree

    def workdirs(self) -> list[Path]:
        """The work directories whose owner mark names this command."""
        found = []
        for root in scratch_roots():
            for entry in root.glob("ossmedia-*"):
                owner = read_owner(entry)
                if owner is not None and owner.pid == self.pid:
                    found.append(entry)
        return found

    def signal(self, signum: signal.Signals) -> None:
        self.proc.send_signal(signum)

    def wait(self, timeout_s: float = WAIT_S) -> int:
        code = self.proc.wait(timeout_s)
        for reader in self._readers:
            reader.join(10)
        return code

    def survivors(self, timeout_s: float = 10.0) -> list[psutil.Process]:
        """The recorded processes still running after ``timeout_s`` (zombies count as ended)."""
        deadline = time.monotonic() + timeout_s
        while True:
            alive = [p for p in self.tree if _running(p)]
            if not alive or time.monotonic() > deadline:
                return alive
            time.sleep(0.1)

    def close(self) -> None:
        """Teardown: whatever a failed test left running is killed here."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        for proc in self.tree:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


def _running(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_gone(paths: list[Path], timeout_s: float = 10.0) -> list[Path]:
    """The paths that still exist after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while any(p.exists() for p in paths) and time.monotonic() < deadline:
        time.sleep(0.1)
    return [p for p in paths if p.exists()]


def stale_workdir(root: Path, prefix: str) -> Path:
    """A work directory left by a run that was killed: its owner mark names a dead process.

    A real process makes it with :func:`simulator.lifetime.owned_workdir` and is killed with
    SIGKILL inside the block, so nothing of it removes the directory.
    """
    script = (
        "import sys, time\n"
        "from simulator.lifetime import owned_workdir\n"
        f"with owned_workdir({prefix!r}, root={str(root)!r}) as path:\n"
        "    print(path, flush=True)\n"
        "    time.sleep(120)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    path = Path(proc.stdout.readline().strip())
    proc.kill()
    proc.wait(10)
    proc.stdout.close()
    owner = read_owner(path)
    assert owner is not None
    assert owner.pid == proc.pid
    assert not Owner(owner.pid, owner.started).alive()
    return path
