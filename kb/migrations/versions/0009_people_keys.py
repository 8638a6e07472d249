"""derived lookup keys of peoples ("Human Population": "Greek American", "Black British") drop the surname key that
earlier code derived for them as for a person ("american", "british"); bumps the KB version so no cached link
made with those keys is served again

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

from kb.keys import DERIVED, derived_keys, is_person
from kb.migrations.tables import aliases, entities, meta

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    conn = op.get_bind()
    typed = sa.cast(entities.c.types, sa.String).ilike("%human%")  # the few entities earlier code took for people
    rows = conn.execute(sa.select(entities.c.id, entities.c.name, entities.c.types).where(typed))
    peoples = {i: derived_keys(name, types or []) for i, name, types in rows if name and not is_person(types or [])}
    removed = 0
    for entity_id, keys in peoples.items():
        stale = sa.and_(aliases.c.entity_id == entity_id, aliases.c.source == DERIVED, aliases.c.norm.notin_(keys))
        removed += conn.execute(sa.delete(aliases).where(stale)).rowcount or 0
    if removed:
        conn.execute(meta.update().where(meta.c.key == "kb_version").values(value=meta.c.value + 1))


def downgrade() -> None:
    """The keys stay dropped: they are what the current code derives for these names anyway."""
