"""Names for ``train-ner --replace``: people, organisations and places of the bundled KB, one ``LABEL<TAB>name``
per line, sorted, written whole or not at all.

    python -m eval.kb_names --out runs/names.tsv [--data-dir data]

Only names that read like one are kept: a letter first, then letters, spaces, ``.``, ``'``, ``&`` or ``-``, at most
four words. The KB's types for Wikipedia titles are derived and noisy for organisations (songs, wars and chemistry
terms typed so), so an organisation needs ``MIN_ORG_REDIRECTS`` redirects to its title; a place needs a Wikipedia
title, which keeps the cities and countries news writes about and leaves out villages and airports.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select

from hybrid_ner.cli._io import write_out
from hybrid_ner.config import Settings
from kb.db import open_db
from kb.models import KBEntityRow

Row = tuple[str, Sequence[str], Mapping[str, Any]]  # name, types, attributes

MIN_ORG_REDIRECTS = 3
MAX_WORDS = 4
PLACE_TYPES = frozenset({"city", "country", "us_state", "province", "state", "region", "county", "district"})
_NAME = re.compile(r"[^\W\d_][\w .'&-]*")


def label_of(row: Row) -> str | None:
    """PER, ORG or LOC for an entity whose name can stand in a training sentence, else None."""
    name, types, attributes = row[0], set(row[1]), row[2]
    if len(name) < 2 or not _NAME.fullmatch(name) or len(name.split()) > MAX_WORDS:
        return None
    if "person" in types:
        return "PER"
    if "organization" in types:
        return "ORG" if int(attributes.get("redirects") or 0) >= MIN_ORG_REDIRECTS else None
    if types & PLACE_TYPES:
        return "LOC" if attributes.get("dbpedia_title") else None
    return None


def name_rows(entities: Iterable[Row]) -> list[str]:
    """Sorted distinct ``LABEL<TAB>name`` lines of the entities that have a label."""
    return sorted({f"{label}\t{e[0]}" for e in entities if (label := label_of(e)) is not None})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--data-dir", type=Path, default=Path("data"), help="the data directory of the bundled KB")
    args = parser.parse_args()
    _, sessions = open_db(Settings(data_dir=args.data_dir).database_url)
    with sessions() as session:
        query = select(KBEntityRow.name, KBEntityRow.types, KBEntityRow.attributes)
        rows = name_rows((name, types or [], attributes or {}) for name, types, attributes in session.execute(query))
    if not rows:
        parser.exit(2, f"error: the KB in {args.data_dir} holds no person, organisation or place: build it first\n")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_out(args.out, (row + "\n" for row in rows))
    counts = {label: sum(r.startswith(label + "\t") for r in rows) for label in ("PER", "ORG", "LOC")}
    print(f"{args.out}: {len(rows)} names {counts}")


if __name__ == "__main__":
    main()
