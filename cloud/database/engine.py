"""Engines from the URLs in the settings files."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool

from cloud.errors import CloudError

__all__ = [
    "DatabaseError",
    "PoolSettings",
    "describe_url",
    "is_postgres",
    "make_engine",
    "write_options",
]

_WRITE = "ossmedia_write"


class DatabaseError(CloudError):
    """A database URL is unusable or its schema is not the one this release expects."""


@dataclass(frozen=True, kw_only=True)
class PoolSettings:
    """Connection pool of a PostgreSQL engine (SQLite needs none).

    Attributes:
        size: connections kept open.
        max_overflow: extra connections opened under load, closed when idle.
        timeout_s: how long a request waits for a free connection.
        recycle_s: connections older than this are replaced (below a proxy's idle timeout).
        connect_timeout_s: how long opening a connection may take.
    """

    size: int = 5
    max_overflow: int = 10
    timeout_s: float = 10.0
    recycle_s: int = 1800
    connect_timeout_s: int = 10


def describe_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    return re.sub(r"(//[^:/@]+):[^@/]*@", r"\1:***@", url)


def is_postgres(engine: Engine) -> bool:
    """True when the engine talks to PostgreSQL."""
    return engine.dialect.name == "postgresql"


def write_options() -> dict[str, Any]:
    """Execution options of a write transaction (``BEGIN IMMEDIATE`` on SQLite).

    Without it two SQLite writers that both started reading would deadlock on the upgrade to
    a write lock and one of them would fail at once instead of waiting its turn.
    """
    return {_WRITE: True}


def _sqlite_path(url: str) -> str:
    # Everything after "sqlite://" is the path: sqlite:///var/lib/r.db is absolute,
    # sqlite://r.db is relative to the working directory, sqlite://:memory: is private.
    return url[len("sqlite://") :] or ":memory:"


def make_engine(
    url: str, *, pool: PoolSettings | None = None, busy_timeout_s: float = 10.0
) -> Engine:
    """An engine for a ``sqlite://`` or ``postgresql://`` URL.

    Args:
        url: ``sqlite:///abs/path.db``, ``sqlite://relative.db``, ``sqlite://:memory:`` or
            ``postgresql://user@host:port/db`` (``postgres://`` and ``postgresql+psycopg://``
            are accepted too).
        pool: PostgreSQL connection pool; defaults when omitted.
        busy_timeout_s: how long a SQLite writer waits for another.

    Raises:
        DatabaseError: another scheme.
    """
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme == "sqlite":
        return _sqlite_engine(_sqlite_path(url), busy_timeout_s)
    if scheme in {"postgresql", "postgres", "postgresql+psycopg"}:
        p = pool or PoolSettings()
        return sa.create_engine(
            "postgresql+psycopg://" + url.split("://", 1)[1],
            pool_size=p.size,
            max_overflow=p.max_overflow,
            pool_timeout=p.timeout_s,
            pool_recycle=p.recycle_s,
            pool_pre_ping=True,
            connect_args={"connect_timeout": p.connect_timeout_s},
        )
    raise DatabaseError(
        f"unsupported database URL {describe_url(url)!r}: sqlite:// or postgresql://"
    )


def _sqlite_engine(path: str, busy_timeout_s: float) -> Engine:
    memory = path == ":memory:"
    if memory:
        # One shared connection: a private in-memory database exists per connection.
        engine = sa.create_engine(
            "sqlite://",
            poolclass=StaticPool,
            connect_args={"check_same_thread": False},
        )
    else:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            "sqlite:///" + path,
            connect_args={"timeout": busy_timeout_s, "check_same_thread": False},
        )

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_conn: sqlite3.Connection, record: object) -> None:
        # Transactions are begun by the listener below, not by the driver.
        dbapi_conn.isolation_level = None
        if not memory:
            dbapi_conn.execute("PRAGMA journal_mode=WAL")
        dbapi_conn.execute("PRAGMA synchronous=NORMAL")

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        immediate = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
