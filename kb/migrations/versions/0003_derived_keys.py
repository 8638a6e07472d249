"""derived lookup keys (punctuation-free names, acronyms, surnames) for entities stored before they existed

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from kb.keys import DERIVED, derived_keys
from kb.migrations.tables import aliases, entities

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    conn = op.get_bind()
    taken = {(e, n) for e, n in conn.execute(sa.select(aliases.c.entity_id, aliases.c.norm))}
    rows = [
        {"entity_id": entity_id, "norm": key[:500], "raw": key[:500], "source": DERIVED}
        for entity_id, name, types in conn.execute(sa.select(entities.c.id, entities.c.name, entities.c.types))
        for key in sorted(derived_keys(name, types or []))
        if (entity_id, key[:500]) not in taken
    ]
    for i in range(0, len(rows), 5000):
        conn.execute(sa.insert(aliases), rows[i : i + 5000])


def downgrade() -> None:
    op.execute(aliases.delete().where(aliases.c.source == DERIVED))
