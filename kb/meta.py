"""Version counters and the database's identity, kept in ``kb_meta``.

Everything derived from the database (result caches, the dense index) is keyed by these: a write bumps the
counter it affects, so nothing derived outlives the data it came from, across processes and machines too.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kb.models import MetaRow

KB_VERSION = "kb_version"
OVERRIDE_VERSION = "override_version"
MODEL_VERSION = "model_version"
DATABASE_ID = "database_id"


_KEYS = [KB_VERSION, OVERRIDE_VERSION, MODEL_VERSION, DATABASE_ID]


@dataclass(frozen=True)
class KBState:
    """What a derived thing depends on: which database, its KB and override versions, and the version of its
    model registry (which model each name means)."""

    database_id: str
    kb_version: int
    override_version: int
    model_version: int = 0


def read_state(sessions: sessionmaker[Session]) -> KBState:
    """The current state in one query (this runs once per request)."""
    with sessions() as s:
        rows = {r.key: r for r in s.scalars(select(MetaRow).where(MetaRow.key.in_(_KEYS)))}
    ident = rows.get(DATABASE_ID)
    return KBState(
        database_id=ident.text or "" if ident else "",
        kb_version=rows[KB_VERSION].value if KB_VERSION in rows else 0,
        override_version=rows[OVERRIDE_VERSION].value if OVERRIDE_VERSION in rows else 0,
        model_version=rows[MODEL_VERSION].value if MODEL_VERSION in rows else 0,
    )


def bump(s: Session, key: str) -> int:
    """Increment a counter inside the caller's transaction (row-locked on PostgreSQL) and return it."""
    row = s.get(MetaRow, key, with_for_update=True)
    if row is None:
        row = MetaRow(key=key, value=0)
        s.add(row)
    row.value += 1
    s.flush()
    return row.value
