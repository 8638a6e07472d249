"""knowledge base: entities, aliases, overrides, audit log, meta

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "kb_entities",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("types", sa.JSON(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("prior", sa.Float(), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("updated_seq", sa.Integer(), nullable=False),
    )
    op.create_index("ix_kb_entities_updated_seq", "kb_entities", ["updated_seq"])
    op.create_table(
        "kb_aliases",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("entity_id", sa.String(200), sa.ForeignKey("kb_entities.id", ondelete="CASCADE"), nullable=False),
        sa.Column("norm", sa.String(500), nullable=False),
        sa.Column("raw", sa.String(500), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.UniqueConstraint("entity_id", "norm", name="uq_alias_entity_norm"),
    )
    op.create_index("ix_kb_aliases_entity_id", "kb_aliases", ["entity_id"])
    op.create_index("ix_kb_aliases_norm", "kb_aliases", ["norm"])
    op.create_table(
        "kb_overrides",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("pattern", sa.String(500), nullable=False),
        sa.Column("match", sa.String(16), nullable=False),
        sa.Column("label", sa.String(64), nullable=True),
        sa.Column("context", sa.String(500), nullable=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("kb_id", sa.String(200), nullable=True),
        sa.Column("drop_entity", sa.Boolean(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(500), nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("object_type", sa.String(32), nullable=False),
        sa.Column("object_id", sa.String(200), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_table(
        "kb_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    for table in ("kb_meta", "audit_log", "kb_overrides", "kb_aliases", "kb_entities"):
        op.drop_table(table)
