"""The lifeline ends the children of a command killed with SIGKILL and removes its work
directories; a clean end leaves nothing either."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from simulator.lifetime import child_process_group, running_lifeline, tied, workdir
from simulator.lifetime.lifeline import group_members

# A command in miniature: a lifeline, a child started in its group (a TERM-ignoring shell, so
# the lifeline has to escalate to SIGKILL), a multiprocessing child, a work directory.
COMMAND = r"""
import json, multiprocessing, subprocess, sys, time
from simulator.lifetime import child_process_group, running_lifeline, tied, workdir

if __name__ == "__main__":
    with running_lifeline(grace_s=0.5) as lifeline, workdir("ossmedia-test-") as path:
        shell = subprocess.Popen(
            ["sh", "-c", "trap '' TERM; while :; do sleep 1; done"],
            process_group=child_process_group(),
        )
        spawned = multiprocessing.get_context("spawn").Process(
            target=tied(time.sleep), args=(300,), daemon=True
        )
        spawned.start()
        print(json.dumps({"lifeline": lifeline.pid, "children": [shell.pid, spawned.pid],
                          "workdir": str(path)}), flush=True)
        time.sleep(300)
"""


def _wait(condition: object, timeout_s: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def _ended(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_sigkill_of_the_command_ends_its_children_and_removes_its_workdir(
    tmp_path: Path,
) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-c", COMMAND], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        lifeline, children, path = info["lifeline"], info["children"], Path(info["workdir"])
        assert path.is_dir()
        assert _wait(lambda: set(children) <= set(group_members(lifeline)))

        proc.kill()
        proc.wait(10)

        assert _wait(lambda: all(_ended(pid) for pid in [lifeline, *children]))
        assert not path.exists()
    finally:
        proc.kill()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_without_a_lifeline_children_are_started_as_before() -> None:
    assert child_process_group() is None
    assert tied(print) is print


def test_a_clean_end_leaves_no_lifeline_and_no_member(tmp_path: Path) -> None:
    with running_lifeline(grace_s=0.5) as lifeline:
        assert child_process_group() == lifeline.pgid
        child = subprocess.Popen(["sleep", "60"], process_group=child_process_group())
        spawned = multiprocessing.get_context("spawn").Process(
            target=tied(time.sleep), args=(60,), daemon=True
        )
        spawned.start()
        assert _wait(lambda: len(group_members(lifeline.pgid, exclude=lifeline.pid)) == 2)
        with workdir("ossmedia-test-", root=tmp_path) as path:
            assert path.is_dir()
    # The command forgot to stop its children: closing the lifeline ends them.
    assert child.wait(10) == -signal.SIGTERM
    spawned.join(10)
    assert spawned.exitcode is not None
    assert _ended(lifeline.pid)
    assert child_process_group() is None
