"""The KB store: entities and aliases in SQL, alias lookup, a version counter, overrides and the audit log."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from kb.models import AliasRow, AuditRow, KBEntityRow, MetaRow, OverrideRow

KB_VERSION = "kb_version"
_SPACES = re.compile(r"\s+")
_EDGE_PUNCT = re.compile(r"^[\W_]+|[\W_]+$")
_WORD = re.compile(r"[^\W_]+")
_QID = re.compile(r"Q(\d+)")
DERIVED = "derived"  # alias source of lookup keys the store derives itself (hidden from entity records)
# Words that name a company's legal form, cut from the end of a name ("General Electric Co." → general electric).
_ORG_SUFFIXES = frozenset(
    [
        "inc",
        "incorporated",
        "corp",
        "corporation",
        "co",
        "company",
        "cos",
        "ltd",
        "limited",
        "plc",
        "llc",
        "lp",
        "ag",
        "sa",
        "nv",
        "bv",
        "gmbh",
        "spa",
        "se",
        "group",
        "holdings",
    ]
)
_NAME_SUFFIXES = frozenset(["jr", "sr", "ii", "iii", "iv"])
_ACRONYM_STOP = frozenset(["of", "the", "and", "for", "de", "la", "le", "du", "des", "del", "di", "da", "von", "van"])
_PERSON_TYPES = ("person", "human")
_TITLES = frozenset(
    {
        "president",
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "professor",
        "sir",
        "dame",
        "lord",
        "lady",
        "gov",
        "governor",
        "sen",
        "senator",
        "rep",
        "gen",
        "general",
        "judge",
        "justice",
        "king",
        "queen",
        "prince",
        "princess",
        "pope",
        "chancellor",
        "minister",
        "secretary",
        "chairman",
        "coach",
        "mayor",
    }
)
_QUALIFIER = re.compile(r"\s*\([^)]*\)\s*$|,.*$")


def normalize(text: str) -> str:
    """Alias key: case-folded, accents stripped, inner whitespace collapsed, edge punctuation removed."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _EDGE_PUNCT.sub("", _SPACES.sub(" ", stripped.casefold()).strip())


def words(text: str) -> list[str]:
    """The normalized words of a text, punctuation dropped."""
    return _WORD.findall(normalize(text))


def lookup_keys(text: str) -> set[str]:
    """Looser keys for a surface form: punctuation dropped ("W.R. Grace" → w r grace), dotted initials
    joined ("N.J." → nj), a leading "the" and trailing legal-form words cut ("Volkswagen AG" → volkswagen),
    a title ("President Bush" → bush) and what follows a comma ("Boston, Massachusetts" → boston)."""
    ws = words(text)
    keys = {" ".join(ws)}
    if "," in text:  # "Boston, Massachusetts" → boston
        keys.add(" ".join(words(text.split(",", 1)[0])))
    if len(ws) > 1 and ws[0] in _TITLES:  # "President Bush" → bush
        keys.add(" ".join(ws[1:]))
    if len(ws) > 1 and all(len(w) == 1 for w in ws):
        keys.add("".join(ws))
    if len(ws) > 1 and ws[0] == "the":
        ws = ws[1:]
        keys.add(" ".join(ws))
    while len(ws) > 1 and (ws[-1] in _ORG_SUFFIXES or ws[-1] == "and"):
        ws = ws[:-1]
        keys.add(" ".join(ws))
    return keys - {""}


def derived_keys(name: str, types: Sequence[str]) -> set[str]:
    """Keys an entity is found by besides its aliases: its lookup keys, its acronym ("New York Stock
    Exchange" → nyse), and for people the surname ("Nick Saban" → saban)."""
    from kb.gazetteer import alternates

    keys = lookup_keys(name)
    for other in alternates().get(normalize(name), ()):
        keys |= lookup_keys(other)
    head = _QUALIFIER.sub("", name).strip()  # "Washington, D.C." → Washington; "Mercury (planet)" → Mercury
    if head and head != name:
        keys |= lookup_keys(head)
    ws = words(head or name)
    if len(ws) > 1 and ws[-1] == "city":  # "New York City" → new york
        keys.add(" ".join(ws[:-1]))
    content = [w for w in ws if w not in _ACRONYM_STOP]
    if len(content) > 1 and all(w.isalpha() for w in content):
        keys.add("".join(w[0] for w in content))
    if any(t in " ".join(types).lower() for t in _PERSON_TYPES):
        given = [w for w in ws if w not in _NAME_SUFFIXES]
        if len(given) > 1 and len(given[-1]) > 2:
            keys.add(given[-1])
    return keys


def popularity(entity_id: str, prior: float) -> float:
    """Higher is better known: the KB's prior when it has one; else, for Wikidata ids, the item number
    (low numbers were created first, from the most-linked Wikipedia articles)."""
    if prior > 0:
        return math.log1p(prior)
    qid = _QID.fullmatch(entity_id)
    return -math.log10(int(qid.group(1))) if qid else 0.0


class EntityIn(BaseModel):
    """One entity as loaders and the admin API accept it."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=200)
    name: str = Field(default="", max_length=500)
    aliases: list[str] = Field(default_factory=list, max_length=500)
    types: list[str] = Field(default_factory=list, max_length=50)
    description: str = Field(default="", max_length=5000)
    prior: float = Field(default=0.0, ge=0.0)
    attributes: dict[str, Any] = Field(default_factory=dict)


@dataclass
class EntityRecord:
    id: str
    name: str
    types: list[str]
    description: str
    prior: float
    aliases: list[str] = field(default_factory=list)

    def text(self) -> str:
        """What the embedder sees: the name, its types and its description."""
        parts = [self.name or (self.aliases[0] if self.aliases else self.id)]
        if self.types:
            parts.append("(" + ", ".join(self.types[:3]) + ")")
        if self.description:
            parts.append(self.description)
        return " ".join(parts)


def _record(row: KBEntityRow, aliases: list[str]) -> EntityRecord:
    return EntityRecord(row.id, row.name, list(row.types or []), row.description, row.prior, aliases)


class KBStore:
    """Entities and aliases through SQLAlchemy; the same code on SQLite and PostgreSQL."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    # ---------------------------------------------------------------- versions

    def version(self) -> int:
        with self._sessions() as s:
            row = s.get(MetaRow, KB_VERSION)
            return row.value if row else 0

    def _bump(self, s: Session) -> int:
        row = s.get(MetaRow, KB_VERSION, with_for_update=True)
        if row is None:
            row = MetaRow(key=KB_VERSION, value=0)
            s.add(row)
        row.value += 1
        s.flush()
        return row.value

    # ---------------------------------------------------------------- writes

    def upsert(self, entities: Sequence[EntityIn], source: str = "", actor: str | None = None) -> int:
        """Insert or replace entities and their aliases in one transaction; re-running is idempotent.

        With ``actor`` (admin API writes) each change is also recorded in the audit log.
        """
        by_id = {e.id: e for e in entities}  # a duplicate id inside a batch: the last one wins
        if not by_id:
            return 0
        with self._sessions.begin() as s:
            seq = self._bump(s)
            ids = list(by_id)
            existing = {r.id: r for r in s.scalars(select(KBEntityRow).where(KBEntityRow.id.in_(ids)))}
            if actor is not None:
                for e in by_id.values():
                    before = _entity_dict(existing[e.id]) if e.id in existing else None
                    after = e.model_dump(mode="json")
                    self.audit(s, actor, "update" if before else "create", "entity", e.id, before, after)
            for e in by_id.values():
                row = existing.get(e.id) or KBEntityRow(id=e.id)
                row.name, row.types, row.description = e.name, list(e.types), e.description
                row.prior, row.attributes, row.updated_seq = e.prior, dict(e.attributes), seq
                if e.id not in existing:
                    s.add(row)
            s.flush()
            s.execute(delete(AliasRow).where(AliasRow.entity_id.in_(ids)))
            alias_rows = []
            for e in by_id.values():
                seen: set[str] = set()
                for raw in [e.name, *e.aliases]:
                    norm = normalize(raw)[:500]
                    if norm and norm not in seen:
                        seen.add(norm)
                        alias_rows.append({"entity_id": e.id, "norm": norm, "raw": raw[:500], "source": source})
                for key in sorted(derived_keys(e.name, e.types) - seen):
                    alias_rows.append({"entity_id": e.id, "norm": key[:500], "raw": key[:500], "source": DERIVED})
            if alias_rows:
                s.execute(insert(AliasRow), alias_rows)
        return len(by_id)

    def delete_entity(self, entity_id: str, actor: str = "") -> bool:
        with self._sessions.begin() as s:
            row = s.get(KBEntityRow, entity_id)
            if row is None:
                return False
            self.audit(s, actor, "delete", "entity", entity_id, _entity_dict(row), None)
            s.execute(delete(AliasRow).where(AliasRow.entity_id == entity_id))
            s.delete(row)
            self._bump(s)
        return True

    # ---------------------------------------------------------------- reads

    def count(self) -> int:
        with self._sessions() as s:
            return int(s.scalar(select(func.count()).select_from(KBEntityRow)) or 0)

    def exists(self, entity_id: str) -> bool:
        with self._sessions() as s:
            return s.get(KBEntityRow, entity_id) is not None

    def get(self, ids: Iterable[str]) -> dict[str, EntityRecord]:
        """Records by id (plain column reads, no ORM objects: this is on every link's path)."""
        wanted = list(dict.fromkeys(ids))
        e, a = KBEntityRow, AliasRow
        out: dict[str, EntityRecord] = {}
        with self._sessions() as s:
            for chunk in _chunks(wanted, 500):
                aliases: dict[str, list[str]] = {}
                for entity_id, raw in s.execute(
                    select(a.entity_id, a.raw).where(a.entity_id.in_(chunk), a.source != DERIVED).order_by(a.id)
                ):
                    aliases.setdefault(entity_id, []).append(raw)
                for i, name, types, description, prior in s.execute(
                    select(e.id, e.name, e.types, e.description, e.prior).where(e.id.in_(chunk))
                ):
                    out[i] = EntityRecord(i, name, list(types or []), description, prior, aliases.get(i, []))
        return out

    def lookup(self, keys: Iterable[str]) -> dict[str, list[tuple[str, bool]]]:
        """Key → (entity id, whether the key is one of its aliases rather than derived), best known first;
        one query for aliases and derived keys alike."""
        found: dict[str, list[tuple[float, str, bool]]] = {}
        with self._sessions() as s:
            for chunk in _chunks(sorted(set(keys) - {""}), 500):
                q = (
                    select(AliasRow.norm, AliasRow.entity_id, AliasRow.source, KBEntityRow.prior)
                    .join(KBEntityRow, KBEntityRow.id == AliasRow.entity_id)
                    .where(AliasRow.norm.in_(chunk))
                )
                for norm, entity_id, source, prior in s.execute(q):
                    found.setdefault(norm, []).append((popularity(entity_id, prior), entity_id, source != DERIVED))
        return {
            k: [(i, alias) for _, i, alias in sorted(hits, key=lambda h: (-h[0], h[1]))] for k, hits in found.items()
        }

    def by_alias(self, forms: Iterable[str]) -> dict[str, list[str]]:
        """Normalized form → entity ids that have it as an alias."""
        hits = self.lookup(normalize(f) for f in forms)
        return {k: ids for k, v in hits.items() if (ids := [i for i, alias in v if alias])}

    def by_key(self, keys: Iterable[str]) -> dict[str, list[str]]:
        """Lookup key (see ``lookup_keys``) → entity ids found by it, aliases and derived keys alike,
        best known first."""
        return {k: [i for i, _ in v] for k, v in self.lookup(keys).items()}

    def changed_since(self, seq: int, batch: int = 5000) -> Iterator[list[EntityRecord]]:
        """Entities written after version ``seq``, in batches (for incremental index updates)."""
        last = ""
        while True:
            with self._sessions() as s:
                rows = s.scalars(
                    select(KBEntityRow)
                    .where(KBEntityRow.updated_seq > seq, KBEntityRow.id > last)
                    .order_by(KBEntityRow.id)
                    .limit(batch)
                ).all()
            if not rows:
                return
            last = rows[-1].id
            yield [_record(r, []) for r in rows]

    # ---------------------------------------------------------------- overrides

    def overrides(self) -> list[Any]:
        """Every rule, enabled or not; read on each request, so edits apply at once."""
        from linking.overrides import Override

        with self._sessions() as s:
            rows = s.scalars(select(OverrideRow).order_by(OverrideRow.id)).all()
            return [Override.model_validate(_override_dict(r)) for r in rows]

    def save_override(self, rule: Any, actor: str, rule_id: int | None = None) -> Any:
        """Create (``rule_id`` None) or replace a rule; an unknown KB id is rejected and nothing is stored."""
        from linking.overrides import Override

        if rule.kb_id is not None and not self.exists(rule.kb_id):
            raise LookupError(f"unknown KB id {rule.kb_id!r}: load or create the entity first")
        with self._sessions.begin() as s:
            row = s.get(OverrideRow, rule_id) if rule_id is not None else OverrideRow()
            if row is None:
                raise KeyError(f"no override {rule_id}")
            before = _override_dict(row) if rule_id is not None else None
            for key, value in rule.model_dump(mode="json").items():
                setattr(row, key, value)
            if rule_id is None:
                s.add(row)
            s.flush()
            after = _override_dict(row)
            self.audit(s, actor, "update" if before else "create", "override", str(row.id), before, after)
        return Override.model_validate(after)

    def delete_override(self, rule_id: int, actor: str) -> bool:
        with self._sessions.begin() as s:
            row = s.get(OverrideRow, rule_id)
            if row is None:
                return False
            self.audit(s, actor, "delete", "override", str(rule_id), _override_dict(row), None)
            s.delete(row)
        return True

    # ---------------------------------------------------------------- audit

    def audit(
        self,
        s: Session,
        actor: str,
        action: str,
        kind: str,
        object_id: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
    ) -> None:
        s.add(AuditRow(actor=actor, action=action, object_type=kind, object_id=object_id, before=before, after=after))

    def audit_log(self, limit: int = 100, kind: str | None = None) -> list[dict[str, Any]]:
        with self._sessions() as s:
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


def _entity_dict(row: KBEntityRow) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "types": row.types, "description": row.description, "prior": row.prior}


def _override_dict(row: OverrideRow) -> dict[str, Any]:
    keys = (
        "id",
        "pattern",
        "match",
        "label",
        "context",
        "action",
        "kb_id",
        "drop_entity",
        "priority",
        "enabled",
        "note",
    )
    return {k: getattr(row, k) for k in keys}


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
