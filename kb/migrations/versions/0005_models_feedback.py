"""registered NER models (with their files, by content digest) and user feedback

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"

meta = sa.table("kb_meta", sa.column("key", sa.String), sa.column("value", sa.Integer), sa.column("text", sa.String))


def upgrade() -> None:
    op.create_table(
        "models",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("card", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
    )
    op.create_table(
        "model_files",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("schema_name", sa.String(128), nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("text_digest", sa.String(64), nullable=False),
        sa.Column("entities", sa.JSON(), nullable=False),
        sa.Column("links", sa.JSON(), nullable=False),
    )
    op.create_index("ix_feedback_created_at", "feedback", ["created_at"])
    op.create_index("ix_feedback_schema_name", "feedback", ["schema_name"])
    # Bumped by every registration, so every worker re-reads which model a name means.
    op.bulk_insert(meta, [{"key": "model_version", "value": 0, "text": None}])


def downgrade() -> None:
    op.execute(meta.delete().where(meta.c.key == "model_version"))
    op.drop_table("feedback")
    op.drop_table("model_files")
    op.drop_table("models")
