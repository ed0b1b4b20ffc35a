"""Sign-in attempt limits, counted across console replicas: the state of each per-address
and global bucket, and the addresses an operator signed in from.

Revision ID: l0006
Revises: l0005
"""

import sqlalchemy as sa
from alembic import op

revision = "l0006"
down_revision = "l0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_buckets",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("tat_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("login_buckets_by_age", "login_buckets", ["tat_ms"])
    op.create_table(
        "login_trusted",
        sa.Column("client", sa.Text, primary_key=True),
        sa.Column("at_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("login_trusted_by_age", "login_trusted", ["at_ms"])


def downgrade() -> None:
    op.drop_table("login_trusted")
    op.drop_table("login_buckets")
