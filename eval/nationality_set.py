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
import random
from pathlib import Path

from eval.fit_sets import add_row, write_sets
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
                add_row(target, template.format(adj=adj, Adj=adj), adj, next(iter(found)))
    return dev, test


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=Path("runs/nationality"))
    args = ap.parse_args()
    dev, test = build()
    write_sets(args.out, {"nationality-dev.jsonl": dev, "nationality-test.jsonl": test})


if __name__ == "__main__":
    main()
