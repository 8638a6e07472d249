"""A linking set of national teams called by their country in match reports ("England beat Scotland 24-10 in the
rugby match"), in ELEVANT's JSONL format, labelled with the teams of the bundled KB.

``python -m eval.sports_set --kb-dir runs/linking/kb1 --out DIR`` writes ``sports-dev.jsonl`` and
``sports-test.jsonl`` (countries apart); an empty ``--kb-dir`` gets the bundled KB first. It teaches the reranker
the convention of news benchmarks and of AIDA-style annotation that the linker keeps: in a report on a game, a
country's name is its team (``linking.sports``), though the NER, trained on news that tags such names as places,
says LOC.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

from eval.fit_sets import add_labelled, bundled_store, fit_set_main
from kb.keys import DERIVED, normalize
from kb.loaders import default_entities

TEMPLATES = {
    "football": (
        "{a} beat {b} 2-1 in the football match on Saturday.",
        "{a} and {b} drew 0-0 in a dull football friendly.",
    ),
    "rugby union": (
        "{a} beat {b} 24-10 in the rugby match at the weekend.",
        "{a} scored three tries against {b} in the rugby international.",
    ),
    "cricket": ("{a} beat {b} by six wickets in the cricket test.", "{a} bowled {b} out for 180 in the cricket match."),
}
TEAM = "Q12973014"  # Wikidata's "sports team": the gold's type is not read by the fit


def teams(kb_dir: Path) -> dict[str, dict[str, tuple[str, str]]]:
    """Sport → country name → (its team's id in the KB at ``kb_dir``, the country's name as written)."""
    store = bundled_store(kb_dir)
    names = {normalize(e.name): e.name for e in default_entities() if "country" in e.types}
    wanted = {f"{c} national {sport} team": (sport, c) for sport in TEMPLATES for c in names}
    wanted |= {f"{c} cricket team": ("cricket", c) for c in names}
    out: dict[str, dict[str, tuple[str, str]]] = {sport: {} for sport in TEMPLATES}
    for key, hits in sorted(store.lookup(wanted).items()):
        ids = [e for e, src in hits if src != DERIVED]
        sport, country = wanted[key]
        if ids:
            out[sport].setdefault(country, (ids[0], names[country]))
    return out


def build(kb_dir: Path, seed: int = 3) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """(dev, test): two reports per country and sport, each naming it against another country with a team."""
    rng = random.Random(seed)
    dev: list[dict[str, object]] = []
    test: list[dict[str, object]] = []
    for sport, known in teams(kb_dir).items():
        names = sorted(known)
        for country in names:
            target = test if int(hashlib.sha256(country.encode()).hexdigest(), 16) % 4 == 0 else dev
            for template in TEMPLATES[sport]:
                other = rng.choice([n for n in names if n != country] or [country])
                a, b = known[country], known[other]
                add_labelled(target, template.format(a=a[1], b=b[1]), [(a[0], a[1], TEAM), (b[0], b[1], TEAM)])
    return dev, test


def main() -> None:
    fit_set_main(__doc__, build, "sports")


if __name__ == "__main__":
    main()
