"""The first dynamic-security file: owner-only, deny by default, never overwritten."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
from pathlib import Path

import pytest

from simulator.broker.__main__ import main
from simulator.broker.dynsec import CONTROL_FILTER, PBKDF2_ITERATIONS


def test_dynsec_init_writes_an_owner_only_deny_by_default_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "dynamic-security.json"
    monkeypatch.setenv("OSSMEDIA_PROVISIONER_PASSWORD", "admin-password-123")
    assert main(["dynsec-init", str(target)]) == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    doc = json.loads(target.read_text())
    assert not any(doc["defaultACLAccess"][kind] for kind in ("publishClientSend",
                   "publishClientReceive", "subscribe"))  # fmt: skip
    (client,) = doc["clients"]
    assert client["username"] == "svc.provisioner"
    digest = hashlib.pbkdf2_hmac(
        "sha512", b"admin-password-123", base64.b64decode(client["salt"]), PBKDF2_ITERATIONS, 64
    )
    assert base64.b64decode(client["password"]) == digest
    assert {acl["topic"] for role in doc["roles"] for acl in role["acls"]} == {CONTROL_FILTER}
    assert "admin-password-123" not in target.read_text()
    # Never over an existing file: it would erase every camera account.
    assert main(["dynsec-init", str(target)]) == 2
    assert "refusing to overwrite" in capsys.readouterr().err
