"""Device registry on SQLite and on a real Redis: lifecycle and secrets at rest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from cloud.database import make_engine
from cloud.errors import ConfigError, DeviceExists, DeviceNotFound, SecretDecryptError
from cloud.registry import (
    DeviceStatus,
    MasterKey,
    Registry,
    StoredDevice,
    new_master_key,
    open_store,
    parse_access,
)
from cloud.registry.sql_store import MIGRATIONS
from schemas.errors import InvalidIdentifier
from tests.fixtures.redis import RedisServer

KEY = MasterKey.from_text(new_master_key())


@pytest.fixture(params=["sqlite", "postgres", "redis"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite://{tmp_path / 'reg' / 'registry.db'}"
    url: str = request.getfixturevalue(f"{request.param}_url")
    if request.param == "postgres":
        # As an operator would: 'ossmedia devices migrate' before any service opens it.
        engine = make_engine(url)
        MIGRATIONS.upgrade(engine)
        engine.dispose()
    return url


@pytest.fixture
def registry(store_url: str) -> Iterator[Registry]:
    reg = Registry(open_store(store_url), KEY, clock=lambda: 1_764_380_000.0)
    yield reg
    reg.close()


def test_add_lookup_list(registry: Registry) -> None:
    record, secret = registry.add("cam-0001")
    assert record.status is DeviceStatus.ACTIVE
    assert record.access == frozenset({"append", "write", "read"})
    assert record.created_at_ms == 1_764_380_000_000
    assert len(secret) == 43
    found = registry.lookup("cam-0001")
    assert found is not None
    assert found.secret == secret
    assert secret not in repr(found)
    registry.add("cam-0000", access=frozenset({"append"}))
    assert [r.device_id for r in registry.list()] == ["cam-0000", "cam-0001"]
    assert registry.lookup("cam-9999") is None


def test_add_twice_and_invalid_ids(registry: Registry) -> None:
    registry.add("cam-0001")
    with pytest.raises(DeviceExists):
        registry.add("cam-0001")
    for bad in ("c", "../x", "cam+", "cam#", "cam*", "a" * 33, "cam-0001\n"):
        with pytest.raises(InvalidIdentifier):
            registry.add(bad)


def test_revoke_and_rotate(registry: Registry) -> None:
    _, old = registry.add("cam-0001")
    record, new = registry.rotate("cam-0001")
    assert new != old
    assert record.secret_version == 2
    found = registry.lookup("cam-0001")
    assert found is not None
    assert found.secret == new
    revoked = registry.revoke("cam-0001")
    assert revoked.status is DeviceStatus.REVOKED
    assert registry.get("cam-0001").status is DeviceStatus.REVOKED
    for op in (registry.revoke, registry.rotate, registry.get):
        with pytest.raises(DeviceNotFound):
            op("cam-none")


def test_wrong_master_key_opens_nothing(store_url: str) -> None:
    store = open_store(store_url)
    Registry(store, KEY).add("cam-0001")
    other = Registry(store, MasterKey.from_text(new_master_key()))
    with pytest.raises(SecretDecryptError):
        other.lookup("cam-0001")
    store.close()


def test_a_row_moved_to_another_device_does_not_open(store_url: str) -> None:
    store = open_store(store_url)
    registry = Registry(store, KEY)
    registry.add("cam-0001")
    registry.add("cam-0002")
    a = store.get("cam-0001")
    b = store.get("cam-0002")
    assert a is not None
    assert b is not None
    store.update(StoredDevice(b.record, a.sealed_secret))
    with pytest.raises(SecretDecryptError):
        registry.lookup("cam-0002")
    store.close()


def test_registry_file_alone_reveals_no_secret(tmp_path: Path) -> None:
    path = tmp_path / "registry.db"
    registry = Registry(open_store(f"sqlite://{path}"), KEY)
    secrets = [registry.add(f"cam-{n:04d}")[1] for n in range(5)]
    registry.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    for secret in secrets:
        assert secret.encode() not in raw
        assert secret[:20].encode() not in raw


def test_postgresql_dump_alone_reveals_no_secret(store_url: str) -> None:
    if not store_url.startswith("postgresql"):
        return
    registry = Registry(open_store(store_url), KEY)
    secrets = [registry.add(f"cam-{n:04d}")[1] for n in range(5)]
    registry.close()
    with psycopg.connect(store_url) as conn:
        rows = conn.execute("SELECT * FROM devices").fetchall()
    dump = repr(rows).encode() + b"".join(
        bytes(v) for row in rows for v in row if isinstance(v, bytes | memoryview)
    )
    assert len(rows) == 5
    for secret in secrets:
        assert secret.encode() not in dump
        assert secret[:20].encode() not in dump


def test_redis_dump_alone_reveals_no_secret(redis_url: str, redis_server: RedisServer) -> None:
    registry = Registry(open_store(redis_url), KEY)
    secrets = [registry.add(f"cam-{n:04d}")[1] for n in range(5)]
    client = redis_server.client()
    keys = client.keys("ossmedia:device:*")
    assert len(keys) == 5
    dump = b"".join(b"".join(client.hgetall(key).values()) for key in keys)
    for secret in secrets:
        assert secret.encode() not in dump
    registry.close()


def test_master_key_parsing() -> None:
    assert repr(KEY) == "MasterKey(<hidden>)"
    for bad in ("", "not base64 !!", "AAAA"):
        with pytest.raises(ConfigError):
            MasterKey.from_text(bad)


def test_parse_access() -> None:
    assert parse_access("all") == frozenset({"append", "write", "read"})
    assert parse_access("append, read") == frozenset({"append", "read"})
    for bad in ("", "delete", "append,list"):
        with pytest.raises(ValueError, match="access modes"):
            parse_access(bad)
