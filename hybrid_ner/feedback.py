"""User corrections: texts with their right entities (and links), kept in SQL as training data.

A correction is checked against its schema before anything is stored: offsets inside the text, labels that are
the schema's types, no overlaps, and linked ids that exist. Stored corrections never change a served model by
themselves; ``feedback export`` turns them into what ``adapt --train`` reads. A corrected link does change the KB:
the mention becomes an alias of the right entity (a versioned, audited write), so the next request finds it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from hybrid_ner.schemas import Schema
from hybrid_ner.spans import End, Start
from kb import audit
from kb.store import KBStore

FEEDBACK_ALIAS_SOURCE = "feedback"
MAX_ENTITIES = 500


class FeedbackError(ValueError):
    """A correction that does not fit its text, its schema or the KB; ``field`` says where."""

    def __init__(self, field: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.field = field


class CorrectedEntity(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: Start
    end: End
    label: str = Field(min_length=1, max_length=64)


class CorrectedLink(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: Start
    end: End
    kb_id: str = Field(min_length=1, max_length=200)


class Correction(BaseModel):
    """A text with its right entities (offsets into the text, labels of the schema) and, optionally, links."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    text: str = Field(min_length=1)
    entities: list[CorrectedEntity] = Field(default_factory=list, max_length=MAX_ENTITIES)
    links: list[CorrectedLink] = Field(default_factory=list, max_length=MAX_ENTITIES)
    schema_name: str | None = Field(default=None, alias="schema", max_length=128, description="Default: default.")


def check(correction: Correction, schema: Schema, kb: KBStore | None) -> list[dict[str, Any]]:
    """The entities with canonical labels; raises :class:`FeedbackError` naming the first problem."""
    text = correction.text
    names = {t.name.casefold(): t.name for t in schema.types}
    out: list[dict[str, Any]] = []
    for i, e in enumerate(correction.entities):
        _in_text(("entities", i), e.start, e.end, text)
        if e.label.casefold() not in names:
            raise FeedbackError(
                ("entities", i, "label"), f"{e.label!r} is not a type of schema {schema.name!r}: {schema.labels}"
            )
        out.append({"start": e.start, "end": e.end, "label": names[e.label.casefold()]})
    ordered = sorted(out, key=lambda e: (e["start"], e["end"]))
    for a, b in pairwise(ordered):
        if b["start"] < a["end"]:
            raise FeedbackError(("entities",), f"entities overlap at offset {b['start']}")
    for i, link in enumerate(correction.links):
        _in_text(("links", i), link.start, link.end, text)
    wanted = {link.kb_id for link in correction.links}
    if wanted:
        found = kb.get(wanted) if kb is not None else {}
        for i, link in enumerate(correction.links):
            if link.kb_id not in found:
                raise FeedbackError(("links", i, "kb_id"), f"no KB entity {link.kb_id!r}")
    return out


def _in_text(field: tuple[str | int, ...], start: int, end: int, text: str) -> None:
    if not start < end <= len(text):
        raise FeedbackError(field, f"[{start}, {end}) is not inside the text (length {len(text)})")
    if not text[start:end].strip():
        raise FeedbackError(field, f"[{start}, {end}) covers only whitespace")


class FeedbackStore:
    """Corrections in SQL, audited; reading them back for admins and for export."""

    def __init__(self, sessions: sessionmaker[Session], kb: KBStore) -> None:
        self._sessions = sessions
        self._kb = kb

    def add(self, correction: Correction, schema: Schema, actor: str) -> dict[str, Any]:
        """Check and store one correction; a corrected link also adds the mention as an alias of its entity."""
        from kb.models import FeedbackRow

        entities = check(correction, schema, self._kb)
        links = [link.model_dump() for link in correction.links]
        digest = hashlib.sha256(correction.text.encode()).hexdigest()
        with self._sessions.begin() as s:
            row = FeedbackRow(
                actor=actor, schema_name=schema.name, schema_version=schema.version or 1, text=correction.text,
                text_digest=digest, entities=entities, links=links,
            )  # fmt: skip
            s.add(row)
            s.flush()
            summary = {"schema": schema.name, "entities": len(entities), "links": len(links), "text_sha256": digest}
            audit.record(s, actor, "create", "feedback", str(row.id), None, summary)
        aliases = [(link.kb_id, correction.text[link.start : link.end]) for link in correction.links]
        added = self._kb.add_aliases(aliases, FEEDBACK_ALIAS_SOURCE, actor) if aliases else 0
        return {"id": row.id, "entities": len(entities), "links": len(links), "aliases_added": added}

    def recent(self, limit: int = 100, offset: int = 0, schema: str | None = None) -> list[dict[str, Any]]:
        """Newest first."""
        from kb.models import FeedbackRow

        q = select(FeedbackRow).order_by(FeedbackRow.id.desc()).limit(limit).offset(offset)
        if schema is not None:
            q = q.where(FeedbackRow.schema_name == schema)
        with self._sessions() as s:
            return [_row(r) for r in s.scalars(q)]

    def rows(self, schema: str | None = None) -> Iterator[dict[str, Any]]:
        """Every correction, oldest first, in pages (for export)."""
        from kb.models import FeedbackRow

        last = 0
        while True:
            q = select(FeedbackRow).where(FeedbackRow.id > last).order_by(FeedbackRow.id).limit(500)
            if schema is not None:
                q = q.where(FeedbackRow.schema_name == schema)
            with self._sessions() as s:
                page = [_row(r) for r in s.scalars(q)]
            if not page:
                return
            yield from page
            last = page[-1]["id"]

    def delete(self, ids: list[int], actor: str) -> int:
        return self._purge(ids=ids, actor=actor)

    def purge_older_than(self, days: float, actor: str) -> int:
        return self._purge(before=datetime.now(UTC) - timedelta(days=days), actor=actor)

    def _purge(self, actor: str, ids: list[int] | None = None, before: datetime | None = None) -> int:
        from kb.models import FeedbackRow

        where = FeedbackRow.id.in_(ids) if ids is not None else FeedbackRow.created_at < before
        with self._sessions.begin() as s:
            gone = [int(i) for i in s.scalars(select(FeedbackRow.id).where(where))]
            if gone:
                s.execute(delete(FeedbackRow).where(FeedbackRow.id.in_(gone)))
                detail = {"ids": gone[:1000], "count": len(gone), **({"before": before.isoformat()} if before else {})}
                audit.record(s, actor, "delete", "feedback", ",".join(map(str, gone[:20]))[:200], detail, None)
        return len(gone)


def _row(r: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "created_at": r.created_at.isoformat() if r.created_at else None,
        "actor": r.actor,
        "schema": r.schema_name,
        "schema_version": r.schema_version,
        "text": r.text,
        "entities": list(r.entities or []),
        "links": list(r.links or []),
    }
