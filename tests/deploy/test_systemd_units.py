"""The service units in ``deploy/systemd`` parse cleanly and keep their hardening.

``systemd-analyze verify`` runs against an alternate root holding the system's own unit
directory and a stand-in ``/usr/local/bin/ossmedia`` (it refuses a unit whose ExecStart is not
executable). It warns on stderr and still exits 0 for a bad key or value, so any line that
names one of our units fails the test.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parents[2] / "deploy" / "systemd"
SERVICES = ("ossmedia-responder.service", "ossmedia-console.service")


def _root(tmp_path: Path, unit: str) -> Path:
    root = tmp_path / "root"
    (root / "usr/local/bin").mkdir(parents=True)
    stand_in = root / "usr/local/bin/ossmedia"
    stand_in.write_text("#!/bin/sh\n")
    stand_in.chmod(0o755)
    (root / "usr/lib").mkdir(parents=True, exist_ok=True)
    (root / "usr/lib/systemd").symlink_to("/usr/lib/systemd")
    (root / "etc/systemd/system").mkdir(parents=True)
    (root / "etc/systemd/system" / unit).symlink_to(UNITS / unit)
    return root


def _directives(unit: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in (UNITS / unit).read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


@pytest.mark.parametrize("unit", SERVICES)
def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path, unit: str) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze is not None, "systemd-analyze is missing: run scripts/setup.sh"
    root = _root(tmp_path, unit)
    done = subprocess.run(
        [analyze, "verify", f"--root={root}", "--man=no", f"/etc/systemd/system/{unit}"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    ours = [line for line in (done.stdout + done.stderr).splitlines() if unit in line]
    assert done.returncode == 0, done.stderr
    assert ours == []


@pytest.mark.parametrize("unit", SERVICES)
def test_service_units_are_hardened_and_take_secrets_as_credentials(unit: str) -> None:
    d = _directives(unit)
    assert d.get("User") == ["ossmedia"] or d.get("DynamicUser") == ["yes"]
    for key, value in {
        "ProtectSystem": "strict",
        "NoNewPrivileges": "true",
        "ProtectHome": "true",
        "PrivateTmp": "true",
        "CapabilityBoundingSet": "",
    }.items():
        assert d.get(key) == [value], key
    credentials = d.get("LoadCredential", [])
    assert credentials
    assert all(c.split(":", 1)[1].startswith("/etc/ossmedia/") for c in credentials)
    assert "master-key:/etc/ossmedia/master-key" in credentials
    # No secret is passed on the command line or in the environment.
    assert all("SECRET=" not in e and "PASSWORD=" not in e for e in d.get("Environment", []))


def test_the_responder_reads_every_secret_from_its_credentials() -> None:
    env = _directives("ossmedia-responder.service")["Environment"]
    assert "OSSMEDIA_STS_ACCESS_KEY_SECRET_FILE=%d/sts-access-key-secret" in env
    assert "OSSMEDIA_BROKER_PASSWORD_FILE=%d/broker-password" in env
    assert "OSSMEDIA_REGISTRY_MASTER_KEY_FILE=%d/master-key" in env
