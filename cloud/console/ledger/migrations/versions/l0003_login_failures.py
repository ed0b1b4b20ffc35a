"""Failed logins, counted across console replicas.

Revision ID: l0003
Revises: l0002
"""

import sqlalchemy as sa
from alembic import op

revision = "l0003"
down_revision = "l0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("username", sa.Text, nullable=False),
        sa.Column("client", sa.Text, nullable=False),
        sa.Column("at_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("login_failures_by_key", "login_failures", ["username", "client", "at_ms"])
    op.create_index("login_failures_by_age", "login_failures", ["at_ms"])


def downgrade() -> None:
    op.drop_table("login_failures")
