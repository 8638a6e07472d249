"""Lookup keys for surface forms: normalization, looser keys for a mention, derived keys for an entity, and
the popularity used to order hits. Pure functions: the store writes these keys, the linker looks them up."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from functools import cache, lru_cache

from kb.gazetteer import place_names

_SPACES = re.compile(r"\s+")
_EDGE_PUNCT = re.compile(r"^[\W_]+|[\W_]+$")
_WORD = re.compile(r"[^\W_]+")
_QID = re.compile(r"Q(\d+)")
DERIVED = "derived"  # alias source of lookup keys the store derives itself (hidden from entity records)
REDIRECT = "dbpedia-redirect"  # alias source of Wikipedia redirects (``kb enrich``): noisier than a KB's own names
# Words that name a company's legal form, cut from the end of a name ("General Electric Co." → general electric).
_ORG_SUFFIXES = frozenset(
    [
        "inc",
        "incorporated",
        "corp",
        "corporation",
        "co",
        "company",
        "cos",
        "ltd",
        "limited",
        "plc",
        "llc",
        "lp",
        "ag",
        "sa",
        "nv",
        "bv",
        "gmbh",
        "spa",
        "se",
        "group",
        "holdings",
    ]
)
# The legal forms that say a name is a company's when they follow it ("Pfizer Inc", "Ferrari S.p.A.", "Airbus
# S.A.S.", "Nokia Oyj"): the unambiguous ones. "Co" is also Colorado, "Group" and "Holdings" also name bands and
# funds. Forms only a redirect's ending is checked for are not cut from names (that would change every KB's keys).
LEGAL_FORMS = (_ORG_SUFFIXES - {"co", "cos", "group", "holdings", "lp", "se"}) | {
    "sas", "oyj", "kgaa", "sarl", "srl", "bhd", "kk", "ab"
}  # fmt: skip
# Words that mark a sports club's name ("Chelsea F.C.", "FC Barcelona", "AFC Ajax", "PFC CSKA Moscow"), at
# either end; news calls the club by the rest ("Chelsea beat Ajax"). "SS" and "CD" are left out: they also
# begin ships' and products' names ("SS Exodus", "CD Video"), "SV" is cut only in front ("Hamburger SV").
CLUB_DESIGNATORS = frozenset(["fc", "afc", "cf", "sc", "fk", "sk", "pfc", "nk", "rfc"])
LEADING_DESIGNATORS = CLUB_DESIGNATORS | {"ac", "as", "sl", "sv", "vfb", "vfl", "tsv", "ssc", "rsc", "acf"}
_NAME_SUFFIXES = frozenset(["jr", "sr", "ii", "iii", "iv"])
_ACRONYM_STOP = frozenset(["of", "the", "and", "for", "de", "la", "le", "du", "des", "del", "di", "da", "von", "van"])
_TITLES = frozenset(
    {
        "president",
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "professor",
        "sir",
        "dame",
        "lord",
        "lady",
        "gov",
        "governor",
        "sen",
        "senator",
        "rep",
        "gen",
        "general",
        "judge",
        "justice",
        "king",
        "queen",
        "prince",
        "princess",
        "pope",
        "chancellor",
        "minister",
        "secretary",
        "chairman",
        "coach",
        "mayor",
    }
)
_QUALIFIER = re.compile(r"\s*\([^)]*\)\s*$|,.*$")


@lru_cache(maxsize=1 << 16)
def normalize(text: str) -> str:
    """Alias key: case-folded, accents stripped, inner whitespace collapsed, edge punctuation removed. Memoised:
    the linker normalises every candidate's name for every mention, and a document meets the same names again."""
    if text.isascii():  # its own NFKD form, with nothing to strip: most names, and a KB build's hot path
        stripped = text
    else:
        decomposed = unicodedata.normalize("NFKD", text)
        stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _EDGE_PUNCT.sub("", _SPACES.sub(" ", stripped.casefold()).strip())


def words(text: str) -> list[str]:
    """The normalized words of a text, punctuation dropped."""
    return _WORD.findall(normalize(text))


def lookup_keys(text: str) -> set[str]:
    """Looser keys for a surface form: punctuation dropped ("W.R. Grace" → w r grace), dotted initials
    joined ("N.J." → nj), a leading "the" and trailing legal-form words cut ("Volkswagen AG" → volkswagen),
    a title ("President Bush" → bush) and what follows a comma ("Boston, Massachusetts" → boston)."""
    ws = words(text)
    keys = {" ".join(ws)}
    if "," in text:  # "Boston, Massachusetts" → boston
        keys.add(" ".join(words(text.split(",", 1)[0])))
    if len(ws) > 1 and ws[0] in _TITLES:  # "President Bush" → bush
        keys.add(" ".join(ws[1:]))
    if len(ws) > 1 and all(len(w) == 1 for w in ws):
        keys.add("".join(ws))
    if len(ws) > 1 and ws[0] == "the":
        ws = ws[1:]
        keys.add(" ".join(ws))
    while len(ws) > 1 and (ws[-1] in _ORG_SUFFIXES or ws[-1] == "and"):
        ws = ws[:-1]
        keys.add(" ".join(ws))
    return keys - {""}


def legal_form(name: str, others: Sequence[str]) -> str:
    """The legal form by which one of ``others`` names ``name`` as a company: "Dell Computer Corporation" for
    Dell gives "corporation", "Audi AG" gives "ag", "Ferrari S.p.A." gives "s.p.a." (as one word, "spa", it
    may be a spa town: ``PLACE_LIKE_FORMS``); "" when none does. An unambiguous form wins over a place-like one."""
    own = words(name)
    if not own:
        return ""
    found = ""
    for other in others:
        if other.rsplit(" ", 1)[-1].replace(".", "").lower() not in LEGAL_FORMS:  # most names: no need to read on
            continue
        ws = _WORD.findall(normalize(other))
        if len(ws) <= len(own) or ws[: len(own)] != own:
            continue
        tail = ws[len(own) :]
        form = "".join(tail) if all(len(w) == 1 for w in tail) else tail[-1]  # S.p.A. → spa
        if form in LEGAL_FORMS:
            if len(tail) > 1 and form == "spa":
                form = "s.p.a."
            if found == "" or found in PLACE_LIKE_FORMS:  # an unambiguous form wins
                found = form
    return found


# Legal forms that as a name's last word also make a place's name: "Ammerswil AG" is a village in Aargau, and
# "Cheltenham Spa" a town. They alone say that a title is a company only where many redirects confirm it.
PLACE_LIKE_FORMS = frozenset(["ag", "spa", "ab"])  # "ab" also abbreviates Alberta ("Calgary AB")


@cache
def alternates() -> dict[str, frozenset[str]]:
    """Normalized place name → every name of the same place, normalized (see ``kb.gazetteer``)."""
    out: dict[str, set[str]] = {}
    for names in place_names():
        norms = {normalize(n) for n in names} - {""}
        for n in norms:
            out.setdefault(n, set()).update(norms)
    return {n: frozenset(v) for n, v in out.items()}


def club_name(name: str) -> str:
    """A sports club's name without its designator ("Chelsea F.C." → chelsea, "1. FC Köln" → koln, "A.C. Milan"
    → milan); "" when ``name`` has none, or nothing of three letters is left."""
    tokens = normalize(name).split(" ")
    plain = [t.replace(".", "") for t in tokens]
    lo, hi = 0, len(tokens)
    if hi > 2 and plain[0].isdigit() and plain[1] in LEADING_DESIGNATORS:  # "1. FC Köln", not "TSV 1860 Munich"
        lo = 1
    while lo < hi - 1 and plain[lo] in LEADING_DESIGNATORS:
        lo += 1
    if hi - 1 > lo and plain[hi - 1] in CLUB_DESIGNATORS:
        hi -= 1
    if (lo, hi) == (0, len(tokens)):  # no designator cut
        return ""
    rest = words(" ".join(tokens[lo:hi]))
    named = any(len(w) > 2 and w.isalpha() and w not in _ORG_SUFFIXES for w in rest)  # not "SK Group" → group
    return " ".join(rest) if named else ""


def acronym(ws: Sequence[str]) -> str:
    """The initials of a name's words, small words left out ("New York Stock Exchange" → nyse); "" for a name of
    one word or with a word that is not all letters."""
    content = [w for w in ws if w not in _ACRONYM_STOP]
    return "".join(w[0] for w in content) if len(content) > 1 and all(w.isalpha() for w in content) else ""


def name_initials(name: str) -> str:
    """The acronym key an entity's name derives ("Los Angeles" → la), from the name without its qualifier; ""
    when it has none. The linker asks it back: only a mention written as initials may take that key."""
    head = _QUALIFIER.sub("", name).strip()
    return acronym(words(head or name))


def is_person(types: Sequence[str]) -> bool:
    """Whether an entity's types make it a person: a type that says "person" ("Person", "person/politician"), or
    Wikidata's "human". A "Human Population" ("Greek American", "Black British") is a people, not a person: its
    last word is no surname, and "American" must not find it."""
    return any("person" in t.lower() or t.strip().lower() == "human" for t in types)


def derived_keys(name: str, types: Sequence[str]) -> set[str]:
    """Keys an entity is found by besides its aliases: its lookup keys, its acronym ("New York Stock
    Exchange" → nyse), for people the surname ("Nick Saban" → saban), and for an organisation or an entity of
    unknown type a sports club's name without its designator ("Chelsea F.C." → chelsea)."""
    keys = lookup_keys(name)
    for other in alternates().get(normalize(name), ()):
        keys |= lookup_keys(other)
    head = _QUALIFIER.sub("", name).strip()  # "Washington, D.C." → Washington; "Mercury (planet)" → Mercury
    if head and head != name:
        keys |= lookup_keys(head)
    ws = words(head or name)
    if len(ws) > 1 and ws[-1] == "city":  # "New York City" → new york
        keys.add(" ".join(ws[:-1]))
    if initials := name_initials(name):
        keys.add(initials)
    if is_person(types):
        given = [w for w in ws if w not in _NAME_SUFFIXES]
        if len(given) > 1 and len(given[-1]) > 2:
            keys.add(given[-1])
    elif (not types or any("organi" in t.lower() for t in types)) and (club := club_name(name)):
        keys.add(club)  # not for places: "As Suways" is no club
    return keys


def popularity(entity_id: str, prior: float) -> float:
    """Higher is better known: the KB's prior when it has one; else, for Wikidata ids, the item number
    (low numbers were created first, from the most-linked Wikipedia articles)."""
    if prior > 0:
        return math.log1p(prior)
    qid = _QID.fullmatch(entity_id)
    return -math.log10(int(qid.group(1))) if qid else 0.0
