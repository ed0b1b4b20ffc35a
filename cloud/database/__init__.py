"""One SQL layer for the registry and the ledger: SQLite (embedded default) or PostgreSQL.

- :func:`make_engine` turns a ``sqlite://`` or ``postgresql://`` URL into a SQLAlchemy engine
  with the settings each engine needs (WAL and write transactions that take the lock at once
  on SQLite; a bounded connection pool on PostgreSQL).
- :class:`Migrations` runs one store's Alembic scripts against an engine, each store with its
  own version table so the two may share one database.
"""

from cloud.database.engine import (
    DatabaseError,
    PoolSettings,
    describe_url,
    is_postgres,
    make_engine,
    write_options,
)
from cloud.database.migrate import Migrations

__all__ = [
    "DatabaseError",
    "Migrations",
    "PoolSettings",
    "describe_url",
    "is_postgres",
    "make_engine",
    "write_options",
]
