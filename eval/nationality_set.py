"""A linking set of nationality adjectives in context ("the Canadian government"), in ELEVANT's JSONL format.

``python -m eval.nationality_set --out DIR`` writes ``nationality-dev.jsonl`` and ``nationality-test.jsonl``:
each sentence uses a country's adjective from ``kb/demonyms.tsv`` before a noun, labelled with that country in
the bundled KB. It teaches the reranker the convention the linker keeps (an adjective names its place, as
Wikipedia's links and AIDA-style benchmarks read "an American playwright"), which the ELEVANT benchmarks split
on: OKE links such adjectives to the people, wiki-fair to the country. Dev and test use disjoint countries.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
from pathlib import Path

from kb.demonyms import TABLE, place_forms
from kb.keys import normalize
from kb.loaders import default_entities

TEMPLATES = (
    "The {adj} government announced new measures on Monday.",
    "{Adj} officials met their counterparts to discuss trade.",
    "The company is one of the largest {adj} exporters of machinery.",
    "He became the first {adj} athlete to win the title.",
    "Talks stalled on Friday, {adj} media reported.",
    "The novel was written by a young {adj} author.",
)
GEO = "Q27096213"  # ELEVANT's "Geographic Entity" type


def countries() -> dict[str, str]:
    """Normalized name → id of the bundled KB's countries."""
    return {normalize(e.name): e.id for e in default_entities() if "country" in e.types}


def build(per_adjective: int = 2, seed: int = 5) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """(dev, test): sentences for every adjective of a place the bundled KB holds as a country."""
    rng = random.Random(seed)
    ids = countries()
    dev: list[dict[str, object]] = []
    test: list[dict[str, object]] = []
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        place, adjectives, *_ = [*line.split("\t"), "", ""]
        found = {ids[n] for n in place_forms(place) if n in ids} if place and not line.startswith("#") else set()
        if len(found) != 1:
            continue  # not a country of the bundled KB (a continent, a city, a people without a state)
        target = test if int(hashlib.sha256(place.encode()).hexdigest(), 16) % 4 == 0 else dev
        for adj in adjectives.split(","):
            for template in rng.sample(TEMPLATES, per_adjective):
                _add(target, template.format(adj=adj, Adj=adj), adj, next(iter(found)))
    return dev, test


def _add(rows: list[dict[str, object]], text: str, adj: str, kb_id: str) -> None:
    start = text.index(adj)
    label = {"id": 0, "span": [start, start + len(adj)], "entity_id": kb_id, "name": adj, "type": GEO}
    rows.append({"id": len(rows), "text": text, "evaluation_span": [0, len(text)], "labels": [label]})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=Path("runs/nationality"))
    args = ap.parse_args()
    dev, test = build()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, rows in (("nationality-dev.jsonl", dev), ("nationality-test.jsonl", test)):
        (args.out / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(json.dumps({"dev": len(dev), "test": len(test)}))


if __name__ == "__main__":
    main()
