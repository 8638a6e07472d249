"""Does an entity's type fit a mention's label, and does the entity bear the mention's name or is it an article
about a word: the type rules the reranker's features and its ruling-out read."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from kb.records import EntityRecord
from linking.candidates import Candidate, Mention

# NER label → KB type words that fit it (KB types are free text: Wikidata coarse names, GeoNames kinds).
TYPE_WORDS = {
    "PER": ("person", "human", "people", "character"),
    "ORG": ("organization", "organisation", "company", "team", "club", "party", "agency", "institution", "business"),
    "LOC": (
        "location",
        "geographic",
        "city",
        "country",
        "state",
        "province",
        "region",
        "airport",
        "place",
        "county",
        "district",
        "municipality",
        "island",
        "river",
        "mountain",
        "astronomical",  # a planet or moon: news labels them locations ("probes to Mars")
    ),
}


# Types of articles about words rather than bearers of a name ("Apple" the fruit, "Stephen" the given name): a
# person or organisation mention links to them only when no candidate of its own type is there (``word_articles``).
NOT_A_BEARER = ("concept", "given name", "surname", "family name")


def word_articles(label: str | None, records: Sequence[EntityRecord | None]) -> np.ndarray:
    """Per candidate, True where it is an article about a word that a ``label`` mention must not take while a
    candidate of the mention's own type is on the list."""
    out = np.zeros(len(records), dtype=bool)
    if label not in ("PER", "ORG"):
        return out
    if not any(e is not None and type_fit(label, e.types)[0] for e in records):
        return out
    return np.array([about_a_word(e) for e in records], dtype=bool)


def about_a_word(entity: EntityRecord | None) -> bool:
    """The entity is an article about a word: typed as one (``NOT_A_BEARER``), named in lower case, as Wikidata
    names common nouns ("apple", "tiger", "treasury"), or a name-only title of one word that nothing types: such
    a title is mostly a given name, a surname or a page of the name's bearers ("Finn", "Tesla"); a person or firm
    known by one word and well enough to matter is in the KB with a type."""
    if entity is None:
        return False
    lone = entity.name_only and not entity.types and len(entity.name.split()) == 1
    return lone or entity.name[:1].islower() or _word_types(tuple(entity.types))


@lru_cache(maxsize=4096)
def _word_types(types: tuple[str, ...]) -> bool:
    joined = " ".join(types).lower()
    return any(w in joined for w in NOT_A_BEARER)


def word_article(mention: Mention, entity: EntityRecord | None) -> float:
    """1 where a capitalised mention the NER calls a person, organisation or place meets an article about a word
    (``about_a_word``). A fitted feature that the link's probability reads too: unlike the ``word_articles`` rule
    it counts where no candidate of the mention's own type is on the list, which is where "Tigers" (ORG) took the
    animal for a team the KB lacks."""
    if mention.label not in ("PER", "ORG", "LOC") or not mention.text[:1].isupper():
        return 0.0
    return float(about_a_word(entity))


def other_bearers(label: str | None, cands: Sequence[Candidate], records: Sequence[EntityRecord | None]) -> np.ndarray:
    """Per candidate, True where a person, organisation or place mention must not take it: the candidate is of
    the other type (a person; an organisation for a person mention), the mention is not one of its names (only a
    surname or a looser key: "Siemens" for Carl Wilhelm Siemens) and the document does not name it in full
    ("Gerald Ford ... Ford"). For an organisation or a place that is enough: a surname key is there to find
    people ("Tesla" as ORG never means Nikola Tesla, "in Washington" never George Washington). For a person
    mention an entity of its own type that it names must also be on the list (the person wins over a firm named
    after a relative); where none is, the fitted scores decide: the NER often labels a company named after its
    founder as a person ("Ford said it would cut jobs")."""
    out = np.zeros(len(cands), dtype=bool)
    if label not in ("PER", "ORG", "LOC"):
        return out
    other = "ORG" if label == "PER" else "PER"
    typed = [type_fit(label, e.types) if e is not None else (0.0, 0.0, 0.0) for e in records]
    if label == "PER" and not any(t[0] and c.exact for t, c in zip(typed, cands, strict=True)):
        return out
    for i, (e, c, t) in enumerate(zip(records, cands, typed, strict=True)):
        out[i] = bool(e is not None and t[1] and not (c.exact or c.doc_hit) and type_fit(other, e.types)[0])
    return out


def type_fit(label: str | None, types: Sequence[str]) -> tuple[float, float, float]:
    """(fits, clashes, is a place for a person or organisation): 1/0 when the NER label agrees/disagrees with
    the entity's types; 0/0/0 when either is unknown."""
    if not label or label not in TYPE_WORDS or not types:
        return 0.0, 0.0, 0.0
    return _type_fit(label, tuple(types))


@lru_cache(maxsize=4096)
def _type_fit(label: str, types: tuple[str, ...]) -> tuple[float, float, float]:
    """``type_fit`` of a label and a KB's types: a KB has few distinct type lists, and every candidate of every
    mention asks."""
    joined = " ".join(types).lower()
    fits = any(w in joined for w in TYPE_WORDS[label])
    other = any(w in joined for lab, words in TYPE_WORDS.items() if lab != label for w in words)
    place = label in ("PER", "ORG") and not fits and any(w in joined for w in TYPE_WORDS["LOC"])
    return float(fits), float(other and not fits), float(place)
