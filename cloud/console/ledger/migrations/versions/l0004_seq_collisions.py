"""Sequence numbers stop being unique per camera; collisions are counted per camera.

A camera whose spool was wiped, or a replacement after ``devices rotate``, counts from 0
again: ``(device_id, seq)`` loses its unique constraint (an index remains for the lookup of
earlier uses), and ``cameras.n_seq_collisions`` counts the reuses. A ledger that already has
this shape is left as it is.

Downgrade drops the index and the counter but does not bring the constraint back: the ledger
may hold collisions by then.

Revision ID: l0004
Revises: l0003
"""

import sqlalchemy as sa
from alembic import op

revision = "l0004"
down_revision = "l0003"
branch_labels = None
depends_on = None

_RECORDINGS = (
    "event_id, device_id, seq, object_key, size, crc64, start_ms, end_ms, received_ms,"
    " verification, reason, checked_ms, observed_size"
)


def _seq_unique(inspector: sa.Inspector) -> list[str | None]:
    return [
        c.get("name")
        for c in inspector.get_unique_constraints("recordings")
        if list(c["column_names"]) == ["device_id", "seq"]
    ]


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    unique = _seq_unique(inspector)
    if unique and bind.dialect.name == "sqlite":
        # SQLite cannot drop a constraint: copy the rows into a table without it.
        op.execute("ALTER TABLE recordings RENAME TO recordings_v1")
        op.create_table(
            "recordings",
            sa.Column("event_id", sa.Text, primary_key=True),
            sa.Column("device_id", sa.Text, nullable=False),
            sa.Column("seq", sa.BigInteger, nullable=False),
            sa.Column("object_key", sa.Text, nullable=False),
            sa.Column("size", sa.BigInteger, nullable=False),
            sa.Column("crc64", sa.Text, nullable=False),
            sa.Column("start_ms", sa.BigInteger, nullable=False),
            sa.Column("end_ms", sa.BigInteger, nullable=False),
            sa.Column("received_ms", sa.BigInteger, nullable=False),
            sa.Column("verification", sa.Text, nullable=False, server_default="pending"),
            sa.Column("reason", sa.Text, nullable=False, server_default=""),
            sa.Column("checked_ms", sa.BigInteger),
            sa.Column("observed_size", sa.BigInteger),
        )
        op.execute(
            f"INSERT INTO recordings ({_RECORDINGS}) SELECT {_RECORDINGS} FROM recordings_v1"  # noqa: S608
        )
        op.drop_table("recordings_v1")  # its indexes go with it
        op.create_index("recordings_by_time", "recordings", ["device_id", "start_ms", "event_id"])
        op.create_index("recordings_by_check", "recordings", ["verification", "checked_ms"])
    elif unique:
        for name in unique:
            if name is not None:  # PostgreSQL names every constraint
                op.drop_constraint(name, "recordings", type_="unique")
    indexes = {i["name"] for i in sa.inspect(bind).get_indexes("recordings")}
    if "recordings_by_seq" not in indexes:
        op.create_index("recordings_by_seq", "recordings", ["device_id", "seq"])
    columns = {c["name"] for c in sa.inspect(bind).get_columns("cameras")}
    if "n_seq_collisions" not in columns:
        op.add_column(
            "cameras",
            sa.Column("n_seq_collisions", sa.BigInteger, nullable=False, server_default="0"),
        )


def downgrade() -> None:
    op.drop_index("recordings_by_seq", table_name="recordings")
    with op.batch_alter_table("cameras") as batch:
        batch.drop_column("n_seq_collisions")
