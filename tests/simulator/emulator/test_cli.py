"""``ossmedia emulator`` as a user runs it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from simulator.emulator.cli import main
from simulator.emulator.handle import spawned_emulator

CONFIG_TOML = """
[[accounts]]
id = "1234567890123456"

[[accounts.access_keys]]
id = "LTAIconfiguredRoot01"
secret = "configured-secret"

[[accounts.roles]]
name = "uploader"
max_session_duration = 7200
policies = ['{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:PutObject","Resource":"acs:oss:*:*:media/*"}]}']

[[buckets]]
name = "media"
"""


def test_help_explains_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--host", "--port", "--data-dir", "--memory", "--fsync", "--config", "--sts-rate",
                   "--max-append-size", "--faults", "--admin-token", "--json"):  # fmt: skip
        assert option in out


def test_bad_files_and_flags_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("accounts = [")
    assert main(["--config", str(broken)]) == 2
    assert "broken.toml" in capsys.readouterr().err
    faults = tmp_path / "faults.json"
    faults.write_text(json.dumps({"rules": [{"error_rate": 3}]}))
    assert main(["--faults", str(faults)]) == 2
    with pytest.raises(SystemExit):
        main(["--fsync"])  # needs --data-dir
    with pytest.raises(SystemExit):
        main(["--memory", "--data-dir", str(tmp_path)])


def test_config_file_and_fixed_admin_token(tmp_path: Path) -> None:
    config = tmp_path / "emulator.toml"
    config.write_text(CONFIG_TOML)
    with spawned_emulator(
        "--config", str(config), "--admin-token", "let-me-in", "--quiet"
    ) as handle:
        assert handle.access_key_id == "LTAIconfiguredRoot01"
        assert handle.access_key_secret == "configured-secret"
        assert handle.role_arn == "acs:ram::1234567890123456:role/uploader"
        assert handle.bucket == "media"
        assert handle.admin_token == "let-me-in"
        assert handle.stats() == {"requests": {}, "faults": {}}


def test_durable_mode_keeps_generated_keys_and_sessions(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with spawned_emulator("--quiet", data_dir=data) as first:
        key, secret = first.access_key_id, first.access_key_secret
    assert (data / "emulator-config.json").exists()
    assert (data / "iam.json").exists()
    with spawned_emulator("--quiet", data_dir=data) as second:
        assert (second.access_key_id, second.access_key_secret) == (key, secret)
        assert second.admin_token != first.admin_token  # random per run unless given


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_readable_output_and_clean_stop(stop: signal.Signals) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "ossmedia_cli", "emulator", "--port", "0", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(10)]
        text = "".join(lines)
        assert "OSS endpoint" in text
        assert "access key secret" in text
        endpoint = next(line.split()[-1] for line in lines if line.startswith("OSS endpoint"))
        assert httpx.get(f"{endpoint}/__admin/health").status_code == 200
    finally:
        process.send_signal(stop)
        code = process.wait(timeout=15)
        if process.stdout is not None:
            process.stdout.close()
    assert code == 0


def test_port_in_use_exits_1(tmp_path: Path) -> None:
    with spawned_emulator("--quiet") as handle:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "ossmedia_cli",
                "emulator",
                "--port",
                str(handle.port),
                "--quiet",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert result.returncode == 1
    assert "cannot listen" in result.stderr


def test_faults_file_in_toml(tmp_path: Path) -> None:
    faults = tmp_path / "faults.toml"
    faults.write_text(
        'seed = 5\n[[rules]]\noperations = ["PutObject"]\nerror_rate = 1.0\nerror_status = 500\n'
    )
    with spawned_emulator("--faults", str(faults), "--quiet") as handle:
        reply = httpx.put(f"{handle.oss_endpoint}/ossmedia/k", content=b"x")
        assert reply.status_code == 500
        assert "<Code>InternalError</Code>" in reply.text
        assert handle.faults()["injected"] == {"PutObject": {"error": 1}}
