"""Nationality words: "American" and "Americans" name the United States or its people, yet no KB lists
"American" as a name of either (Wikidata labels the language "Russian" and the accent "General American").
The table (``demonyms.tsv``, packaged) gives each place's adjectives and the names of its people. An adjective
names the place ("an American playwright": the United States, as Wikipedia's links and AIDA-style benchmarks
read it), a plural names the people ("Americans"); the linker offers that entity and its fitted ranker decides
between it and the word's namesakes (the language "Russian")."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from kb.keys import alternates, normalize

TABLE = Path(__file__).resolve().parent / "demonyms.tsv"


@dataclass(frozen=True)
class Demonym:
    places: tuple[str, ...]  # normalized names of the place, the gazetteer's other names of it included
    peoples: tuple[str, ...]  # normalized names of its people ("americans", "british people")
    adjective: bool  # the word is the adjective ("American"), which names the place; else it names the people


@cache
def demonyms(path: Path = TABLE) -> dict[str, Demonym]:
    """Normalized adjective or people name ("american", "americans") → what it names. A malformed line of the
    table is an error naming the file and line: a silent gap would unlink a nationality."""
    out: dict[str, Demonym] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 3 or not fields[1].strip() or not fields[2].strip():
            raise ValueError(f"{path}:{n}: want 'place<TAB>adjectives<TAB>people', got {line!r}")
        place, adjectives, people = (f.strip() for f in fields)
        places, peoples = place_forms(place), tuple(normalize(p) for p in people.split(","))
        for form in people.split(","):
            out[normalize(form)] = Demonym(places, peoples, adjective=False)
        for form in adjectives.split(","):  # an adjective that is also a people's name ("Swiss") is an adjective
            out[normalize(form)] = Demonym(places, peoples, adjective=True)
    return out


def place_forms(place: str) -> tuple[str, ...]:
    """The place's name and, where the gazetteer knows it, its other full names ("united states of america");
    never a code of three letters or fewer ("us" names too much else)."""
    if not place:
        return ()
    key = normalize(place)
    others = sorted(n for n in alternates().get(key, ()) if len(n.replace(" ", "")) > 3 and n != key)
    return (key, *others)


def demonym(text: str) -> Demonym | None:
    """What a mention's text names as a nationality word, if it is one."""
    return demonyms().get(normalize(text))


def named_by(d: Demonym) -> tuple[bool, tuple[str, ...]]:
    """Whether the word names a place, and the names of what it names: the place for an adjective where the
    table has one, else the people ("Jewish")."""
    place = d.adjective and bool(d.places)
    return place, d.places if place else d.peoples
