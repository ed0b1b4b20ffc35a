"""``ossmedia demo`` end to end, kept short with ``--duration``."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import oss2
import pytest
import requests

from cloud.console.player_cors import console_origins
from ossmedia_cli import main as ossmedia
from simulator.demo.cli import _console
from simulator.fleet.services import local_services


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


def test_demo_bucket_lets_the_console_origin_read_ranges(tmp_path: Path) -> None:
    out = io.StringIO()
    with local_services(tmp_path) as services, _console(services, tmp_path, out):
        url = re.search(r"web console:  (\S+)", out.getvalue())
        assert url is not None
        emulator = services.emulator
        auth = oss2.AuthV4(emulator.access_key_id, emulator.access_key_secret)
        bucket = oss2.Bucket(auth, emulator.oss_endpoint, emulator.bucket, region=emulator.region)
        bucket.put_object("videos/cam/x.mp4", b"0123456789")
        presigned = bucket.sign_url("GET", "videos/cam/x.mp4", 60)
        for origin in console_origins(url.group(1)):
            preflight = requests.options(
                presigned,
                headers={"Origin": origin, "Access-Control-Request-Method": "GET",
                         "Access-Control-Request-Headers": "range"},
                timeout=10,
            )  # fmt: skip
            assert preflight.status_code == 200
            assert preflight.headers["Access-Control-Allow-Origin"] == origin
            got = requests.get(
                presigned, headers={"Origin": origin, "Range": "bytes=0-3"}, timeout=10
            )
            assert got.status_code == 206
            assert got.headers["Access-Control-Allow-Origin"] == origin
            assert "Content-Range" in got.headers["Access-Control-Expose-Headers"]
        other = requests.options(
            presigned,
            headers={"Origin": "http://elsewhere.example", "Access-Control-Request-Method": "GET"},
            timeout=10,
        )
        assert other.status_code == 403
