"""``ossmedia demo`` end to end, kept short with ``--duration``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ossmedia_cli import main as ossmedia


@pytest.mark.parametrize("broker", ["mosquitto", "amqtt"])
def test_demo_records_video_and_reports_every_byte(
    tmp_path: Path, broker: str, capsys: pytest.CaptureFixture[str]
) -> None:
    report_path = tmp_path / "report.json"
    code = ossmedia(
        [
            "demo",
            "--duration",
            "5",
            "--cameras",
            "2",
            "--broker",
            broker,
            "--report",
            str(report_path),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.out + captured.err
    report = json.loads(report_path.read_text())
    assert report["ok"] is True
    assert report["cameras"] == 2
    assert report["produced_bytes"] == report["stored_bytes"] > 0
    assert report["lost_bytes"] == report["duplicated_bytes"] == report["corrupted_bytes"] == 0
    assert report["credential_leases"] >= 2
    assert "web console:  http://127.0.0.1:" in captured.err
    assert "OSS + STS emulator: http://127.0.0.1:" in captured.err
    assert "RESULT: OK" in captured.out


def test_demo_help_explains(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        ossmedia(["demo", "--help"])
    assert exc.value.code == 0
    assert "Ctrl-C" in capsys.readouterr().out
