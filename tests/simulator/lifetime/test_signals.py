"""SIGINT and SIGTERM: the first sets the stop event, the second skips the drain."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from simulator.lifetime import DrainSkipped, Shutdown, shutdown_signals


def test_first_signal_stops_second_skips_the_drain() -> None:
    said: list[str] = []
    shutdown = Shutdown("ossmedia test", write=said.append)
    assert not shutdown.requested

    shutdown.deliver(signal.SIGTERM)

    assert shutdown.stop.is_set()
    assert shutdown.requested
    assert shutdown.signal_name == "SIGTERM"
    with pytest.raises(DrainSkipped) as skipped:
        shutdown.deliver(signal.SIGINT)
    assert skipped.value.signum == signal.SIGINT
    assert shutdown.signal_name == "SIGTERM"  # the first one is what stopped the run
    assert "send it again" in said[0]
    assert "skipping" in said[1]


def test_handlers_are_installed_for_the_block_and_restored_after() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with shutdown_signals("ossmedia test") as shutdown:
        os.kill(os.getpid(), signal.SIGTERM)
        assert shutdown.stop.wait(10)
        with pytest.raises(DrainSkipped):
            os.kill(os.getpid(), signal.SIGINT)  # the handler runs as the call returns
    assert signal.getsignal(signal.SIGTERM) is before


def test_third_signal_exits_at_once() -> None:
    script = (
        "import os, signal, time\n"
        "from simulator.lifetime import DrainSkipped, shutdown_signals\n"
        "with shutdown_signals('ossmedia test'):\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    try:\n"
        "        os.kill(os.getpid(), signal.SIGTERM)\n"
        "        time.sleep(5)\n"
        "    except DrainSkipped:\n"
        "        os.kill(os.getpid(), signal.SIGINT)\n"
        "        time.sleep(30)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 128 + signal.SIGINT, done.stderr
    assert "a third time" in done.stderr
