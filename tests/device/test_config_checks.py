"""Configuration mistakes a camera integrator makes, and the messages they get."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from device.agent.agent import Agent
from device.agent.cli import configure_logging
from device.agent.config import parse_settings
from device.errors import ConfigError, SpoolError
from device.mqtt import MqttLink
from device.settings import BrokerSettings
from tests.device.agentkit import wait_until

SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I"
REPO = Path(__file__).resolve().parents[2]


def _config(**sections: Any) -> dict[str, Any]:
    return {"device_id": "cam-0001", "secret": SECRET, **sections}


@pytest.mark.parametrize("url", ["mqtt://127.0.0.1:99999", "mqtt://127.0.0.1:0", "mqtt://h:x"])
def test_bad_broker_port_is_refused_at_load(url: str) -> None:
    with pytest.raises(ConfigError, match=r"broker\.url: broker url port must be a number"):
        parse_settings(_config(broker={"url": url}))


def test_bad_broker_port_exits_2_from_the_command_line(tmp_path: Path) -> None:
    config = tmp_path / "camera.toml"
    config.write_text(f'device_id = "cam-0001"\nsecret = "{SECRET}"\n'
                      '[broker]\nurl = "mqtt://127.0.0.1:99999"\n')  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "ossmedia_cli", "camera", "--config", str(config)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "port must be a number from 1 to 65535" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_connect_error_never_stops_the_retry_loop(caplog: pytest.LogCaptureFixture) -> None:
    # Past validation (a settings object built in code): the link must keep trying and say why.
    settings = BrokerSettings.model_construct(
        **{**BrokerSettings().model_dump(), "url": "mqtt://127.0.0.1:99999",
           "reconnect_initial_s": 0.01, "reconnect_max_s": 0.02}
    )  # fmt: skip
    link = MqttLink(settings, client_id="cam-0001")
    with caplog.at_level(logging.WARNING, logger="device.mqtt.link"):
        link.start()
        try:
            wait_until(lambda: link.connect_attempts >= 5, timeout=20, what="retries")
        finally:
            link.stop()
    assert link.last_error is not None
    assert "Port out of range" in link.last_error
    assert "MQTT connect to mqtt://127.0.0.1:99999 failed" in caplog.text


def test_protocol_5_may_be_an_integer() -> None:
    assert parse_settings(_config(broker={"protocol": 5})).broker.protocol == "5"
    with pytest.raises(ConfigError, match=r"broker\.protocol"):
        parse_settings(_config(broker={"protocol": 4}))


def test_hls_with_a_directory_source_names_the_settings() -> None:
    data = _config(source={"kind": "directory", "path": "/tmp"}, output={"format": "hls"})
    with pytest.raises(ConfigError) as info:
        parse_settings(data)
    message = str(info.value)
    assert "source.kind" in message
    assert "output.format" in message
    assert ": :" not in message
    assert "Value error" not in message


def test_a_missing_spool_directory_can_be_required(tmp_path: Path) -> None:
    missing = tmp_path / "sdcard" / "spool"
    settings = parse_settings(_config(spool={"dir": str(missing), "must_exist": True}))
    with pytest.raises(SpoolError, match="does not exist") as info:
        Agent(settings)
    assert str(missing) in str(info.value)
    assert not missing.parent.exists()  # nothing created on the root file system


def test_oss2_is_quiet_below_warning() -> None:
    oss2_log = logging.getLogger("oss2")
    before = oss2_log.level
    try:
        configure_logging("INFO")
        assert not oss2_log.isEnabledFor(logging.INFO)
        assert oss2_log.isEnabledFor(logging.WARNING)
    finally:
        oss2_log.setLevel(before)
