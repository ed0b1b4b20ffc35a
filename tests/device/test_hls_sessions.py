"""HLS session names: after the clock is corrected, and never shared between boots."""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

from device.agent.agent import Agent
from device.clock import AdjustedClock, ManualClock, SystemClock
from device.settings import AgentSettings
from device.spool import decode_object_put
from device.spool.chunkfile import decode_chunk
from schemas.keys import new_device_secret
from tests.device.agentkit import AgentRun, wait_until
from tests.device.stack import Stack

HOUR_MS = 3_600_000
_SESSION = re.compile(r"^videos/[^/]+/hls/(\d{8}T\d{9}Z-[0-9a-f]{6})\.m3u8$")


def _hls(stack: Stack, device_id: str, spool: Path) -> AgentSettings:
    return stack.agent_settings(
        device_id,
        spool,
        source={"kind": "pattern", "duration_s": 1.0},
        output={"format": "hls", "mode": "vod", "target_duration_s": 0.5},
    )


def _sessions(stack: Stack, device_id: str) -> list[str]:
    keys = [key for key, _ in stack.objects(f"videos/{device_id}/") if key.endswith(".m3u8")]
    return [m.group(1) for key in keys if (m := _SESSION.match(key))]


def test_session_is_named_by_the_corrected_clock(stack: Stack, tmp_path: Path) -> None:
    settings = _hls(stack, "cam-0301", tmp_path / "spool")
    agent = Agent(settings, clock=AdjustedClock(SystemClock(), offset_ms=HOUR_MS))  # 1 h ahead
    assert AgentRun(agent).join() == 0
    (session,) = _sessions(stack, "cam-0301")
    named = time.mktime(time.strptime(session[:15], "%Y%m%dT%H%M%S")) - time.timezone
    assert abs(named - time.time()) < 120, session  # not an hour ahead


def test_boots_at_the_same_clock_time_get_different_sessions(tmp_path: Path) -> None:
    # A camera without a real-time clock boots to the same time, and the responder is out
    # of reach (no broker), so the name cannot wait for a corrected clock.
    settings = AgentSettings.model_validate(
        {
            "device_id": "cam-0302",
            "secret": new_device_secret(),
            "broker": {"url": f"mqtt://127.0.0.1:{free_port()}"},
            "credentials": {"request_timeout_s": 0.3},
            "spool": {"dir": str(tmp_path / "spool")},
            "source": {"kind": "pattern", "duration_s": 0.5},
            "output": {"format": "hls", "mode": "vod", "target_duration_s": 0.5},
        }
    )
    for _ in range(2):
        agent = Agent(settings, clock=_Running(ManualClock(wall_ms=1_700_000_000_000)))
        agent.start()
        wait_until(agent.recorder.finished.is_set, what="end of recording")
        agent.stop()
        agent.run()
    names = _spooled_names(tmp_path / "spool")
    sessions = {name.split("/")[1].removesuffix(".m3u8") for name in names}
    assert len(sessions) == 2, names
    assert all(session.startswith("20231114T221320000Z-") for session in sessions)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _spooled_names(spool_dir: Path) -> list[str]:
    names = []
    for path in sorted((spool_dir / "chunks").glob("*.chunk")):
        chunk = decode_chunk(path.read_bytes())
        if chunk.whole_object:
            names.append(decode_object_put(chunk.data).name)
    return names


class _Running:
    """Wall time fixed at boot (no RTC), monotonic time and sleep real."""

    def __init__(self, boot: ManualClock) -> None:
        self._boot = boot
        self._system = SystemClock()

    def wall_ms(self) -> int:
        return self._boot.wall_ms()

    def monotonic(self) -> float:
        return self._system.monotonic()

    def sleep(self, seconds: float) -> None:
        self._system.sleep(seconds)
