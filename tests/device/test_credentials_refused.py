"""A camera whose secret is wrong, or whose id the registry does not know.

The responder cannot verify such a camera's requests, so it cannot sign a reply the camera
can verify either: the camera must say what is likely wrong, report it and slow down,
instead of looping quietly while its status says all is well.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest

from device.agent.agent import Agent
from schemas.events import StatusAlert
from schemas.keys import new_device_secret
from tests.device.agentkit import Watcher, wait_until
from tests.device.stack import Stack
from tests.fixtures.broker import MqttProbeFactory


@pytest.mark.parametrize("case", ["wrong_secret", "unknown_device"])
def test_unverifiable_refusals_are_reported(
    stack: Stack,
    tmp_path: Path,
    mqtt_client_factory: MqttProbeFactory,
    caplog: pytest.LogCaptureFixture,
    case: str,
) -> None:
    device_id = f"cam-{case.replace('_', '-')}"
    if case == "wrong_secret":
        stack.provision(device_id)  # the registry holds another secret
    secret = new_device_secret()
    settings = stack.agent_settings(
        device_id,
        tmp_path / "spool",
        secret=secret,
        credentials={"request_timeout_s": 2.0, "retry_initial_s": 0.05, "retry_max_s": 0.5},
        source={"duration_s": 30.0, "bitrate_bps": 200_000},
    )
    probe = mqtt_client_factory(stack.broker)
    probe.connect()
    watcher = Watcher(probe, device_id, secret)  # the camera's own (wrong) key signs its status
    agent = Agent(settings)
    with caplog.at_level(logging.ERROR, logger="device.credentials"):
        exit_code: list[int] = []
        thread = threading.Thread(target=lambda: exit_code.append(agent.run()), daemon=True)
        thread.start()
        try:
            wait_until(
                lambda: any(
                    StatusAlert.CREDENTIALS_REFUSED in s.alerts
                    for s in watcher.statuses()
                    if s.sig is not None
                ),
                timeout=30,
                what="credentials_refused in the status",
            )
        finally:
            agent.stop()
            thread.join(30)
    assert exit_code == [0]  # it kept spooling, and a clean stop is still clean
    assert agent.credentials.refused
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1, errors  # once, not once per attempt
    assert "secret is most likely wrong" in errors[0]
    assert device_id in errors[0]
    assert agent.spool.stats().bytes > 0  # the recording waits in the spool
