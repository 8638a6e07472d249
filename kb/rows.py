"""The alias rows an entity's own names give it, whether a write would leave an entity as it is, and how a row's
flags and attributes are read: what ``SQLKBStore`` computes per entity, kept apart from its queries."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kb.keys import DERIVED, derived_keys, normalize
from kb.models import AliasRow, KBEntityRow
from kb.records import INDEX_TEXT, NAME_ONLY, EntityIn

AliasKey = tuple[str, str, str]  # (norm, raw, source) of an alias row


def derivable(name: str, types: Sequence[str], attributes: Mapping[str, Any] | None) -> set[str]:
    """The keys the store derives for an entity: none for a ``NAME_ONLY`` one."""
    return set() if (attributes or {}).get(NAME_ONLY) else derived_keys(name, types)


def alias_rows(e: EntityIn, source: str) -> Iterator[dict[str, str]]:
    """The entity's own names (with the load's source), then the keys derived from them."""
    seen: set[str] = set()
    for raw in [e.name, *e.aliases]:
        norm = normalize(raw)[:500]
        if norm and norm not in seen:
            seen.add(norm)
            yield {"entity_id": e.id, "norm": norm, "raw": raw[:500], "source": source}
    for key in sorted(derivable(e.name, e.types, e.attributes) - seen):
        yield {"entity_id": e.id, "norm": key[:500], "raw": key[:500], "source": DERIVED}


def derived_again(
    todo: Sequence[str],
    rows: Mapping[str, Any],
    had: Mapping[str, set[str]],
    wanted: Mapping[str, Mapping[str, str]],
    taken: Mapping[str, set[str]],
) -> list[dict[str, str]]:
    """Alias rows for the derived keys a source gave before and gives no longer (they were its while it did)."""
    out = []
    for i in todo:
        dropped = had.get(i, set()) - set(wanted[i]) - taken.get(i, set())
        if dropped:
            keys = dropped & derivable(rows[i].name, rows[i].types or [], rows[i].attributes)
            out += [{"entity_id": i, "norm": k[:500], "raw": k[:500], "source": DERIVED} for k in sorted(keys)]
    return out


def unchanged(
    row: KBEntityRow, e: EntityIn, rows: Sequence[Mapping[str, str]], held: set[AliasKey], source: str
) -> bool:
    """Whether writing ``e`` (with its alias ``rows``) over ``row`` (whose alias rows are ``held``) changes
    nothing: the same fields, the same own names from this source, and the same derived keys (a key another source
    has claimed as its own name, a redirect, still counts as there). Such an entity is not written again, so what
    was derived from it (its dense vector) stays valid: rebuilding the bundled KB rewrites only what changed."""
    fields = (row.name, row.types, row.description, row.prior, row.attributes)
    wanted = (e.name, list(e.types), e.description, e.prior, json.loads(json.dumps(dict(e.attributes))))
    if fields != wanted:
        return False
    own = {(r["norm"], r["raw"]) for r in rows if r["source"] != DERIVED}
    keys = {r["norm"] for r in rows if r["source"] == DERIVED}
    had_keys = {norm for norm, _, src in held if src == DERIVED}
    return (
        own == {(norm, raw) for norm, raw, src in held if src == source}
        and had_keys <= keys
        and keys <= {norm for norm, _, _ in held}
    )


def text_attr(attributes: Mapping[str, Any] | None, key: str = INDEX_TEXT) -> str:
    """A text attribute the linker reads (``INDEX_TEXT``, ``REGION``); a value some older write left that is no
    string counts as none."""
    text = (attributes or {}).get(key, "")
    return text if isinstance(text, str) else ""


def is_name_only(attributes: Mapping[str, Any] | None) -> bool:
    """The record's ``NAME_ONLY`` flag, as ``name_only_flag`` reads it in SQL (anything but true is false)."""
    return (attributes or {}).get(NAME_ONLY) is True


def name_only_flag() -> Any:
    """SQL: the entity's ``NAME_ONLY`` flag, false where it has none."""
    return func.coalesce(KBEntityRow.attributes[NAME_ONLY].as_boolean(), False)


def indexed_only() -> Any:
    """SQL: the entity is one the dense index holds (not ``NAME_ONLY``)."""
    return name_only_flag().is_(False)


def held_aliases(s: Session, ids: list[str]) -> dict[str, set[AliasKey]]:
    """The alias rows the entities ``ids`` have, per entity."""
    out: dict[str, set[AliasKey]] = {}
    for chunk in chunks(ids, 2000):
        query = select(AliasRow.entity_id, AliasRow.norm, AliasRow.raw, AliasRow.source)
        for entity_id, norm, raw, src in s.execute(query.where(AliasRow.entity_id.in_(chunk))):
            out.setdefault(entity_id, set()).add((norm, raw, src))
    return out


def entity_dict(row: KBEntityRow) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "types": row.types, "description": row.description, "prior": row.prior}


def chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
