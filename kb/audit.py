"""The audit log: who changed what, when, with the state before and after."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kb.models import AuditRow


def record(
    s: Session,
    actor: str,
    action: str,
    kind: str,
    object_id: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    """Add one entry inside the caller's transaction, so the change and its record commit together."""
    s.add(AuditRow(actor=actor, action=action, object_type=kind, object_id=object_id, before=before, after=after))


def read(sessions: sessionmaker[Session], limit: int = 100, kind: str | None = None) -> list[dict[str, Any]]:
    """Newest first, optionally only one kind of object (``entity``, ``override``, ``import``)."""
    with sessions() as s:
        q = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
        if kind:
            q = q.where(AuditRow.object_type == kind)
        return [
            {
                "id": r.id,
                "at": r.at.isoformat(),
                "actor": r.actor,
                "action": r.action,
                "object_type": r.object_type,
                "object_id": r.object_id,
                "before": r.before,
                "after": r.after,
            }
            for r in s.scalars(q)
        ]
