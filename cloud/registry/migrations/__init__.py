"""Alembic scripts of the device registry (run by ``ossmedia devices migrate``)."""
