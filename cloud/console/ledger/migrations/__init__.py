"""Alembic scripts of the recording ledger (run by ``ossmedia console migrate``)."""
