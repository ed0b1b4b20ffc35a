"""Owner-marked work directories and the sweep of those whose owner has ended."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from simulator.lifetime.workdirs import (
    OWNER_FILE,
    Owner,
    owned_workdir,
    process_start_ticks,
    read_owner,
    stale_workdirs,
    sweep_stale,
)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(30)
    return proc.pid


def _marked(root: Path, name: str, owner: Owner) -> Path:
    path = root / name
    path.mkdir()
    (path / OWNER_FILE).write_text(owner.to_json())
    return path


def test_owned_workdir_is_marked_with_this_process_and_removed_at_the_end(
    tmp_path: Path,
) -> None:
    created: list[Path] = []
    removed: list[Path] = []
    with owned_workdir(
        "ossmedia-test-", root=tmp_path, on_create=created.append, on_remove=removed.append
    ) as path:
        assert path.parent == tmp_path
        assert path.name.startswith("ossmedia-test-")
        assert read_owner(path) == Owner(os.getpid(), process_start_ticks(os.getpid()))
        (path / "spool").mkdir()
        (path / "spool" / "chunk").write_bytes(b"x")
        assert created == [path]
    assert not path.exists()
    assert removed == [path]


def test_sweep_removes_only_marked_directories_of_ended_owners(tmp_path: Path) -> None:
    me = Owner.this_process()
    dead = _marked(tmp_path, "ossmedia-fleet-dead", Owner(_dead_pid(), None))
    alive = _marked(tmp_path, "ossmedia-fleet-alive", me)
    # The PID is alive but it is another process now: the start time differs.
    reused = _marked(tmp_path, "ossmedia-demo-reused", Owner(me.pid, (me.started or 0) + 1))
    unmarked = tmp_path / "ossmedia-fleet-unmarked"
    unmarked.mkdir()
    garbled = tmp_path / "ossmedia-fleet-garbled"
    garbled.mkdir()
    (garbled / OWNER_FILE).write_text("{not json")
    foreign = _marked(tmp_path, "other-dead", Owner(_dead_pid(), None))

    assert sorted(stale_workdirs((tmp_path,))) == sorted([dead, reused])
    assert sorted(sweep_stale((tmp_path,))) == sorted([dead, reused])

    assert not dead.exists()
    assert not reused.exists()
    for kept in (alive, unmarked, garbled, foreign):
        assert kept.exists()


def test_a_new_work_directory_sweeps_its_root_first(tmp_path: Path) -> None:
    dead = _marked(tmp_path, "ossmedia-fleet-old", Owner(_dead_pid(), None))
    with owned_workdir("ossmedia-fleet-", root=tmp_path):
        assert not dead.exists()


def test_owner_marks_that_are_not_marks_are_refused() -> None:
    assert Owner.from_json('{"pid": 0, "started": 1}') is None
    assert Owner.from_json('{"pid": "12", "started": 1}') is None
    assert Owner.from_json('{"pid": 12, "started": "1"}') is None
    assert Owner.from_json("[]") is None
    assert Owner.from_json('{"pid": 12, "started": null}') == Owner(12, None)
