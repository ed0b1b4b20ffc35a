"""``ossmedia devices``: provisioning from the command line, and the camera config it prints."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from cloud.errors import RegistryUnavailable
from cloud.registry import KeyCheck, MasterKey, Registry, new_master_key, open_store
from cloud.registry.cli import run
from cloud.registry.sql_store import SqlDeviceStore
from device.agent.config import load_settings as load_camera_settings
from simulator.broker import pick_free_port

ROOT = Path(__file__).resolve().parents[3]


class Cli:
    def __init__(self, tmp_path: Path) -> None:
        self.key = new_master_key()
        self.db = tmp_path / "registry.db"
        self.env = {"OSSMEDIA_MASTER_KEY": self.key, "OSSMEDIA_REGISTRY_URL": f"sqlite://{self.db}"}

    def __call__(self, *argv: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = run(list(argv), self.env if env is None else env, out, err)
        return code, out.getvalue(), err.getvalue()

    def registry(self) -> Registry:
        return Registry(open_store(f"sqlite://{self.db}"), MasterKey.from_text(self.key))


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


def test_add_json_prints_secret_and_a_camera_config_the_agent_reads(
    cli: Cli, tmp_path: Path
) -> None:
    code, out, _ = cli(
        "add",
        "cam-0001",
        "--json",
        "--broker-url",
        "mqtts://mqtt.example.com:8883",
        "--ca-file",
        "/etc/ossmedia/ca.pem",
    )
    assert code == 0
    doc = json.loads(out)
    assert doc["device_id"] == "cam-0001"
    assert len(doc["secret"]) == 43
    assert doc["status"] == "active"
    config = tmp_path / "camera.toml"
    config.write_text(doc["camera_config"])
    camera = load_camera_settings(config)
    assert camera.device_id == "cam-0001"
    assert camera.secret.get_secret_value() == doc["secret"]
    assert camera.broker.url == "mqtts://mqtt.example.com:8883"
    assert str(camera.broker.ca_file) == "/etc/ossmedia/ca.pem"
    assert camera.topic_prefix == "ossmedia"
    found = cli.registry().lookup("cam-0001")
    assert found is not None
    assert found.secret == doc["secret"]


def test_add_human_output_and_private_config_file(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "cam.toml"
    code, out, _ = cli("add", "cam-0002", "--access", "append", "--config-out", str(target))
    assert code == 0
    secret = out.split("Secret (shown once; it is stored encrypted): ")[1].split()[0]
    assert out.count(secret) == 1
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert f'secret = "{secret}"' in target.read_text()
    code, out, _ = cli("list", "--json")
    assert json.loads(out) == [
        {
            "device_id": "cam-0002",
            "status": "active",
            "access": ["append"],
            "secret_version": 1,
            "created_at_ms": json.loads(out)[0]["created_at_ms"],
            "updated_at_ms": json.loads(out)[0]["updated_at_ms"],
        }
    ]
    assert secret not in out


def test_rotate_and_revoke(cli: Cli) -> None:
    _, out, _ = cli("add", "cam-0003", "--json")
    old = json.loads(out)["secret"]
    code, out, _ = cli("rotate", "cam-0003", "--json")
    assert code == 0
    new = json.loads(out)["secret"]
    assert new != old
    found = cli.registry().lookup("cam-0003")
    assert found is not None
    assert found.secret == new
    code, out, _ = cli("revoke", "cam-0003", "--json")
    assert json.loads(out)["status"] == "revoked"
    code, out, _ = cli("list")
    assert "cam-0003" in out
    assert "revoked" in out


def test_errors_exit_non_zero_with_a_message(cli: Cli) -> None:
    assert cli("add", "cam-0004")[0] == 0
    code, _, err = cli("add", "cam-0004")
    assert code == 1
    assert "already exists" in err
    assert cli("revoke", "cam-none")[0] == 1
    assert cli("add", "bad/id")[0] == 1
    assert cli("add", "cam-0005", "--access", "delete")[0] == 1
    code, _, err = cli("list", env={"OSSMEDIA_REGISTRY_URL": cli.env["OSSMEDIA_REGISTRY_URL"]})
    assert code == 1
    assert "master key" in err


def test_config_file_and_master_key_file(cli: Cli, tmp_path: Path) -> None:
    key_file = tmp_path / "master.key"
    key_file.write_text(cli.key + "\n")
    config = tmp_path / "responder.toml"
    config.write_text(
        f'[registry]\nurl = "sqlite://{cli.db}"\nmaster_key_file = "{key_file}"\n'
        '[broker]\nurl = "mqtt://10.0.0.5:1883"\ntopic_prefix = "fleet"\n'
    )
    code, out, err = cli("--config", str(config), "add", "cam-0006", "--json", env={})
    assert code == 0
    assert 'url = "mqtt://10.0.0.5:1883"' in json.loads(out)["camera_config"]
    assert "names the responder's broker URL mqtt://10.0.0.5:1883" in err
    assert 'topic_prefix = "fleet"' in json.loads(out)["camera_config"]
    code, out, _ = cli(
        "--registry",
        f"sqlite://{tmp_path / 'other.db'}",
        "--master-key-file",
        str(key_file),
        "list",
        "--json",
        env={},
    )
    assert (code, json.loads(out)) == (0, [])


def test_entry_point(cli: Cli) -> None:
    env = {**os.environ, **cli.env}
    result = subprocess.run(
        [sys.executable, "-m", "ossmedia_cli", "devices", "add", "cam-0007", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["device_id"] == "cam-0007"
    key = subprocess.run(
        [sys.executable, "-m", "ossmedia_cli", "devices", "new-master-key"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()
    assert MasterKey.from_text(key)


def test_an_unreachable_broker_is_reported_and_the_device_kept(cli: Cli) -> None:
    port = pick_free_port()  # nothing listens there
    admin = ["--provisioner-url", f"mqtt://127.0.0.1:{port}"]
    code, _, err = cli(*admin, "add", "cam-0006")
    assert code == 1
    assert "needs OSSMEDIA_PROVISIONER_PASSWORD" in err
    env = {**cli.env, "OSSMEDIA_PROVISIONER_PASSWORD": "admin-password-123"}
    code, out, err = cli(*admin, "add", "cam-0006", env=env)
    assert code == 1
    assert "cannot reach the broker" in err
    assert "ossmedia devices rotate cam-0006" in err
    assert "admin-password-123" not in err + out
    registry = cli.registry()
    try:
        assert [d.device_id for d in registry.list()] == ["cam-0006"]
    finally:
        registry.close()


def test_reinstate_gives_a_revoked_device_a_new_secret(cli: Cli) -> None:
    _, out, _ = cli("add", "cam-0010", "--json")
    first = json.loads(out)["secret"]
    assert cli("revoke", "cam-0010")[0] == 0
    code, _, err = cli("rotate", "cam-0010")
    assert code == 1
    assert "is revoked; reinstate it" in err
    assert cli("add", "cam-0010")[0] == 1  # the id is still taken
    code, out, _ = cli("reinstate", "cam-0010", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["status"] == "active"
    assert doc["secret"] != first
    found = cli.registry().lookup("cam-0010")
    assert found is not None
    assert found.secret == doc["secret"]


def test_delete_only_a_revoked_device_then_the_id_is_free(cli: Cli) -> None:
    assert cli("add", "cam-0011")[0] == 0
    code, _, err = cli("delete", "cam-0011")
    assert code == 1
    assert "revoke it before deleting it" in err
    assert cli("revoke", "cam-0011")[0] == 0
    code, out, _ = cli("delete", "cam-0011")
    assert code == 0
    assert "recordings in the bucket are untouched" in out
    assert cli("list", "--json")[1].strip() == "[]"
    assert cli("add", "cam-0011")[0] == 0
    assert cli("delete", "cam-none")[0] == 1


def test_a_master_key_that_is_not_the_registrys_is_refused(cli: Cli) -> None:
    assert cli("add", "cam-0001")[0] == 0
    other = {**cli.env, "OSSMEDIA_MASTER_KEY": new_master_key()}
    for argv in (("add", "cam-0002"), ("rotate", "cam-0001"), ("reinstate", "cam-0001")):
        code, out, err = cli(*argv, env=other)
        assert code == 1, argv
        assert "master key does not match this registry" in err
        assert "Secret" not in out
    assert [r.device_id for r in cli.registry().list()] == ["cam-0001"]
    assert cli.registry().lookup("cam-0001") is not None


def test_a_registry_written_before_check_values_gets_one_from_the_key_that_opens_it(
    cli: Cli,
) -> None:
    assert cli("add", "cam-0001")[0] == 0
    with sqlite3.connect(cli.db) as conn:
        conn.execute("DELETE FROM registry_meta")
    other = {**cli.env, "OSSMEDIA_MASTER_KEY": new_master_key()}
    assert cli("add", "cam-0002", env=other)[0] == 1  # its rows do not open with this key
    assert cli("add", "cam-0002")[0] == 0  # they do with the right one, which is recorded
    assert cli.registry().verify_key(record=False) is KeyCheck.MATCHED


def test_online_backup_holds_what_is_still_in_the_wal(cli: Cli, tmp_path: Path) -> None:
    writer = cli.registry()
    secrets = {f"cam-{n:04d}": writer.add(f"cam-{n:04d}")[1] for n in range(5)}
    # The writer keeps its connection open: the rows are still in the write-ahead log.
    assert (tmp_path / "registry.db-wal").stat().st_size > 0
    copy = tmp_path / "backup" / "registry.db"
    copy.parent.mkdir()
    code, out, _ = cli("backup", str(copy))
    assert code == 0
    assert "keep the key with the copy" in out
    writer.close()
    restored = Registry(open_store(f"sqlite://{copy}"), MasterKey.from_text(cli.key))
    for device_id, secret in secrets.items():
        found = restored.lookup(device_id)
        assert found is not None
        assert found.secret == secret
    assert restored.verify_key(record=False) is KeyCheck.MATCHED
    restored.close()
    code, _, err = cli("backup", str(copy))
    assert code == 1
    assert "already exists" in err


def test_new_master_key_out_is_private_and_never_overwritten(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "master-key"
    code, out, _ = cli("new-master-key", "--out", str(target))
    assert code == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    key = target.read_text().strip()
    assert MasterKey.from_text(key)
    assert key not in out
    code, _, err = cli("new-master-key", "--out", str(target))
    assert code == 1
    assert "File exists" in err
    assert target.read_text().strip() == key


def test_a_locked_registry_is_one_clear_line(cli: Cli) -> None:
    assert cli("add", "cam-0001")[0] == 0
    holder = sqlite3.connect(cli.db)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the database
    store = SqlDeviceStore.open(f"sqlite://{cli.db}", lock_timeout_s=0.2)
    registry = Registry(store, MasterKey.from_text(cli.key))
    with pytest.raises(RegistryUnavailable, match="is locked by another writer"):
        registry.revoke("cam-0001")
    registry.close()
    holder.rollback()
    holder.close()
