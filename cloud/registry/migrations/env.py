"""Alembic environment of the device registry."""

from alembic import context

from cloud.database.migrate import run_env

# Only Alembic gives the context a configuration; imported by anything else this does nothing.
if hasattr(context, "config"):
    run_env(context)
