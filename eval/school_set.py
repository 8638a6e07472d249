"""A linking set of universities called by their place in life stories ("She earned a doctorate from Pittsburgh"),
beside the same places as birthplaces ("born in Pittsburgh"), in ELEVANT's JSONL format, labelled with the bundled
KB's entities.

``python -m eval.school_set --kb-dir runs/linking/kb1 --out DIR`` writes ``school-dev.jsonl`` and
``school-test.jsonl`` (places apart); an empty ``--kb-dir`` gets the bundled KB first. It teaches the reranker
what ``linking.schools`` looks for: after "at" or "from" in a sentence about study, a place's name is its
university; after "in", or where nothing tells of study, it is the place.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from eval.fit_sets import add_labelled, bundled_store, fit_set_main
from kb.keys import DERIVED, normalize
from kb.loaders import default_entities
from linking.schools import school_names

# {p}: the place as a school ("studied at {p}"); {b}: the same place where someone was born or lived.
TEMPLATES = (
    "Born in {b}, she studied chemistry at {p} and later taught in Boston.",
    "He earned his doctorate from {p} in 1968 and became a professor of physics.",
    "After a degree from {p}, she returned to {b} to practise law.",
    "He was a lecturer at {p} before he moved to a post in Geneva.",
)
PLACES = 80  # a set of the size of the other fit sets, not one that outweighs the benchmarks
UNIVERSITY = "Q3918"  # Wikidata's "university"; the gold's type is not read by the fit
CITY = "Q515"


def schools(kb_dir: Path, limit: int = PLACES) -> dict[str, tuple[str, str, str]]:
    """Place name as written → (the place's id, its university's id, in the KB at ``kb_dir``), for the ``limit``
    best-known cities of the gazetteer that have a university named after them there."""
    store = bundled_store(kb_dir)
    cities: dict[str, tuple[str, str]] = {}
    for e in sorted(default_entities(), key=lambda e: -e.prior):
        if "city" in e.types and e.prior > 0:
            cities.setdefault(normalize(e.name), (e.id, e.name))
    wanted = {n: c for c in cities for n in school_names(c)}
    found = store.lookup(set(wanted))
    rank = {c: i for i, c in enumerate(cities)}
    out: dict[str, tuple[str, str, str]] = {}
    for key in sorted(found, key=lambda k: rank[wanted[k]]):  # best-known cities first
        ids = [e for e, src in found[key] if src != DERIVED]
        place_id, written = cities[wanted[key]]
        if ids and ids[0] != place_id and len(out) < limit:
            out.setdefault(written, (place_id, ids[0], key))
    return out


def build(kb_dir: Path) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """(dev, test): two templates for every place with a university, one of them with the place as a birthplace
    too, the place as a school in both."""
    dev: list[dict[str, object]] = []
    test: list[dict[str, object]] = []
    for place, (place_id, school_id, _) in sorted(schools(kb_dir).items()):
        digest = int(hashlib.sha256(place.encode()).hexdigest(), 16)
        target = test if digest % 4 == 0 else dev
        for template in (TEMPLATES[digest % 2 * 2], TEMPLATES[digest % 2 * 2 + 1]):
            text = template.format(p=place, b=place)
            order = sorted([(template.index("{p}"), school_id, UNIVERSITY)] + (
                [(template.index("{b}"), place_id, CITY)] if "{b}" in template else []))  # fmt: skip
            add_labelled(target, text, [(kb_id, place, kind) for _, kb_id, kind in order])
    return dev, test


def main() -> None:
    fit_set_main(__doc__, build, "school")


if __name__ == "__main__":
    main()
