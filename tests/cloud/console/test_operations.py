"""Operating the console: audit lines, ``/healthz``, ``/metrics``, online ledger backup."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from cloud.console.audit import AUDIT_LOGGER
from cloud.console.cli import main
from cloud.console.ledger import Ledger
from cloud.console.ledger.models import SegmentFacts
from cloud.console.passwords import hash_password
from cloud.console.settings import EXAMPLE_CONFIG
from cloud.logs import JsonFormatter
from tests.cloud.console.conftest import OPERATOR, Operator, Stack


def test_every_operator_action_is_one_audit_line_and_counted(
    stack: Stack, operator: Operator, caplog: pytest.LogCaptureFixture
) -> None:
    cam = stack.camera("cam-1")
    now = int(stack.clock() * 1000)
    event = cam.record("a.mp4", b"abc", now - 1000, now)
    stack.ingest(event)
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)
    h = operator.headers()
    made = operator.http.post("/api/devices", json={"device_id": "cam-new"}, headers=h)
    assert made.status_code in (200, 201), made.text
    secrets = [made.json()["secret"]]
    rotated = operator.http.post("/api/devices/cam-new/rotate", headers=h)
    secrets.append(rotated.json()["secret"])
    assert operator.http.post("/api/devices/cam-new/revoke", headers=h).status_code == 200
    assert operator.http.put("/api/retention", json={"days": 30}, headers=h).status_code == 200
    assert operator.http.delete(f"/api/recordings/{event.event_id}", headers=h).status_code == 204

    lines = [JsonFormatter().format(r) for r in caplog.records if r.name == AUDIT_LOGGER]
    docs = [json.loads(line) for line in lines]
    assert [d["action"] for d in docs] == [
        "device.provision",
        "device.rotate",
        "device.revoke",
        "retention.fleet",
        "recording.delete",
    ]
    assert all(d["audit"] is True and d["actor"] == OPERATOR for d in docs)
    assert docs[0]["device_id"] == "cam-new"
    assert docs[3]["days"] == 30
    assert docs[4]["recording_id"] == event.event_id
    for secret in secrets:
        assert not any(secret in line for line in lines)

    metrics = httpx.get(f"{stack.url}/metrics", timeout=10).text
    assert 'ossmedia_console_operator_actions_total{action="device.provision"} 1.0' in metrics
    assert 'ossmedia_console_operator_actions_total{action="recording.delete"} 1.0' in metrics
    assert 'ossmedia_console_recordings{state="deleted"} 1.0' in metrics
    assert "_created" not in metrics


def test_healthz_reports_each_part_and_503_when_the_ledger_fails(stack: Stack) -> None:
    ok = httpx.get(f"{stack.url}/healthz", timeout=10)
    assert ok.status_code == 200
    assert ok.json() == {
        "status": "ok",
        "checks": {"ledger": {"ok": True}, "registry": {"ok": True}},
    }
    stack.ledger.close()
    broken = httpx.get(f"{stack.url}/healthz", timeout=10)
    assert broken.status_code == 503
    assert broken.json()["checks"]["ledger"]["ok"] is False
    assert broken.json()["checks"]["registry"] == {"ok": True}


def test_online_backup_holds_the_recordings_still_in_the_wal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ledger.sqlite3"
    running = Ledger(str(path))  # the running console's connection stays open
    now = int(time.time() * 1000)
    for seq in range(5):
        running.record_segment(
            SegmentFacts(
                event_id=f"{seq:032x}",
                device_id="cam-1",
                seq=seq,
                object_key=f"videos/cam-1/{seq}.mp4",
                size=3,
                crc64=0,
                start_ms=now - 1000,
                end_ms=now,
            ),
            now_ms=now,
        )
    assert (tmp_path / "ledger.sqlite3-wal").stat().st_size > 0
    # What a plain copy of the main file sees: the recordings are not in it yet.
    plain = tmp_path / "plain.sqlite3"
    plain.write_bytes(path.read_bytes())
    with sqlite3.connect(plain) as conn:
        try:
            copied = conn.execute("SELECT COUNT(*) FROM recordings").fetchone()[0]
        except sqlite3.OperationalError:  # not even the table is in the main file yet
            copied = 0
    assert copied == 0

    config = tmp_path / "console.toml"
    text = EXAMPLE_CONFIG.replace('path = "console.sqlite3"', f'path = "{path}"').replace(
        "scrypt$15$8$...$...", hash_password("a long enough password")
    )
    for name, value in (("console-session", "s" * 40), ("console-oss-secret", "oss-secret")):
        (tmp_path / name).write_text(value + "\n")
        text = text.replace(f"/etc/ossmedia/{name}", str(tmp_path / name))
    config.write_text(text)
    copy = tmp_path / "backup.sqlite3"
    assert main(["--config", str(config), "backup", str(copy)]) == 0
    assert "keep the key with the copy" in capsys.readouterr().err
    restored = Ledger(str(copy))
    page = restored.list_recordings("cam-1", from_ms=0, to_ms=now + 1, after=None, limit=10)
    assert sorted(r.facts.event_id for r in page.items) == [f"{seq:032x}" for seq in range(5)]
    restored.close()
    running.close()
    assert main(["--config", str(config), "backup", str(copy)]) == 1


def test_provisioning_through_the_api_takes_access_modes(stack: Stack, operator: Operator) -> None:
    h = operator.headers()
    made = operator.http.post(
        "/api/devices", json={"device_id": "cam-append", "access": ["append"]}, headers=h
    )
    assert made.status_code == 201, made.text
    assert stack.registry.get("cam-append").access == frozenset({"append"})
    wrong = operator.http.post(
        "/api/devices", json={"device_id": "cam-bad", "access": ["delete"]}, headers=h
    )
    assert wrong.status_code == 400
    all_modes = operator.http.post("/api/devices", json={"device_id": "cam-all"}, headers=h)
    assert all_modes.status_code == 201
    assert stack.registry.get("cam-all").access == frozenset({"append", "write", "read"})
