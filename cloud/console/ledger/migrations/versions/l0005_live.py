"""Recordings in progress (``segment.opened``) and the fragment index of each object.

A ledger file that already holds these tables keeps them, rows included.

Revision ID: l0005
Revises: l0004
"""

import sqlalchemy as sa
from alembic import op

revision = "l0005"
down_revision = "l0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "live_objects" not in existing:
        op.create_table(
            "live_objects",
            sa.Column("event_id", sa.Text, primary_key=True),
            sa.Column("device_id", sa.Text, nullable=False),
            sa.Column("seq", sa.BigInteger, nullable=False),
            sa.Column("object_key", sa.Text, nullable=False),
            sa.Column("start_ms", sa.BigInteger, nullable=False),
            sa.Column("received_ms", sa.BigInteger, nullable=False),
            sa.Column("closed", sa.Integer, nullable=False, server_default="0"),
            sa.Column("size", sa.BigInteger, nullable=False, server_default="0"),
            sa.Column("size_ms", sa.BigInteger),
            sa.Column("end_ms", sa.BigInteger),
            sa.UniqueConstraint("device_id", "seq"),
        )
        op.create_index("live_by_device", "live_objects", ["device_id", "closed", "seq"])
    if "live_closed" not in existing:
        op.create_table(
            "live_closed",
            sa.Column("device_id", sa.Text, primary_key=True),
            sa.Column("seq", sa.BigInteger, primary_key=True),
        )
    if "fragment_index" not in existing:
        op.create_table(
            "fragment_index",
            sa.Column("object_key", sa.Text, primary_key=True),
            sa.Column("state", sa.Text, nullable=False),
        )


def downgrade() -> None:
    op.drop_table("fragment_index")
    op.drop_table("live_closed")
    op.drop_table("live_objects")
