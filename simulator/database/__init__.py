"""Database tools: a throw-away PostgreSQL server (tests, benchmarks)."""

from simulator.database.server import PostgresServer, postgres_bindir

__all__ = ["PostgresServer", "postgres_bindir"]
