"""derived lookup keys for sports clubs' names without their designator ("Chelsea F.C." → chelsea) for entities
stored before such keys existed; bumps the KB version so no cached link outlives the new candidates

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from kb.keys import DERIVED, club_name, derived_keys
from kb.migrations.tables import aliases, entities, meta

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    conn = op.get_bind()
    clubs = {  # a few hundred of a KB's entities: only theirs are read and compared
        entity_id: derived_keys(name, types or [])
        for entity_id, name, types in conn.execute(sa.select(entities.c.id, entities.c.name, entities.c.types))
        if name and club_name(name)
    }
    ids = sorted(clubs)
    taken: set[tuple[str, str]] = set()
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        found = conn.execute(sa.select(aliases.c.entity_id, aliases.c.norm).where(aliases.c.entity_id.in_(chunk)))
        taken.update((e, n) for e, n in found)
    rows = [
        {"entity_id": entity_id, "norm": key[:500], "raw": key[:500], "source": DERIVED}
        for entity_id in ids
        for key in sorted(clubs[entity_id])
        if (entity_id, key[:500]) not in taken
    ]
    for i in range(0, len(rows), 5000):
        conn.execute(sa.insert(aliases), rows[i : i + 5000])
    if rows:
        conn.execute(meta.update().where(meta.c.key == "kb_version").values(value=meta.c.value + 1))


def downgrade() -> None:
    """The keys stay: they are what the current code derives for these names anyway."""
