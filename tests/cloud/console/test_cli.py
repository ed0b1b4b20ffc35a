"""``ossmedia console``: help, example configuration, password hashes, and a real run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import httpx
import pytest

from cloud.console import load_settings, verify_password
from cloud.console.cli import main
from cloud.console.errors import ConsoleConfigError
from cloud.registry import new_master_key
from simulator.emulator.handle import EmulatorHandle
from tests.cloud.console.conftest import PASSWORD_HASH

CLI = [sys.executable, "-m", "ossmedia_cli", "console"]


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "--config" in out
    assert "--example-config" in out


def test_example_config_is_valid_once_filled_in(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["--example-config"]) == 0
    text = capsys.readouterr().out
    tomllib.loads(text)  # it is TOML
    filled = text.replace('"scrypt$15$8$...$..."', f'"{PASSWORD_HASH}"')
    for name, value in (("console-session", "s" * 40), ("console-oss-secret", "oss-secret")):
        (tmp_path / name).write_text(value + "\n")
        filled = filled.replace(f"/etc/ossmedia/{name}", str(tmp_path / name))
    path = tmp_path / "console.toml"
    path.write_text(filled)
    settings = load_settings(path, {"OSSMEDIA_MASTER_KEY": new_master_key()})
    assert settings.operators[0].username == "admin"
    assert settings.oss.key_prefix_template == "videos/{device_id}/"
    assert settings.registry.master_key is not None
    assert settings.session.secret is not None
    assert settings.session.secret.get_secret_value() == "s" * 40
    # With the placeholder hash left in, it is refused, and the message says which field.
    path.write_text(filled.replace(PASSWORD_HASH, "scrypt$15$8$...$..."))
    with pytest.raises(ConsoleConfigError, match="password_hash"):
        load_settings(path, {})


def test_hash_password_from_stdin() -> None:
    done = subprocess.run(
        [*CLI, "--hash-password"], input="s3cret pass\n", capture_output=True, text=True, check=True
    )
    encoded = done.stdout.strip()
    assert verify_password("s3cret pass", encoded)
    assert not verify_password("other", encoded)


def test_missing_or_bad_config(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main([]) == 2
    assert "--config" in capsys.readouterr().err
    assert main(["--config", str(tmp_path / "nope.toml")]) == 2
    assert "cannot read" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[[operators]]\nusername = "a"\npassword_hash = "x"\n'
        '[oss]\nendpoint = "http://x"\nbucket = "b"\nregion = "r"\n'
        f'access_key_id = "k"\naccess_key_secret_file = "{tmp_path / "oss.secret"}"\n'
    )
    (tmp_path / "oss.secret").write_text("very-secret-value\n")
    assert main(["--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "password_hash" in err
    assert "very-secret-value" not in err


def test_runs_survives_sighup_and_stops_on_sigterm(
    console_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    config = _write_config(console_emulator, tmp_path, mqtt="enabled = false")
    env = {**os.environ, "OSSMEDIA_MASTER_KEY": new_master_key()}
    proc = subprocess.Popen(
        [*CLI, "--config", str(config), "--log-level", "WARNING"],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert "serving on http://127.0.0.1:" in line, line
        url = line.rsplit(" ", 1)[1].strip()
        reply = httpx.get(url + "/login", timeout=10)
        assert reply.status_code == 200
        assert httpx.get(url + "/api/cameras", timeout=10).status_code == 401
        # SIGHUP is logged and ignored: the console keeps serving.
        proc.send_signal(signal.SIGHUP)
        health = httpx.get(url + "/healthz", timeout=10)
        assert health.status_code == 200, health.text
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    assert (tmp_path / "ledger.db").exists()


def test_inline_placeholder_and_doubly_set_secrets_are_refused(tmp_path: Path) -> None:
    oss_secret = tmp_path / "oss-secret"
    oss_secret.write_text("from-file\n")
    base = f"""
[[operators]]
username = "admin"
password_hash = "{PASSWORD_HASH}"
[oss]
endpoint = "http://127.0.0.1:1"
bucket = "b-1"
region = "cn-hangzhou"
access_key_id = "k"
"""
    path = tmp_path / "console.toml"
    # Secrets written in console.toml itself are refused, as the responder refuses them.
    for table, line in (
        ("oss", 'access_key_secret = "inline-value-1"'),
        ("session", 'secret = "inline-value-2-' + "x" * 32 + '"'),
        ("mqtt", 'password = "inline-value-3"'),
        ("provisioning", 'provisioner_password = "inline-value-4"'),
        ("registry", 'master_key = "inline-value-5"'),
    ):
        key = line.split(" ")[0]
        oss = "" if table == "oss" else f'access_key_secret_file = "{oss_secret}"\n'
        extra = line + "\n" if table == "oss" else f"[{table}]\n{line}\n"
        path.write_text(base + oss + extra)
        with pytest.raises(ConsoleConfigError) as caught:
            load_settings(path, {})
        message = str(caught.value)
        assert f"{table}.{key} must not be written in the file" in message
        assert f"{table}.{key}_file" in message
        assert "inline-value" not in message
        assert "\n" not in message
    base += f'access_key_secret_file = "{oss_secret}"\n'
    session = tmp_path / "session-secret"
    session.write_text("change-me-" + "x" * 40 + "\n")
    path.write_text(base + f'[session]\nsecret_file = "{session}"\n')
    with pytest.raises(ConsoleConfigError, match="placeholder"):
        load_settings(path, {})
    key_file = tmp_path / "master-key"
    key_file.write_text(new_master_key() + "\n")
    path.write_text(base + f'[registry]\nmaster_key_file = "{key_file}"\n')
    with pytest.raises(ConsoleConfigError, match="keep one"):
        load_settings(path, {"OSSMEDIA_MASTER_KEY": new_master_key()})


def test_a_deprecated_setting_is_one_line_naming_the_command(
    console_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    config = _write_config(console_emulator, tmp_path, mqtt='host = "127.0.0.1"\nport = 1883')
    env = {**os.environ, "OSSMEDIA_MASTER_KEY": new_master_key()}
    done = subprocess.run(
        [*CLI, "--config", str(config), "backup", str(tmp_path / "copy.db")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    # The settings load (and warn) before the backup finds no ledger to copy.
    assert "no ledger at" in done.stderr
    warning = "ossmedia console: warning: console [mqtt] settings 'host' and 'port' are deprecated"
    assert warning in done.stderr.splitlines()[0]
    assert ".py:" not in done.stderr


def _write_config(emulator: EmulatorHandle, tmp_path: Path, *, mqtt: str) -> Path:
    """A console configuration on ``emulator`` with a local ledger and registry; ``mqtt`` is
    the body of its ``[mqtt]`` table. The OSS secret goes into a file beside it."""
    (tmp_path / "oss.secret").write_text(emulator.access_key_secret + "\n")
    config = tmp_path / "console.toml"
    config.write_text(
        f"""
[http]
port = 0
[[operators]]
username = "admin"
password_hash = "{PASSWORD_HASH}"
[mqtt]
{mqtt}
[oss]
endpoint = "{emulator.oss_endpoint}"
bucket = "{emulator.bucket}"
region = "{emulator.region}"
access_key_id = "{emulator.access_key_id}"
access_key_secret_file = "{tmp_path / "oss.secret"}"
[ledger]
path = "{tmp_path / "ledger.db"}"
[registry]
url = "sqlite://{tmp_path / "registry.db"}"
"""
    )
    return config
