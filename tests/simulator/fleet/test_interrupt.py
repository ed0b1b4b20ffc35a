"""Ctrl-C to the whole process group of ``ossmedia fleet --processes 2``.

The terminal sends SIGINT to every process of the group: the camera processes must leave it to
the parent (no KeyboardInterrupt tracebacks), the recording ends, the cameras drain, and the
report covers what was recorded, with the real duration.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path


def test_ctrl_c_to_the_group_reports_what_was_run(tmp_path: Path) -> None:
    report_path = tmp_path / "r.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, ossmedia_cli; sys.exit(ossmedia_cli.main(sys.argv[1:]))",
            "fleet",
            "--cameras",
            "2",
            "--processes",
            "2",
            "--duration",
            "60",
            "--drain",
            "20",
            "--bitrate",
            "64000",
            "--chunk",
            "4096",
            "--report",
            str(report_path),
            "--workdir",
            str(tmp_path / "w"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal gives it
        env=os.environ.copy(),
    )
    assert proc.stderr is not None
    err: list[str] = []
    stored = threading.Event()

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            err.append(line)
            if "online 2/2" in line and "stored     0.00 MB" not in line:
                stored.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert stored.wait(90), "".join(err)
        started = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    reader.join(5)
    errors = "".join(err)
    assert "KeyboardInterrupt" not in errors, errors
    assert "Traceback" not in errors, errors
    assert proc.returncode == 0, out + errors
    report = json.loads(report_path.read_text())
    assert report["ok"] is True
    assert report["interrupted"] is True
    assert report["cameras_audited"] == 2
    assert report["produced_bytes"] > 0
    assert report["stored_bytes"] == report["ok_bytes"] == report["produced_bytes"]
    assert 0 < report["duration_s"] < 60
    assert time.monotonic() - started < 60
