"""the alias table's index on entity_id alone is dropped: the unique (entity_id, norm) index begins with the same
column and serves every lookup by entity and the foreign key's cascade, while each of the million alias rows a KB
build inserts paid for both

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    op.drop_index("ix_kb_aliases_entity_id", table_name="kb_aliases")


def downgrade() -> None:
    op.create_index("ix_kb_aliases_entity_id", "kb_aliases", ["entity_id"])
