"""Alembic, run from code: each store keeps its scripts in a package of its own.

A store's scripts live in ``<package>/migrations`` with an ``env.py`` that calls
:func:`run_env`; the version table is named after the store, so the registry and the ledger
can share one PostgreSQL database (each role then owns its own tables).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from cloud.database.engine import DatabaseError, describe_url, is_postgres

__all__ = ["Migrations", "run_env"]


class Migrations:
    """One store's migration scripts.

    Args:
        script_location: ``package:directory`` of the scripts, e.g.
            ``cloud.registry:migrations``.
        version_table: the table that records the schema revision.
        name: the store's name in messages (``registry``, ``ledger``).
        command: the command that upgrades it, named when a schema is refused.
    """

    def __init__(
        self, script_location: str, *, version_table: str, name: str, command: str
    ) -> None:
        self._location = script_location
        self.version_table = version_table
        self.name = name
        self.command = command
        # Two processes migrating one PostgreSQL database at once (replicas started with
        # migrate_at_start) take turns on this advisory lock; the second finds it done.
        self._lock_key = int.from_bytes(hashlib.sha256(version_table.encode()).digest()[:4])

    def _config(self, connection: Any) -> Config:
        config = self._scripts()
        config.attributes["version_table"] = self.version_table
        config.attributes["connection"] = connection
        return config

    def head(self) -> str:
        """The newest revision of the scripts."""
        script = ScriptDirectory.from_config(self._scripts())
        head = script.get_current_head()
        assert head is not None  # noqa: S101 - every store ships at least one script
        return head

    def _scripts(self) -> Config:
        config = Config()
        config.set_main_option("script_location", self._location)
        return config

    def current(self, engine: Engine) -> str | None:
        """The database's revision, or None for a database this store never migrated."""
        with self._errors(engine, "schema check"), engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"version_table": self.version_table})
            return ctx.get_current_revision()

    def upgrade(self, engine: Engine, revision: str = "head") -> None:
        """Bring the schema to ``revision`` (a database of the earlier release is adopted)."""
        self._run(engine, command.upgrade, revision)

    def downgrade(self, engine: Engine, revision: str) -> None:
        """Take the schema back to ``revision`` (``base`` drops this store's tables)."""
        self._run(engine, command.downgrade, revision)

    def _run(self, engine: Engine, fn: Any, revision: str) -> None:
        with self._errors(engine, f"migration to {revision}"), engine.begin() as conn:
            if is_postgres(engine):
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": self._lock_key})
            fn(self._config(conn), revision)

    @contextmanager
    def _errors(self, engine: Engine, action: str) -> Iterator[None]:
        try:
            yield
        except DatabaseError:
            raise
        except Exception as exc:
            detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
            raise DatabaseError(
                f"{self.name} {action} on {describe_url(str(engine.url))} failed: "
                f"{type(exc).__name__}{': ' + detail[0] if detail else ''}"
            ) from None

    def go_to(self, engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
        """Upgrade or downgrade to ``revision``, whichever direction it lies in.

        Returns:
            The revisions before and after.
        """
        before = self.current(engine)
        with self._errors(engine, f"migration to {revision}"):
            ahead = self._ahead(revision, before)
        if revision in {"head", "heads"} or ahead:
            self.upgrade(engine, revision)
        else:
            self.downgrade(engine, revision)
        return before, self.current(engine)

    def _ahead(self, revision: str, current: str | None) -> bool:
        if current is None:
            return True
        script = ScriptDirectory.from_config(self._scripts())
        try:
            # ``revision`` and everything below it: the current revision among them means
            # ``revision`` lies ahead.
            walk = list(script.walk_revisions("base", revision)) if revision != "base" else []
        except Exception:
            return True
        return any(rev.revision == current for rev in walk) and revision != current

    def require_current(self, engine: Engine) -> None:
        """Refuse a database whose schema is not this release's.

        Raises:
            DatabaseError: the schema is older or newer; says which command upgrades it.
        """
        current, head = self.current(engine), self.head()
        if current != head:
            raise DatabaseError(
                f"{self.name} schema on {describe_url(str(engine.url))} is at "
                f"{current or 'no revision'}, this release needs {head}: "
                f"run '{self.command}'"
            )


def run_env(context: Any) -> None:
    """The body of every store's ``env.py``: migrate on the connection handed over."""
    config = context.config
    connection = config.attributes["connection"]
    context.configure(
        connection=connection,
        version_table=config.attributes["version_table"],
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
