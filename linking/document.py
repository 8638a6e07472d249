"""Rules that read a mention's whole document after ranking: a short name stands for a fuller one of its text
(``follow_longer_forms``), a short person name whose fuller names are all NIL is NIL (``unknown_people``), and a
place written as another's qualifier names the region it lies in (``hold_qualifiers``). Each takes the ranked
lists and returns new ones, with a flag per mention that the link's ``decision.reason`` reports."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from kb.demonyms import demonym
from kb.keys import normalize, words
from kb.records import EntityRecord
from linking.candidates import Mention, expansions, longer_forms
from linking.kinds import type_fit
from linking.rerank import Scored, qualifier_fit, spelled_out

# Labels whose short mentions stand for a fuller name earlier in the document ("Jobs", "Steve" for "Steve Jobs";
# "Burlington" for "Burlington Industries Inc"). Places are left out: "Las Vegas" is not "North Las Vegas".
NAMES_IN_CONTEXT = ("PER", "ORG")
UNKNOWN_PERSON = "unknown_person"  # a short name whose fuller names the KB lacks: NIL (``unknown_people``)
UNKNOWN_ABBREVIATION = "unknown_abbreviation"  # an abbreviation its text defines for a NIL name: NIL too
NATIONALITY = "nationality"  # a nationality adjective the NER found, left unlinked unless asked (``nationality_words``)
NIL_REASONS = (UNKNOWN_PERSON, UNKNOWN_ABBREVIATION, NATIONALITY)


def abbreviates(short: str, name: str) -> bool:
    """Whether ``short`` can abbreviate ``name``: two to ten letters or digits, at least two of them capitals,
    found in order in the name from its end, the first opening one of its words ("FDA" for "U.S. Food and Drug
    Administration", "ASH" for "Ashland Oil Inc"). The test of Schwartz and Hearst (2003), which needs no list
    of stop words and takes ticker symbols as well as initials."""
    chars = [c.lower() for c in short if c.isalnum()]
    if not 2 <= len(chars) <= 10 or sum(c.isupper() for c in short) < 2 or normalize(short) == normalize(name):
        return False
    text, k = name.lower(), len(name)
    for n, c in enumerate(reversed(chars)):
        opening = n == len(chars) - 1
        k -= 1
        while k >= 0 and (text[k] != c or (opening and k > 0 and text[k - 1].isalnum())):
            k -= 1
        if k < 0:
            return False
    return True


def define_abbreviations(text: str, mentions: Sequence[Mention]) -> list[Mention]:
    """The mentions of one text, an abbreviation that the text defines marked with the name it stands for: a
    mention in brackets right after another that it abbreviates ("Food and Drug Administration (FDA)")."""
    ends = {m.start + len(m.text): m for m in mentions}
    out = []
    for m in mentions:
        lo = max(0, m.start - 8)  # "Name (ABBR)": a bracket and white space before, not the whole text
        before = text[lo : m.start].rstrip()
        after = text[m.start + len(m.text) : m.start + len(m.text) + 1]
        named = ends.get(lo + len(before[:-1].rstrip())) if before.endswith("(") and after == ")" else None
        if named is not None and abbreviates(m.text, named.text):
            m = replace(m, expands=named.text)
        out.append(m)
    return out


def follow_longer_forms(
    mentions: Sequence[Mention],
    scored: Sequence[list[Scored]],
    entities: dict[str, EntityRecord],
    threshold: float,
    named: Sequence[set[str]] = (),
) -> tuple[list[list[Scored]], list[bool]]:
    """A person or organisation named in short ("Jobs") takes the entity its document's fuller name ("Steve
    Jobs", same label) links to, when that entity is one of its candidates: within a text a short name refers
    back, and the fuller name is the less ambiguous, so the link is at least as likely as the fuller name's
    (a first name alone is often NIL otherwise). Of fuller names of different entities ("Steve Jobs", "Steve
    Wozniak"), the one its own context ranks first wins; of one entity's, the longest. An organisation keeps its
    own link when that entity is named exactly so and fits the label ("CNN" beside "CNN Films"), or when the
    mention is one of that entity's aliases or redirects (``named``, per mention: "Home Depot", a redirect to The
    Home Depot, beside "Home Depot Supply"); a person never does. Per mention, the ranked list and whether a
    fuller form settled it."""
    out, followed = list(scored), [False] * len(scored)
    expansion = expansions(mentions)
    for i, longer in enumerate(earlier_forms(mentions)):
        m, ranked, j = mentions[i], scored[i], expansion[i]
        if j is not None:  # the text says what the abbreviation stands for, whatever its label or namesakes
            led = _lead(ranked, scored[j][0]) if scored[j] and scored[j][0].score >= threshold else None
            out[i], followed[i] = led or ranked, led is not None
            continue
        if m.label not in NAMES_IN_CONTEXT or not longer or not ranked:
            continue
        linked = [
            (len(mentions[j].text), scored[j][0])
            for j in longer
            if mentions[j].label == m.label
            and scored[j]
            and scored[j][0].score >= threshold
            and _part_of_name(m, mentions[j], entities.get(scored[j][0].kb_id))
        ]
        place = {s.kb_id: k for k, s in enumerate(ranked)}  # each candidate's rank in the mention's own list
        linked = [(n, s) for n, s in linked if s.kb_id in place]
        if not linked:
            continue
        # An organisation's own choice is the best candidate it names itself: the fuller name's entity (found
        # through the document, "CNN Films" for "CNN") may rank above it by the score. A person never keeps its
        # own link: a one-word "person" named exactly so is mostly the article about that given name or surname
        # (Wikidata-based KBs type it a person: "Barbara" beside "Barbara Walters"), and a mononym the fuller
        # name spells out is the same entity anyway.
        if m.label != "PER":
            aliased = named[i] if named else set()
            mine = next(
                (s for s in ranked if s.kb_id in aliased or _named_exactly(m, entities.get(s.kb_id), set())), None
            )
            if mine is not None and _named_exactly(m, entities.get(mine.kb_id), aliased):
                if mine.kb_id != ranked[0].kb_id:
                    out[i] = [Scored(mine.kb_id, ranked[0].score), *(s for s in ranked if s.kb_id != mine.kb_id)]
                continue
        # Fuller names of different entities ("Steve Jobs", "Steve Wozniak" for "Steve"): the one the short
        # mention's own context ranks first; of one entity's forms, the longest.
        led = _lead(ranked, min(linked, key=lambda x: (place[x[1].kb_id], -x[0]))[1])
        out[i], followed[i] = led or ranked, led is not None
    return out, followed


def _lead(ranked: list[Scored], fuller: Scored) -> list[Scored] | None:
    """The ranked list led by a fuller name's entity, at least as likely as the fuller name and as the entity it
    displaces; None when that entity leads already."""
    own = next((s.score for s in ranked if s.kb_id == fuller.kb_id), 0.0)
    chosen = Scored(fuller.kb_id, max(own, fuller.score, ranked[0].score if ranked else 0.0))
    if ranked and chosen == ranked[0]:
        return None
    return [chosen, *(s for s in ranked if s.kb_id != fuller.kb_id)]


def earlier_forms(mentions: Sequence[Mention]) -> list[list[int]]:
    """Per mention, the fuller forms of its document (``longer_forms``) it may stand for. For a person, not one
    that first comes later in the sentence of the short name's first use: a sentence that gives a surname alone
    and then writes out a fuller name with it speaks of two people, mostly a relative ("Quasimodo was born ...
    to Gaetano Quasimodo"; "Neruda took his pen name from the poet Jan Neruda"). A headline's surname still
    stands for the body's full name ("Saban leaves Dolphins" above "Nick Saban"), and a company's fuller name
    may come anywhere. Order is by offset, then by place in the list."""
    first: dict[tuple[int, tuple[str, ...]], tuple[int, int]] = {}
    for j, m in enumerate(mentions):
        key = (m.doc, tuple(words(m.text)))
        first[key] = min(first.get(key, (m.start, j)), (m.start, j))
    at = [first[m.doc, tuple(words(m.text))] for m in mentions]

    def may_stand_for(i: int, j: int) -> bool:
        opening = mentions[at[i][1]]
        return mentions[i].label != "PER" or at[j] < at[i] or mentions[at[j][1]].sentence != opening.sentence

    return [[j for j in longer if may_stand_for(i, j)] for i, longer in enumerate(longer_forms(mentions))]


def unknown_people(
    mentions: Sequence[Mention],
    scored: Sequence[list[Scored]],
    entities: dict[str, EntityRecord],
    threshold: float,
    followed: Sequence[bool],
) -> list[bool]:
    """Per mention, whether it is a short person name ("Cook") whose document writes the person out in full ("Tim
    Cook") only in fuller names that are all NIL, and whose own best candidate is named otherwise (James Cook): the
    short name is the same person, whom the KB lacks, not the best-known bearer of that surname. Such a mention is
    NIL, with reason ``unknown_person``. A best candidate that a fuller name spells ("Taylor Swift", ranked low
    for the fuller name but first for "Taylor") may be that person, and a short name that took a fuller name's
    entity (``followed``) is settled: both are left alone."""
    out = [False] * len(mentions)
    for i, longer in enumerate(earlier_forms(mentions)):
        if mentions[i].label != "PER" or followed[i] or not scored[i]:
            continue
        people = [j for j in longer if mentions[j].label == "PER"]
        best = entities.get(scored[i][0].kb_id)
        out[i] = (
            bool(people)
            and all(not scored[j] or scored[j][0].score < threshold for j in people)
            and not any(_spells(mentions[j], best) for j in people)
        )
    return out


def nationality_words(mentions: Sequence[Mention]) -> list[bool]:
    """Per mention, whether it is a nationality adjective of a place ("American" in "an American playwright", see
    ``kb.demonyms``) and no person. The service leaves such a word the NER found unlinked, with reason
    ``nationality``, unless ``HNER_LINK_NATIONALITIES`` asks for its country: most benchmarks (reuters-128, msnbc,
    OKE) and knowledge graphs do not link it, and linking it cost their mean end-to-end F1 more than wiki-fair,
    which links it to the country, gained (``eval/reports/nationality/linking.md``)."""
    found = [demonym(m.text) if m.label != "PER" else None for m in mentions]
    return [d is not None and d.adjective and bool(d.places) for d in found]


def unknown_abbreviations(
    mentions: Sequence[Mention], scored: Sequence[list[Scored]], entities: dict[str, EntityRecord], threshold: float
) -> list[bool]:
    """Per mention, whether it is an abbreviation its text defines for a name that is NIL ("VRA" after an unknown
    "Vera Resources Inc. (VRA)"): it names that unknown entity, not whatever the KB calls by those letters. Such
    a mention is NIL, with reason ``unknown_abbreviation``. A best candidate that the name holds is left alone:
    "FDA" keeps the Food and Drug Administration when "U.S. Food and Drug Administration" matched no name."""
    out = []
    for i, j in enumerate(expansions(mentions)):
        if j is None or (scored[j] and scored[j][0].score >= threshold):
            out.append(False)
            continue
        best = entities.get(scored[i][0].kb_id) if scored[i] else None
        out.append(best is None or not _held_in(mentions[j].text, best))
    return out


def _held_in(name: str, entity: EntityRecord) -> bool:
    """Whether a name holds the entity's own: all of its words, two or more ("Food and Drug Administration" in
    "U.S. Food and Drug Administration"), or it is one of the entity's aliases."""
    own = set(words(entity.name))
    return (len(own) > 1 and own <= set(words(name))) or _aliased(name, entity)


def _spells(fuller: Mention, entity: EntityRecord | None) -> bool:
    """Whether an entity may be the person a fuller name writes out: every word of the name is in the entity's
    name ("Taylor Swift"; "Bob" of "Bob Nardelli" is not in "Robert Nardelli", but the alias is), or the name is
    one of its aliases."""
    if entity is None:
        return False
    return set(words(fuller.text)) <= set(words(entity.name)) or _aliased(fuller.text, entity)


def _aliased(name: str, entity: EntityRecord) -> bool:
    """Whether the name is one of the entity's aliases."""
    wanted = normalize(name)
    return any(normalize(a) == wanted for a in entity.aliases)


def hold_qualifiers(
    mentions: Sequence[Mention],
    scored: Sequence[list[Scored]],
    named: Sequence[set[str]],
    entities: dict[str, EntityRecord],
    threshold: float,
) -> tuple[list[list[Scored]], list[bool]]:
    """A place written as another place's qualifier ("Texas" in "Paris, Texas") names the region that the other's
    entity lies in, when that entity says so (its description "city in Texas, United States", or its region).
    Such a mention takes the place it names exactly (an alias or redirect: ``named``, per mention) or spells
    out ("Ore." for Oregon, as datelines write states), a region before a city: not Texas City, found by "texas"
    with "City" dropped and pulled up by the cities around it; not the city of Ontario, California for "London,
    Ontario"; not Orléans, whose code "ORE" is an alias, for "Portland, Ore.". Every mention of that name in the
    document follows, with at least the displaced entity's probability, except one whose own qualifier fits its
    entity ("New York, New York"; the "(AP)" after a dateline's state is no such qualifier). Per mention, the
    ranked list and whether the rule moved it."""
    regions: dict[tuple[int, str], set[str]] = {}  # (document, qualifier) → the words saying where its places lie
    for m, ranked in zip(mentions, scored, strict=True):
        place = entities.get(ranked[0].kb_id) if m.qualifier and ranked and ranked[0].score >= threshold else None
        if place is not None and qualifier_fit(m.qualifier, place, m.text):
            key = (m.doc, normalize(m.qualifier))
            regions[key] = regions.get(key, set()) | set(words(" ".join([place.about, *place.types, place.region])))
    out, held = list(scored), [False] * len(scored)
    for i, (m, ranked) in enumerate(zip(mentions, scored, strict=True)):
        lying_in = regions.get((m.doc, normalize(m.text)))
        if m.label not in (None, "LOC") or lying_in is None or not ranked:
            continue
        if m.qualifier and qualifier_fit(m.qualifier, entities.get(ranked[0].kb_id), m.text):
            continue
        fuller = spelled_out(m.text)
        records = [entities.get(s.kb_id) for s in ranked]
        tiers = [  # the place its places say they lie in first ("La." of Lafayette: Louisiana, not Laos)
            (not set(words(e.name)) <= lying_in, _region_tier(e), n) if e is not None else (True, 2, n)
            for n, (s, e) in enumerate(zip(ranked, records, strict=True))
            if s.kb_id in named[i] or (e is not None and frozenset(words(e.name)) in fuller)
        ]
        _, tier, best = min(((o, t, n) for o, t, n in tiers if t < 2 and ranked[n].score > 0), default=(True, 2, 0))
        if tier < 2 and best > 0:
            out[i], held[i] = _promoted(ranked, best), True
    return out, held


def dateline_cities(
    mentions: Sequence[Mention],
    scored: Sequence[list[Scored]],
    named: Sequence[set[str]],
    entities: dict[str, EntityRecord],
) -> tuple[list[list[Scored]], list[bool]]:
    """A dateline's place ("WASHINGTON (AP) —") is the city the story was filed from: of the entities the mention
    names (``named``: by an alias, a redirect or a key, as "new york" is New York City's), the best-ranked town or
    city goes first, with at least the displaced entity's probability, so
    "WASHINGTON" is the capital rather than the state and "NEW YORK" the city rather than the state. Per mention,
    the ranked list and whether the rule moved it."""
    out, moved = list(scored), [False] * len(scored)
    for i, (m, ranked) in enumerate(zip(mentions, scored, strict=True)):
        if not m.dateline or m.label not in (None, "LOC") or not ranked or _settlement(entities.get(ranked[0].kb_id)):
            continue
        towns = (n for n, s in enumerate(ranked) if s.kb_id in named[i] and _settlement(entities.get(s.kb_id)))
        best = next((n for n in towns if ranked[n].score > 0), 0)
        if best:
            out[i], moved[i] = _promoted(ranked, best), True
    return out, moved


def _promoted(ranked: list[Scored], best: int) -> list[Scored]:
    """``ranked`` with its ``best``-th entry first, at least as likely as the entity it displaces: what a rule
    of the document that settles a mention's entity returns."""
    chosen = Scored(ranked[best].kb_id, max(ranked[best].score, ranked[0].score))
    return [chosen, *(s for s in ranked if s.kb_id != chosen.kb_id)]


_SETTLEMENT = re.compile(r"\b(?:city|town|village|capital|municipality)\b")


def _settlement(entity: EntityRecord | None) -> bool:
    """The entity is a town or city (by its types): what a dateline names."""
    return entity is not None and bool(_SETTLEMENT.search(" ".join(entity.types).lower()))


# Type words of a region that holds places: a qualifier names one of these before a city of the same name.
_REGION_TYPE = re.compile(
    r"\b(?:state|province|country|region|county|district|department|governorate|prefecture|oblast|voivodship"
    r"|canton|territory|republic|land|parish|autonomous community)\b"
)


def _region_tier(entity: EntityRecord | None) -> int:
    """0: a region (``_REGION_TYPE``, "us_state" too); 1: another place; 2: not a place (or unknown)."""
    if entity is None:
        return 2
    if _REGION_TYPE.search(" ".join(entity.types).lower().replace("_", " ")):
        return 0
    return 1 if type_fit("LOC", entity.types)[0] else 2


def _part_of_name(short: Mention, fuller: Mention, entity: EntityRecord | None) -> bool:
    """Whether a short person mention may stand for the entity its fuller one links to: not when the rest of the
    fuller mention already spells the entity's name, which makes the short one a title in front of it ("DJ" of
    "DJ Casey Kasem"); a nickname still does ("Bob" of "Bob Nardelli", Robert Nardelli). An organisation's short
    name always may."""
    if entity is None:
        return False
    own = set(words(short.text))
    name = set(words(entity.name))
    return short.label != "PER" or own <= name or not (set(words(fuller.text)) - own) >= name


def _named_exactly(mention: Mention, entity: EntityRecord | None, aliased: set[str]) -> bool:
    """The entity's name is the mention's (for an organisation, also an alias or redirect of it: ``aliased``),
    and its types fit the mention's label."""
    if entity is None:
        return False
    alias = mention.label == "ORG" and entity.id in aliased
    same = alias or normalize(entity.name) == normalize(mention.text)
    return same and type_fit(mention.label, entity.types)[0] == 1.0
