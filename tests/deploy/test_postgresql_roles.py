"""deploy/postgresql/roles.sql on a real PostgreSQL server: each store migrated by its owner,
the responder reads the registry and cannot touch the ledger, the console owns the ledger and
writes registry rows but not the registry's schema, and no role is a superuser."""

from __future__ import annotations

import io
from pathlib import Path

import psycopg
import pytest
from psycopg import errors

from cloud.console.ledger import Ledger
from cloud.registry import MasterKey, Registry, new_master_key, open_store
from cloud.registry.cli import run as devices_cli
from tests.cloud.console.test_ledger import facts
from tests.fixtures.postgres import PostgresServer

ROLES = Path(__file__).resolve().parents[2] / "deploy" / "postgresql" / "roles.sql"


def _as(url: str, role: str) -> str:
    # The test server trusts loopback, so a role needs no password here.
    return url.replace("ossmedia_test@", f"{role}@", 1)


def test_roles_give_each_service_only_what_it_needs(postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database()
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(ROLES.read_text())  # type: ignore[arg-type]
        roles = admin.execute(
            "SELECT rolname, rolsuper OR rolcreatedb OR rolcreaterole OR rolbypassrls"
            " FROM pg_roles WHERE rolname IN"
            " ('ossmedia_registry', 'ossmedia_console', 'ossmedia_responder') ORDER BY 1"
        ).fetchall()
    assert roles == [
        ("ossmedia_console", False),
        ("ossmedia_registry", False),
        ("ossmedia_responder", False),
    ]
    out, err = io.StringIO(), io.StringIO()
    registry_url = _as(url, "ossmedia_registry")
    assert devices_cli(["--registry", registry_url, "migrate"], {}, out, err) == 0, err.getvalue()
    key = MasterKey.from_text(new_master_key())
    owner = Registry(open_store(registry_url), key)
    owner.add("cam-0001")
    owner.close()
    console_url = _as(url, "ossmedia_console")
    ledger = Ledger(console_url, migrate=True)  # the console owns the ledger
    assert ledger.record_segment(facts("a", 1, 0), now_ms=0)
    ledger.close()
    # The console writes registry rows.
    console_registry = Registry(open_store(console_url), key)
    console_registry.add("cam-0002")
    console_registry.revoke("cam-0001")
    console_registry.close()
    # The responder reads the registry...
    responder = Registry(open_store(_as(url, "ossmedia_responder")), key)
    assert responder.lookup("cam-0002") is not None
    responder.close()
    with psycopg.connect(_as(url, "ossmedia_responder")) as conn:
        # ... and can neither change it nor read or change the ledger.
        for statement in (
            "DELETE FROM devices",
            "SELECT * FROM recordings",
            "SELECT * FROM sessions",
            "INSERT INTO cameras (device_id) VALUES ('x')",
        ):
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(statement)  # type: ignore[arg-type]
            conn.rollback()
    with psycopg.connect(console_url) as conn:
        # The console cannot change the registry's schema.
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("ALTER TABLE devices ADD COLUMN x TEXT")
        conn.rollback()
