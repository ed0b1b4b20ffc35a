"""``camera.toml`` loading and the ``ossmedia camera`` command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from device.agent.config import load_settings
from device.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I"


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_loads_toml_and_resolves_relative_paths(tmp_path: Path) -> None:
    config = write(
        tmp_path / "camera.toml",
        f"""
device_id = "cam-0001"
secret = "{SECRET}"
[broker]
url = "mqtts://broker.example.com"
ca_file = "tls/ca.pem"
username = "cam-0001"
password = "pw"
[spool]
dir = "spool"
max_bytes = 1_000_000
policy = "reject_new"
[upload]
rollover_s = 300
[source]
kind = "directory"
path = "/var/segments"
""",
    )
    settings = load_settings(config)
    assert settings.broker.port == 8883
    assert settings.broker.tls
    assert settings.broker.ca_file == tmp_path / "tls" / "ca.pem"
    assert settings.spool.dir == tmp_path / "spool"
    assert settings.source.path == Path("/var/segments")
    assert settings.upload.rollover_s == 300
    assert settings.upload.max_object_bytes < 5 * 1024**3


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('device_id = "cam-1"\nsecret = "x"\nbogus = 1\n', "bogus"),
        ('device_id = "cam 1"\nsecret = "x"\n', "device_id"),
        ('device_id = "cam-1"\nsecret = "x"\n[spool]\npolicy = "keep_all"\n', "policy"),
        ('device_id = "cam-1"\nsecret = "x"\n[broker]\ncert_file = "c.pem"\n', "mutual TLS"),
        ('device_id = "cam-1"\nsecret = "x"\n[source]\nkind = "file"\n', "needs a path"),
        ("device_id = [", "not valid TOML"),
    ],
)
def test_invalid_configuration_is_a_config_error(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path / "camera.toml", text))
    assert needle in str(info.value)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_settings(tmp_path / "absent.toml")


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ossmedia_cli", "camera", *args],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_help() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    assert "--config" in result.stdout
    assert "camera.toml" in result.stdout


def test_bad_config_exits_2_without_a_traceback(tmp_path: Path) -> None:
    config = write(tmp_path / "camera.toml", f'device_id = "cam-1"\nsecret = "{SECRET}"\nx = 1\n')
    result = run_cli("--config", str(config))
    assert result.returncode == 2
    assert "invalid camera configuration" in result.stderr
    assert "Traceback" not in result.stderr
    assert SECRET not in result.stderr


def test_bad_secret_exits_2(tmp_path: Path) -> None:
    config = write(
        tmp_path / "camera.toml",
        f'device_id = "cam-1"\nsecret = "short"\n[spool]\ndir = "{tmp_path / "spool"}"\n',
    )
    result = run_cli("--config", str(config))
    assert result.returncode == 2
    assert "secret" in result.stderr
