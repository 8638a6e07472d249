"""The KB store: entities and their aliases in SQL, alias lookup, the version counter and the database identity.

``KBStore`` is the seam the linker and the loaders use; ``SQLKBStore`` implements it with SQLAlchemy, the same
code on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol, cast

from sqlalchemy import Table, bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from kb import audit
from kb.keys import DERIVED, REDIRECT, normalize, popularity
from kb.meta import KB_VERSION, bump, read_state
from kb.models import AliasRow, KBEntityRow, MetaRow, OverrideRow
from kb.records import REGION, EntityIn, EntityRecord
from kb.rows import (
    alias_rows,
    chunks,
    derived_again,
    entity_dict,
    held_aliases,
    indexed_only,
    is_name_only,
    name_only_flag,
    text_attr,
    unchanged,
)

# The tables, for plain inserts and updates of many rows (the ORM's unit of work costs more than the SQL there).
_ENTITIES, _ALIASES = cast(Table, KBEntityRow.__table__), cast(Table, AliasRow.__table__)
# What deriving an entity's keys needs of its row.
_DERIVING = (KBEntityRow.id, KBEntityRow.name, KBEntityRow.types, KBEntityRow.attributes)
# Alias sources an entity record does not list as its names: the store's own keys, and redirects (which include
# misspellings and loose associations).
_HIDDEN = (DERIVED, REDIRECT)


class EntityInUseError(Exception):
    """An entity cannot be deleted while override rules name it."""


class KBStore(Protocol):
    """What the linker, the loaders and the admin API need from a KB."""

    def identity(self) -> str:
        """A stable id of the database itself: files derived from it are keyed by it."""
        ...

    def version(self) -> int:
        """Bumped by every write, so derived data can tell it is stale."""
        ...

    def count(self, indexed: bool = False, since: int = -1) -> int:
        """How many entities; with ``indexed``, only those the dense index holds (not ``NAME_ONLY``); with
        ``since``, only those written after that KB version."""
        ...

    def get(self, ids: Iterable[str], aliases: bool = True) -> dict[str, EntityRecord]:
        """Records by id; with ``aliases`` off, a named entity's record comes without its alias list (see
        ``SQLKBStore.get``)."""
        ...

    def lookup(self, keys: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
        """Key → (entity id, the source of the alias: a load's name, ``REDIRECT`` or ``DERIVED``), best known
        first."""
        ...

    def changed_since(self, seq: int, batch: int = 5000, indexed: bool = False) -> Iterator[list[EntityRecord]]:
        """Entities written after version ``seq``, in batches; with ``indexed``, only those the dense index holds."""
        ...

    def written_since(self, seq: int, batch: int = 50_000) -> Iterator[list[str]]:
        """The ids of the entities written after version ``seq``, in batches: what an index must drop, read
        without the records (a KB that took millions of name-only titles at once is not hydrated)."""
        ...

    def upsert(self, entities: Sequence[EntityIn], source: str = "", actor: str | None = None) -> int: ...

    def delete_entity(self, entity_id: str, actor: str = "") -> bool: ...

    def set_source_aliases(self, updates: Mapping[str, Enrichment], source: str) -> int: ...

    def add_aliases(self, aliases: Sequence[tuple[str, str]], source: str, actor: str) -> int:
        """Add (entity id, surface form) aliases an entity lacks; audited. Returns how many were new."""
        ...

    def describe(self, updates: Mapping[str, Description]) -> int:
        """Set the name, description and types given for each entity (None keeps a field), in one transaction;
        entities already so described are not written. Returns how many changed."""
        ...

    def record_import(self, actor: str, where: str, summary: dict[str, Any]) -> None:
        """One audit entry for a bulk load run outside the API, with its counts."""
        ...


# An entity's aliases from one outside source, and the attributes that source adds.
Enrichment = tuple[Sequence[str], Mapping[str, Any]]
# What an outside source says an entity is: its name, description and types (None: leave the field as it is).
Description = tuple[str | None, str | None, Sequence[str] | None]


class SQLKBStore:
    """Entities and aliases through SQLAlchemy."""

    name = "kb.sql.v1"

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def identity(self) -> str:
        return read_state(self._sessions).database_id

    def version(self) -> int:
        with self._sessions() as s:
            row = s.get(MetaRow, KB_VERSION)
            return row.value if row else 0

    # ---------------------------------------------------------------- writes

    def upsert(self, entities: Sequence[EntityIn], source: str = "", actor: str | None = None) -> int:
        """Insert or replace entities and their aliases in one transaction; re-running is idempotent. An entity
        that the write would leave as it is (``kb.rows.unchanged``) is not written again, so what was derived from
        it stays valid (its dense vector; the aliases other sources gave it).

        With ``actor`` (admin API writes and import jobs) each change is also recorded in the audit log.
        """
        by_id = {e.id: e for e in entities}  # a duplicate id inside a batch: the last one wins
        if not by_id:
            return 0
        with self._sessions.begin() as s:
            seq = bump(s, KB_VERSION)
            ids = list(by_id)
            existing = {r.id: r for r in s.scalars(select(KBEntityRow).where(KBEntityRow.id.in_(ids)))}
            if actor is not None:
                for e in by_id.values():
                    before = entity_dict(existing[e.id]) if e.id in existing else None
                    after = e.model_dump(mode="json")
                    audit.record(s, actor, "update" if before else "create", "entity", e.id, before, after)
            rows = {i: list(alias_rows(e, source)) for i, e in by_id.items()}
            held = held_aliases(s, list(existing))
            same = {i for i, row in existing.items() if unchanged(row, by_id[i], rows[i], held.get(i, set()), source)}
            fresh = []  # new entities go in as plain rows: a KB build inserts hundreds of thousands
            for e in by_id.values():
                values = {"name": e.name, "types": list(e.types), "description": e.description, "prior": e.prior}
                values |= {"attributes": dict(e.attributes), "updated_seq": seq}
                if (row := existing.get(e.id)) is None:
                    fresh.append({"id": e.id, **values})
                elif e.id not in same:
                    for column, value in values.items():
                        setattr(row, column, value)
            if fresh:
                s.execute(insert(_ENTITIES), fresh)
            s.flush()
            if replaced := [i for i in existing if i not in same]:  # a new entity has no aliases yet
                s.execute(delete(AliasRow).where(AliasRow.entity_id.in_(replaced)))
            new_rows = [row for i, rs in rows.items() if i not in same for row in rs]
            if new_rows:
                s.execute(insert(_ALIASES), new_rows)
        return len(by_id)

    def delete_entity(self, entity_id: str, actor: str = "") -> bool:
        """Delete an entity and its aliases (audited); refused while an override rule names it."""
        with self._sessions.begin() as s:
            row = s.get(KBEntityRow, entity_id)
            if row is None:
                return False
            rules = s.scalars(select(OverrideRow.id).where(OverrideRow.kb_id == entity_id)).all()
            if rules:
                named = ", ".join(str(r) for r in rules)
                raise EntityInUseError(
                    f"entity {entity_id!r} is named by override rule(s) {named}: delete or change them first"
                )
            audit.record(s, actor, "delete", "entity", entity_id, entity_dict(row), None)
            s.execute(delete(AliasRow).where(AliasRow.entity_id == entity_id))
            s.delete(row)
            bump(s, KB_VERSION)
        return True

    def set_source_aliases(self, updates: Mapping[str, Enrichment], source: str) -> int:
        """Replace the aliases that ``source`` gave each entity and merge in its attributes, leaving the entity's
        own names alone; entities whose aliases and attributes are already these are not written (so running an
        enrichment twice changes nothing). A name the source gives that the store had only derived ("obama", Barack
        Obama's surname) becomes the source's: a Wikipedia redirect says the name is used for the entity, a derived
        key only that it could be. Such a key is derived again when the source stops giving it. Returns how many
        entities changed."""
        changed = 0
        for chunk in chunks(list(updates), 2000):
            with self._sessions.begin() as s:
                rows = {r.id: r for r in s.execute(select(*_DERIVING).where(KBEntityRow.id.in_(chunk)))}
                have: dict[str, set[str]] = {}  # norms this source gave each entity
                taken: dict[str, set[str]] = {}  # norms the entity has from elsewhere (its names, other sources)
                derived: dict[str, dict[str, int]] = {}  # keys the store derived: norm → alias row id
                for row_id, entity_id, norm, alias_source in s.execute(
                    select(AliasRow.id, AliasRow.entity_id, AliasRow.norm, AliasRow.source).where(
                        AliasRow.entity_id.in_(chunk)
                    )
                ):
                    if alias_source == DERIVED:
                        derived.setdefault(entity_id, {})[norm] = row_id
                    else:
                        (have if alias_source == source else taken).setdefault(entity_id, set()).add(norm)
                wanted = {
                    i: {n: a[:500] for a in updates[i][0] if (n := normalize(a)[:500]) and n not in taken.get(i, ())}
                    for i in chunk
                    if i in rows
                }
                todo = [
                    i
                    for i in wanted
                    if have.get(i, set()) != set(wanted[i])
                    or any((rows[i].attributes or {}).get(k) != v for k, v in updates[i][1].items())
                ]
                if not todo:
                    continue
                bump(s, KB_VERSION)
                claimed = [row_id for i in todo for norm, row_id in derived.get(i, {}).items() if norm in wanted[i]]
                s.execute(delete(AliasRow).where(AliasRow.entity_id.in_(todo), AliasRow.source == source))
                if claimed:
                    s.execute(delete(AliasRow).where(AliasRow.id.in_(claimed)))
                new = [
                    {"entity_id": i, "norm": norm, "raw": raw, "source": source}
                    for i in todo
                    for norm, raw in wanted[i].items()
                ]
                new += derived_again(todo, rows, have, wanted, taken)
                if new:
                    s.execute(insert(_ALIASES), new)
                merged = {i: {**(rows[i].attributes or {}), **updates[i][1]} for i in todo}
                attrs = [{"key": i, "merged": a} for i, a in merged.items() if a != (rows[i].attributes or {})]
                if attrs:
                    where = _ENTITIES.c.id == bindparam("key")
                    s.execute(update(_ENTITIES).where(where).values(attributes=bindparam("merged")), attrs)
                changed += len(todo)
        return changed

    def describe(self, updates: Mapping[str, Description]) -> int:
        """Set the fields given for each entity in one transaction (all or nothing) that bumps the KB version and
        marks the changed entities, so the dense index re-embeds them; unknown ids and unchanged entities are
        skipped, so a second run writes nothing."""
        with self._sessions.begin() as s:
            rows = [
                row
                for chunk in chunks(list(updates), 500)
                for row in s.scalars(select(KBEntityRow).where(KBEntityRow.id.in_(chunk)))
            ]
            todo = []
            for row in rows:
                name, description, types = updates[row.id]
                new = (
                    row.name if name is None else name[:500],
                    row.description if description is None else description,
                    row.types if types is None else list(types),
                )
                if new != (row.name, row.description, row.types):
                    todo.append((row, new))
            if not todo:
                return 0
            seq = bump(s, KB_VERSION)
            for row, (name, description, types) in todo:
                row.name, row.description, row.types, row.updated_seq = name, description, types, seq
        return len(todo)

    def add_aliases(self, aliases: Sequence[tuple[str, str]], source: str, actor: str) -> int:
        """Add (entity id, surface form) aliases the entities lack, in one transaction that bumps the KB version
        (so the next request finds them); each is audited. Unknown entities are skipped."""
        wanted = {(i, n): raw[:500] for i, raw in aliases if (n := normalize(raw)[:500])}
        if not wanted:
            return 0
        ids = sorted({i for i, _ in wanted})
        with self._sessions.begin() as s:
            known = set(s.scalars(select(KBEntityRow.id).where(KBEntityRow.id.in_(ids))))
            have = set(s.execute(select(AliasRow.entity_id, AliasRow.norm).where(AliasRow.entity_id.in_(ids))).all())
            new = [(i, n, raw) for (i, n), raw in wanted.items() if i in known and (i, n) not in have]
            if not new:
                return 0
            bump(s, KB_VERSION)
            rows = [{"entity_id": i, "norm": n, "raw": raw, "source": source} for i, n, raw in new]
            s.execute(insert(AliasRow), rows)
            for i, _, raw in new:
                audit.record(s, actor, "update", "entity", i, None, {"alias": raw, "source": source})
        return len(new)

    def record_import(self, actor: str, where: str, summary: dict[str, Any]) -> None:
        """One audit entry for a bulk load run outside the API (the CLI), with its counts."""
        with self._sessions.begin() as s:
            audit.record(s, actor, "import", "import", where[:200], None, summary)

    # ---------------------------------------------------------------- reads

    def count(self, indexed: bool = False, since: int = -1) -> int:
        wanted = [indexed_only()] * indexed + [KBEntityRow.updated_seq > since] * (since >= 0)
        with self._sessions() as s:
            return int(s.scalar(select(func.count()).select_from(KBEntityRow).where(*wanted)) or 0)

    def get(self, ids: Iterable[str], aliases: bool = True) -> dict[str, EntityRecord]:
        """Records by id (plain column reads, no ORM objects: this is on every link's path). With ``aliases``
        off, only an entity without a name gets its aliases (``EntityRecord.text`` names it by the first): the
        linker reads no more, and reading the hundreds of redirects of a well-known entity was most of a read."""
        wanted = list(dict.fromkeys(ids))
        e, a = KBEntityRow, AliasRow
        out: dict[str, EntityRecord] = {}
        with self._sessions() as s:
            for chunk in chunks(wanted, 500):
                rows = list(
                    s.execute(
                        select(e.id, e.name, e.types, e.description, e.prior, e.attributes).where(e.id.in_(chunk))
                    )
                )
                need = [r[0] for r in rows] if aliases else [r[0] for r in rows if not r[1]]
                names: dict[str, list[str]] = {}
                if need:
                    for entity_id, raw in s.execute(
                        select(a.entity_id, a.raw).where(a.entity_id.in_(need), a.source.notin_(_HIDDEN)).order_by(a.id)
                    ):
                        names.setdefault(entity_id, []).append(raw)
                for i, name, types, description, prior, attributes in rows:
                    redirects = int((attributes or {}).get("redirects", 0) or 0)
                    known = (names.get(i, []), redirects, text_attr(attributes), text_attr(attributes, REGION))
                    only = is_name_only(attributes)
                    out[i] = EntityRecord(i, name, list(types or []), description, prior, *known, name_only=only)
        return out

    def lookup(self, keys: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
        """Key → (entity id, the alias's source), best known first (of equally known ones, ``NAME_ONLY`` entities
        last: they are the KB's long tail); one query for aliases, redirects and derived keys alike."""
        found: dict[str, list[tuple[float, bool, str, str]]] = {}
        tail = name_only_flag()
        with self._sessions() as s:
            for chunk in chunks(sorted(set(keys) - {""}), 500):
                q = (
                    select(AliasRow.norm, AliasRow.entity_id, AliasRow.source, KBEntityRow.prior, tail)
                    .join(KBEntityRow, KBEntityRow.id == AliasRow.entity_id)
                    .where(AliasRow.norm.in_(chunk))
                )
                for norm, entity_id, source, prior, tail_end in s.execute(q):
                    rank = (-popularity(entity_id, prior), bool(tail_end))
                    found.setdefault(norm, []).append((*rank, entity_id, source))
        return {k: [(i, source) for *_, i, source in sorted(hits)] for k, hits in found.items()}

    def by_alias(self, forms: Iterable[str]) -> dict[str, list[str]]:
        """Normalized form → entity ids that have it as an alias."""
        hits = self.lookup(normalize(f) for f in forms)
        return {
            k: ids for k, v in hits.items() if (ids := list(dict.fromkeys(i for i, source in v if source != DERIVED)))
        }

    def by_key(self, keys: Iterable[str]) -> dict[str, list[str]]:
        """Lookup key (see ``kb.keys.lookup_keys``) → entity ids found by it, aliases and derived keys alike,
        best known first."""
        return {k: list(dict.fromkeys(i for i, _ in v)) for k, v in self.lookup(keys).items()}

    def changed_since(self, seq: int, batch: int = 5000, indexed: bool = False) -> Iterator[list[EntityRecord]]:
        """Entities written after version ``seq``, in batches (for incremental index updates)."""
        wanted = [KBEntityRow.updated_seq > seq] + [indexed_only()] * indexed
        for rows in self._pages(KBEntityRow, wanted, batch, lambda r: r.id):
            yield [
                EntityRecord(
                    r.id,
                    r.name,
                    list(r.types or []),
                    r.description,
                    r.prior,
                    index_text=text_attr(r.attributes),
                    name_only=is_name_only(r.attributes),
                )
                for r in rows
            ]

    def written_since(self, seq: int, batch: int = 50_000) -> Iterator[list[str]]:
        yield from self._pages(KBEntityRow.id, [KBEntityRow.updated_seq > seq], batch, lambda i: i)

    def _pages(self, what: Any, wanted: list[Any], batch: int, key: Callable[[Any], str]) -> Iterator[list[Any]]:
        """``what`` (rows or a column) of the entities that meet ``wanted``, in batches by id: each batch picks up
        after the last id (``key`` of the last item), so a long read never scans again what it passed."""
        last = ""
        while True:
            with self._sessions() as s:
                rows = s.scalars(
                    select(what).where(*wanted, KBEntityRow.id > last).order_by(KBEntityRow.id).limit(batch)
                ).all()
            if not rows:
                return
            last = key(rows[-1])
            yield list(rows)
