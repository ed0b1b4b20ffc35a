"""Recordings, cameras, retention and content keys.

A ledger file written before migrations existed already holds these tables; each one that
exists is adopted as it is, rows included.

Revision ID: l0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "l0001"
down_revision = None
branch_labels = None
depends_on = None

_TABLES = ("recordings", "cameras", "retention", "content_keys")


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    ms = sa.BigInteger
    if "recordings" not in existing:
        op.create_table(
            "recordings",
            sa.Column("event_id", sa.Text, primary_key=True),
            sa.Column("device_id", sa.Text, nullable=False),
            sa.Column("seq", sa.BigInteger, nullable=False),
            sa.Column("object_key", sa.Text, nullable=False),
            sa.Column("size", sa.BigInteger, nullable=False),
            sa.Column("crc64", sa.Text, nullable=False),
            sa.Column("start_ms", ms, nullable=False),
            sa.Column("end_ms", ms, nullable=False),
            sa.Column("received_ms", ms, nullable=False),
            sa.Column("verification", sa.Text, nullable=False, server_default="pending"),
            sa.Column("reason", sa.Text, nullable=False, server_default=""),
            sa.Column("checked_ms", ms),
            sa.Column("observed_size", sa.BigInteger),
            sa.UniqueConstraint("device_id", "seq"),
        )
        op.create_index("recordings_by_time", "recordings", ["device_id", "start_ms", "event_id"])
        op.create_index("recordings_by_check", "recordings", ["verification", "checked_ms"])
    if "cameras" not in existing:
        op.create_table(
            "cameras",
            sa.Column("device_id", sa.Text, primary_key=True),
            sa.Column("registry_state", sa.Text),
            sa.Column("status_issued_ms", ms),
            sa.Column("status_received_ms", ms),
            sa.Column("online", sa.Integer),
            sa.Column("last_upload_ms", ms),
            sa.Column("spool_bytes", sa.BigInteger),
            sa.Column("oldest_unsent_age_ms", ms),
            sa.Column("credential_expires_ms", ms),
            sa.Column("clock_offset_ms", ms),
            sa.Column("uploaded_bytes", sa.BigInteger),
            sa.Column("dropped_bytes", sa.BigInteger),
            sa.Column("n_recordings", sa.BigInteger, nullable=False, server_default="0"),
            sa.Column("n_flagged", sa.BigInteger, nullable=False, server_default="0"),
            sa.Column("last_end_ms", ms),
        )
    if "retention" not in existing:
        op.create_table(
            "retention",
            sa.Column("scope", sa.Text, primary_key=True),
            sa.Column("days", sa.Integer),
        )
    if "content_keys" not in existing:
        op.create_table(
            "content_keys",
            sa.Column("device_id", sa.Text, primary_key=True),
            sa.Column("key_id", sa.Text, primary_key=True),
            sa.Column("sealed", sa.LargeBinary, nullable=False),
            sa.Column("created_ms", ms, nullable=False),
            sa.Column("received_ms", ms, nullable=False),
        )


def downgrade() -> None:
    for table in reversed(_TABLES):
        op.drop_table(table)
