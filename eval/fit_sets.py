"""What the linking fit sets share: rows in ELEVANT's JSONL format, writing the dev and test files, and the command
line of a set labelled with the bundled KB (``eval.sports_set``, ``eval.school_set``)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kb import bundled
from kb.db import open_db
from kb.store import SQLKBStore

Rows = list[dict[str, Any]]
GEO = "Q27096213"  # ELEVANT's "Geographic Entity" type


def add_labelled(rows: Rows, text: str, named: list[tuple[str, str, str]]) -> None:
    """Append ``text`` as a benchmark row whose labels are the (id, name as written, type) in ``named``, each
    found in the text after the one before it."""
    labels, at = [], 0
    for i, (kb_id, name, kind) in enumerate(named):
        start = text.index(name, at)
        at = start + len(name)
        labels.append({"id": i, "span": [start, at], "entity_id": kb_id, "name": name, "type": kind})
    rows.append({"id": len(rows), "text": text, "evaluation_span": [0, len(text)], "labels": labels})


def add_row(rows: Rows, text: str, name: str, kb_id: str) -> None:
    """One article of ``text`` with one label: ``name`` (its first occurrence) as ``kb_id``, a geographic entity."""
    add_labelled(rows, text, [(kb_id, name, GEO)])


def write_sets(out: Path, sets: dict[str, Rows]) -> None:
    """Each set as a JSONL file in ``out``; prints how many articles each holds."""
    out.mkdir(parents=True, exist_ok=True)
    for name, rows in sets.items():
        (out / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(json.dumps({name: len(rows) for name, rows in sets.items()}))


def bundled_store(kb_dir: Path) -> SQLKBStore:
    """The KB at ``kb_dir``; on a fresh machine (none there yet) the bundled KB, as ``make link-train`` builds it."""
    kb_dir.mkdir(parents=True, exist_ok=True)
    _, sessions = open_db(f"sqlite:///{(kb_dir / 'kb.sqlite3').resolve()}")
    store = SQLKBStore(sessions)
    if store.count() == 0:
        print(bundled.build(store))
    return store


def fit_set_main(doc: str | None, build: Callable[[Path], tuple[Rows, Rows]], name: str) -> None:
    """The command line of a fit set on the bundled KB: ``--kb-dir`` and ``--out`` (``runs/<name>``), writing
    ``<name>-dev.jsonl`` and ``<name>-test.jsonl``."""
    ap = argparse.ArgumentParser(description=doc)
    ap.add_argument("--kb-dir", type=Path, default=Path("runs/linking/kb1"))
    ap.add_argument("--out", type=Path, default=Path(f"runs/{name}"))
    args = ap.parse_args()
    dev, test = build(args.kb_dir)
    write_sets(args.out, {f"{name}-dev.jsonl": dev, f"{name}-test.jsonl": test})
