"""model rollout: which model serves each schema (shadow, canary, history), per-worker rollout counts, and the
evaluation sets the promotion gate scores on

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.create_table(
        "model_deployments",
        sa.Column("schema_name", sa.String(128), primary_key=True),
        sa.Column("served", sa.String(128), nullable=True),
        sa.Column("candidate", sa.String(128), nullable=True),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("sample", sa.Float(), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("min_requests", sa.Integer(), nullable=False),
        sa.Column("guards", sa.JSON(), nullable=False),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "rollout_stats",
        sa.Column("schema_name", sa.String(128), primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("worker", sa.String(128), primary_key=True),
        sa.Column("role", sa.String(16), primary_key=True),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "eval_sets",
        sa.Column("schema_name", sa.String(128), primary_key=True),
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("sentences", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("eval_sets")
    op.drop_table("rollout_stats")
    op.drop_table("model_deployments")
