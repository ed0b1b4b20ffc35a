"""What console replicas share beyond the ledger: operator sessions and leases.

Revision ID: l0002
Revises: l0001
"""

import sqlalchemy as sa
from alembic import op

revision = "l0002"
down_revision = "l0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sessions",
        # SHA-256 of the session id: a reader of the database cannot sign in with it.
        sa.Column("id_hash", sa.Text, primary_key=True),
        sa.Column("username", sa.Text, nullable=False),
        sa.Column("csrf_token", sa.Text, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("sessions_by_age", "sessions", ["created_ms"])
    op.create_table(
        "leases",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("holder", sa.Text, nullable=False),
        sa.Column("expires_ms", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("leases")
    op.drop_index("sessions_by_age", table_name="sessions")
    op.drop_table("sessions")
