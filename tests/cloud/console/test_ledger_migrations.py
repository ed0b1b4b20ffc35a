"""Ledger schema migrations: a ledger of the earlier release is adopted with its rows, an
empty PostgreSQL database is brought to the current schema by ``ossmedia console migrate``,
downgrade round-trips, and a replica refuses a schema it does not know."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from cloud.console.cli import main
from cloud.console.ledger import Ledger, Verification, migrate_ledger
from cloud.console.ledger.store import MIGRATIONS
from cloud.database import DatabaseError
from tests.cloud.console.conftest import PASSWORD_HASH
from tests.cloud.console.test_ledger import facts

# The ledger file as the release before schema revisions wrote it.
_EARLIER_SCHEMA = """
CREATE TABLE IF NOT EXISTS recordings (
    event_id       TEXT PRIMARY KEY,
    device_id      TEXT NOT NULL,
    seq            INTEGER NOT NULL,
    object_key     TEXT NOT NULL,
    size           INTEGER NOT NULL,
    crc64          TEXT NOT NULL,
    start_ms       INTEGER NOT NULL,
    end_ms         INTEGER NOT NULL,
    received_ms    INTEGER NOT NULL,
    verification   TEXT NOT NULL DEFAULT 'pending',
    reason         TEXT NOT NULL DEFAULT '',
    checked_ms     INTEGER,
    observed_size  INTEGER,
    UNIQUE (device_id, seq)
);
CREATE INDEX IF NOT EXISTS recordings_by_time ON recordings (device_id, start_ms, event_id);
CREATE INDEX IF NOT EXISTS recordings_by_check ON recordings (verification, checked_ms);
CREATE TABLE IF NOT EXISTS cameras (
    device_id        TEXT PRIMARY KEY,
    registry_state   TEXT,
    status_issued_ms INTEGER,
    status_received_ms INTEGER,
    online           INTEGER,
    last_upload_ms   INTEGER,
    spool_bytes      INTEGER,
    oldest_unsent_age_ms INTEGER,
    credential_expires_ms INTEGER,
    clock_offset_ms  INTEGER,
    uploaded_bytes   INTEGER,
    dropped_bytes    INTEGER,
    n_recordings     INTEGER NOT NULL DEFAULT 0,
    n_flagged        INTEGER NOT NULL DEFAULT 0,
    last_end_ms      INTEGER
);
CREATE TABLE IF NOT EXISTS retention (
    scope TEXT PRIMARY KEY,
    days  INTEGER
);
CREATE TABLE IF NOT EXISTS content_keys (
    device_id   TEXT NOT NULL,
    key_id      TEXT NOT NULL,
    sealed      BLOB NOT NULL,
    created_ms  INTEGER NOT NULL,
    received_ms INTEGER NOT NULL,
    PRIMARY KEY (device_id, key_id)
);
"""

_CONFIG = """
[session]
secret = "{secret}"
[[operators]]
username = "admin"
password_hash = "{password_hash}"
[oss]
endpoint = "http://127.0.0.1:1"
bucket = "b"
region = "cn-hangzhou"
access_key_id = "id"
access_key_secret = "secret"
[ledger]
{ledger}
"""


def _config(tmp_path: Path, ledger: str) -> str:
    path = tmp_path / "console.toml"
    path.write_text(_CONFIG.format(secret="s" * 40, ledger=ledger, password_hash=PASSWORD_HASH))
    return str(path)


def test_a_ledger_of_the_earlier_release_is_adopted_with_its_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "console.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(_EARLIER_SCHEMA)
        db.execute(
            "INSERT INTO recordings (event_id, device_id, seq, object_key, size, crc64,"
            " start_ms, end_ms, received_ms, verification) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                "e" * 32,
                "cam-1",
                7,
                "videos/cam-1/7.mp4",
                100,
                str(2**64 - 1),
                0,
                1000,
                5,
                "flagged",
            ),
        )
        db.execute(
            "INSERT INTO cameras (device_id, n_recordings, n_flagged, last_end_ms)"
            " VALUES ('cam-1', 1, 1, 1000)"
        )
        db.execute("INSERT INTO retention VALUES ('*', 30)")
    config = _config(tmp_path, f'path = "{path}"')
    assert main(["--config", config, "migrate"]) == 0
    assert f"Ledger schema: empty -> {MIGRATIONS.head()}." in capsys.readouterr().err
    ledger = Ledger(str(path))
    recording = ledger.recording("e" * 32)
    assert recording is not None
    assert recording.facts.crc64 == 2**64 - 1
    assert recording.verification is Verification.FLAGGED
    camera = ledger.camera("cam-1")
    assert camera is not None
    assert (camera.recordings, camera.flagged) == (1, 1)
    assert ledger.retention() == (30, {})
    # Idempotence of the adopted data: the same event again changes nothing.
    assert ledger.record_segment(facts("e" * 32, 7, 0), now_ms=9) is False
    ledger.close()


def test_postgresql_ledger_from_empty_and_back(
    postgres_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, f'url = "{postgres_url}"')
    with pytest.raises(DatabaseError, match="ossmedia console migrate"):
        Ledger(postgres_url)
    assert main(["--config", config, "migrate"]) == 0
    ledger = Ledger(postgres_url)
    assert ledger.record_segment(facts("a", 1, 0), now_ms=0)
    ledger.close()
    assert main(["--config", config, "migrate", "--to", "base"]) == 0
    assert f"Ledger schema: {MIGRATIONS.head()} -> empty." in capsys.readouterr().err
    with pytest.raises(DatabaseError, match="no revision"):
        Ledger(postgres_url)
    assert main(["--config", config, "migrate"]) == 0
    ledger = Ledger(postgres_url)
    assert ledger.recording("a".ljust(32, "0")) is None
    ledger.close()


def test_migrate_reports_an_unreachable_database_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, 'url = "postgresql://u:pw-secret@127.0.0.1:1/none"')
    assert main(["--config", config, "migrate"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(
        "ossmedia console: ledger schema check on postgresql+psycopg://u:***@127.0.0.1:1/none failed"
    )
    assert "pw-secret" not in err
    assert "Traceback" not in err


def test_sqlite_ledger_goes_back_one_revision_and_forward_with_its_rows(tmp_path: Path) -> None:
    path = str(tmp_path / "ledger.sqlite3")
    ledger = Ledger(path)
    assert ledger.record_segment(facts("a", 1, 0), now_ms=0)
    ledger.close()
    before, after = migrate_ledger(path, "l0003")
    assert (before, after) == (MIGRATIONS.head(), "l0003")
    with sqlite3.connect(path) as db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(cameras)")}
    assert "n_seq_collisions" not in columns
    assert migrate_ledger(path) == ("l0003", MIGRATIONS.head())
    ledger = Ledger(path)
    assert ledger.recording("a".ljust(32, "0")) is not None
    camera = ledger.camera("cam-1")
    assert camera is not None
    assert (camera.recordings, camera.seq_collisions) == (1, 0)
    ledger.close()
