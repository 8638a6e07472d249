"""A linking set of ambiguous GeoNames place names in context sentences, in ELEVANT's JSONL format.

``python -m eval.geonames_ambiguity --out DIR`` writes ``geonames-dev.jsonl``, ``geonames-test.jsonl`` and
``qualified-test.jsonl`` (every place of a test name, named with its qualifier: "Paris, Texas").
Every name is shared by several places in the bundled KB (Springfield, Paris, Santa Cruz, ...); most
sentences mention one place with a clue a reader would use (its state, or its country), drawing places in
proportion to their population as real text would; where one place is far larger than its namesakes, a
sentence with no clue at all refers to it, as a reader would assume.
Dev and test use disjoint names, so fitting on dev never sees a test name.
"""

from __future__ import annotations

import argparse
import hashlib
import random
from collections import defaultdict
from pathlib import Path

from eval.fit_sets import add_row, write_sets
from kb.keys import normalize
from kb.loaders import default_entities

# No clue at all: a reader takes the best-known place, so these test the prior.
PLAIN = ("Tourists flocked to {name} this summer.", "The conference will be held in {name} next year.")
TEMPLATES = (
    "Officials in {name}, {where}, announced a new budget on Monday.",
    "The festival in {name} ({where}) drew thousands of visitors this year.",
    "She grew up in {name}, a city in {where}, before moving abroad.",
    "Flooding closed several roads around {name} in {where} overnight.",
)


def build(
    min_population: int = 15000, per_name: int = 6, seed: int = 7
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    rng = random.Random(seed)
    groups: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    population: dict[str, float] = {}
    for e in default_entities(min_population):
        if e.types == ["city"]:
            where = e.description.removeprefix("city in ").rsplit(", population", 1)[0]
            groups[normalize(e.name)].append((e.id, e.name, where))
            population[e.id] = e.prior
    dev: list[dict[str, object]] = []
    test: list[dict[str, object]] = []
    for norm, places in sorted(groups.items()):
        distinct = {w for _, _, w in places}
        if len(places) < 2 or len(distinct) < len(places):
            continue  # unambiguous, or two places the context cannot tell apart
        target = test if int(hashlib.sha256(norm.encode()).hexdigest(), 16) % 2 else dev
        by_size = sorted(places, key=lambda p: -population[p[0]])
        if population[by_size[0][0]] >= 3 * population[by_size[1][0]]:  # a clearly best-known place
            add_row(target, rng.choice(PLAIN).format(name=by_size[0][1]), by_size[0][1], by_size[0][0])
        # Real text mentions a place about as often as it is big: draw the places by population.
        drawn = rng.choices(places, weights=[population[p[0]] for p in places], k=per_name)
        for kb_id, name, where in dict.fromkeys(drawn):
            parts = where.split(", ")
            country_is_enough = len(parts) > 1 and sum(w.endswith(parts[-1]) for _, _, w in places) == 1
            clue = rng.choice([where, parts[-1]] if country_is_enough else [where])
            add_row(target, rng.choice(TEMPLATES).format(name=name, where=clue), name, kb_id)
    return dev, test


QUALIFIED = (
    "Officials in {name}, {qualifier} approved the new budget on Monday.",
    "The storm knocked out power across {name} ({qualifier}) overnight.",
    "He was born in {name}, {qualifier}, and moved away at 18.",
)


def qualified(min_population: int = 15000, seed: int = 11) -> list[dict[str, object]]:
    """Qualified names ("Springfield, Illinois", "Valencia (Spain)") of the test names: every place of a name
    whose qualifier (US state, else country) no namesake shares, each with a qualifier-led template."""
    rng = random.Random(seed)
    groups: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for e in default_entities(min_population):
        if e.types == ["city"]:
            where = e.description.removeprefix("city in ").rsplit(", population", 1)[0]
            groups[normalize(e.name)].append((e.id, e.name, where.split(", ")[0]))
    rows: list[dict[str, object]] = []
    for norm, places in sorted(groups.items()):
        if len(places) < 2 or not int(hashlib.sha256(norm.encode()).hexdigest(), 16) % 2:
            continue  # unambiguous, or a dev name
        counts: dict[str, int] = defaultdict(int)
        for _, _, q in places:
            counts[q] += 1
        for kb_id, name, qualifier in places:
            if counts[qualifier] == 1:
                add_row(rows, rng.choice(QUALIFIED).format(name=name, qualifier=qualifier), name, kb_id)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=Path("runs/geonames"))
    ap.add_argument("--min-population", type=int, default=15000)
    args = ap.parse_args()
    dev, test = build(args.min_population)
    write_sets(args.out, {"geonames-dev.jsonl": dev, "geonames-test.jsonl": test, "qualified-test.jsonl": qualified()})


if __name__ == "__main__":
    main()
