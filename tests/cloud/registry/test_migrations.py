"""Registry schema migrations: a registry of the earlier release is adopted with its rows,
an empty database is brought to the current schema, and downgrade round-trips."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pytest
from pydantic import SecretStr

from cloud.errors import RegistryError
from cloud.registry import MasterKey, Registry, new_master_key, open_registry, open_store
from cloud.registry.cli import run
from cloud.registry.sql_store import MIGRATIONS
from cloud.settings import RegistrySettings

KEY_TEXT = new_master_key()
KEY = MasterKey.from_text(KEY_TEXT)

# The registry file as the release before schema revisions wrote it.
_EARLIER_SCHEMA = """
CREATE TABLE IF NOT EXISTS devices (
    device_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    access TEXT NOT NULL,
    secret_version INTEGER NOT NULL,
    sealed_secret BLOB NOT NULL,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
)
"""


def _devices(url: str, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    env = {"OSSMEDIA_MASTER_KEY": KEY_TEXT}
    code = run(["--registry", url, *argv], env, out, err)
    return code, out.getvalue(), err.getvalue()


def test_a_registry_of_the_earlier_release_is_adopted_with_its_rows(tmp_path: Path) -> None:
    # Rows sealed exactly as the earlier release sealed them (same cipher, same key).
    scratch = Registry(open_store("sqlite://:memory:"), KEY)
    secrets = {f"cam-{n:04d}": scratch.add(f"cam-{n:04d}")[1] for n in range(3)}
    scratch.revoke("cam-0002")
    rows = [scratch._store.get(d) for d in secrets]
    path = tmp_path / "registry.db"
    with sqlite3.connect(path) as db:
        db.execute(_EARLIER_SCHEMA)
        for stored in rows:
            assert stored is not None
            r = stored.record
            db.execute(
                "INSERT INTO devices VALUES (?,?,?,?,?,?,?)",
                (
                    r.device_id,
                    r.status.value,
                    ",".join(sorted(r.access)),
                    r.secret_version,
                    stored.sealed_secret,
                    r.created_at_ms,
                    r.updated_at_ms,
                ),
            )
    url = f"sqlite://{path}"
    code, out, err = _devices(url, "migrate")
    assert (code, err) == (0, "")
    assert out == f"Registry schema: empty -> {MIGRATIONS.head()}.\n"
    registry = Registry(open_store(url), KEY)
    for device_id, secret in secrets.items():
        found = registry.lookup(device_id)
        assert found is not None
        assert found.secret == secret
    assert registry.get("cam-0002").status.value == "revoked"
    registry.close()


def test_postgresql_schema_from_empty_and_back(postgres_url: str) -> None:
    with pytest.raises(RegistryError, match="ossmedia devices migrate"):
        open_store(postgres_url)
    assert _devices(postgres_url, "migrate")[0] == 0
    registry = Registry(open_store(postgres_url), KEY)
    _, secret = registry.add("cam-0001")
    registry.close()
    # Migrating again changes nothing.
    code, out, _ = _devices(postgres_url, "migrate")
    assert code == 0
    assert out == f"Registry schema: {MIGRATIONS.head()} -> {MIGRATIONS.head()}.\n"
    registry = Registry(open_store(postgres_url), KEY)
    found = registry.lookup("cam-0001")
    assert found is not None
    assert found.secret == secret
    registry.close()
    code, out, _ = _devices(postgres_url, "migrate", "--to", "base")
    assert (code, out) == (0, f"Registry schema: {MIGRATIONS.head()} -> empty.\n")
    with pytest.raises(RegistryError, match="no revision"):
        open_store(postgres_url)
    assert _devices(postgres_url, "migrate")[0] == 0
    assert Registry(open_store(postgres_url), KEY).list() == []


def test_migrate_refuses_redis_and_unreachable_databases(redis_url: str) -> None:
    code, _, err = _devices(redis_url, "migrate")
    assert code == 1
    assert "Redis registry has no schema" in err
    code, _, err = _devices("postgresql://nobody:pw-secret@127.0.0.1:1/none", "migrate")
    assert code == 1
    assert "pw-secret" not in err
    assert "Traceback" not in err
    assert err.startswith("ossmedia devices: registry")


def test_a_redis_registry_moves_to_postgresql_with_its_sealed_rows(
    redis_url: str, postgres_url: str
) -> None:
    source = Registry(open_store(redis_url), KEY)
    secrets = {f"cam-{n:04d}": source.add(f"cam-{n:04d}")[1] for n in range(3)}
    source.revoke("cam-0001")
    source.close()
    assert _devices(postgres_url, "migrate")[0] == 0
    code, out, err = _devices(redis_url, "copy", "--to", postgres_url)
    assert (code, err) == (0, "")
    assert out == "3 device(s) copied, 0 already there (left as they are).\n"
    target = Registry(open_store(postgres_url), KEY)
    for device_id, secret in secrets.items():
        found = target.lookup(device_id)
        assert found is not None
        assert found.secret == secret
    assert target.get("cam-0001").status.value == "revoked"
    target.close()
    # Again: nothing is overwritten.
    assert _devices(redis_url, "copy", "--to", postgres_url)[1] == (
        "0 device(s) copied, 3 already there (left as they are).\n"
    )
    # The copy carries the master key's check value: another key is refused there.
    other = Registry(open_store(postgres_url), MasterKey.from_text(new_master_key()))
    with pytest.raises(RegistryError, match="master key"):
        other.add("cam-0009")
    other.close()


def test_a_service_migrates_postgresql_at_start_only_when_asked(postgres_url: str) -> None:
    settings = RegistrySettings(url=postgres_url, master_key=SecretStr(KEY_TEXT))
    with pytest.raises(RegistryError, match="ossmedia devices migrate"):
        open_registry(settings)
    registry = open_registry(settings.model_copy(update={"migrate_at_start": True}))
    registry.add("cam-0001")
    registry.close()
    assert open_registry(settings).get("cam-0001").device_id == "cam-0001"
