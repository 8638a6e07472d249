"""database identity (keys derived files such as the dense index), override version, import jobs in SQL

Revision ID: 0004
Revises: 0003
"""

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"

meta = sa.table("kb_meta", sa.column("key", sa.String), sa.column("value", sa.Integer), sa.column("text", sa.String))


def upgrade() -> None:
    with op.batch_alter_table("kb_meta") as batch:
        batch.add_column(sa.Column("text", sa.String(64), nullable=True))
    # Every database gets its own identity once, so files derived from it can tell it from any other. The
    # counters exist from the start, so concurrent writers lock the same row instead of racing to insert it.
    have = {k for (k,) in op.get_bind().execute(sa.select(meta.c.key))}
    rows = [{"key": "database_id", "value": 0, "text": uuid.uuid4().hex}]
    rows += [{"key": k, "value": 0, "text": None} for k in ("kb_version", "override_version") if k not in have]
    op.bulk_insert(meta, rows)
    op.create_table(
        "kb_jobs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("loaded", sa.Integer, nullable=False, server_default="0"),
        sa.Column("skipped", sa.Integer, nullable=False, server_default="0"),
        sa.Column("errors", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("kb_jobs")
    op.execute(meta.delete().where(meta.c.key.in_(["database_id", "override_version"])))
    with op.batch_alter_table("kb_meta") as batch:
        batch.drop_column("text")
