"""Domains for the adaptation benchmarks: CrossNER (politics, science, music) and WNUT-17, with the schemas a
user would write for them (type names from the data, one-line descriptions), and their published anchors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hybrid_ner.ner.data import TaggedSentence, read_conll
from hybrid_ner.schemas import EntityType, Schema

DESCRIPTIONS = {
    "politician": "A politician or other holder of political office.",
    "person": "A person (not one of the more specific kinds of person).",
    "organisation": "An organisation (not one of the more specific kinds).",
    "politicalparty": "A political party.",
    "election": "An election, such as a general, presidential or regional election.",
    "event": "A named event (not an election).",
    "country": "A country or state.",
    "location": "A place that is not a country: a city, region, river, building.",
    "misc": "Other named things: nationalities, documents, titles, slogans.",
    "scientist": "A scientist.",
    "university": "A university or college.",
    "discipline": "A scientific discipline or field of study.",
    "enzyme": "An enzyme.",
    "protein": "A protein.",
    "chemicalelement": "A chemical element.",
    "chemicalcompound": "A chemical compound or molecule.",
    "astronomicalobject": "A star, planet, galaxy, comet or other astronomical object.",
    "academicjournal": "An academic journal.",
    "theory": "A scientific theory, law or effect.",
    "award": "An award or prize.",
    "musicgenre": "A genre of music.",
    "song": "A song or single.",
    "band": "A band or musical group.",
    "album": "A music album.",
    "musicalartist": "A musician, singer or composer.",
    "musicalinstrument": "A musical instrument.",
    "corporation": "A company or corporation.",
    "group": "A group of people that is not a company: a band, team, party, club.",
    "product": "A product: a device, software, a service, a brand of goods.",
    "creative-work": "A creative work: a song, film, book, show, game.",
}
# Published test F1 (micro, exact span and type).
NUNER_ZERO = {"politics": 71.7, "science": 65.4, "music": 69.9}
# The CrossNER paper's supervised BERT-base baselines (Liu et al., AAAI 2021, Table 3) as quoted: the paper is not
# reachable from this machine, so they were not re-checked against it.
CROSSNER_BERT = {
    "directly fine-tune": {"politics": 66.56, "science": 63.73, "music": 66.59},
    "pre-train then fine-tune (CoNLL first)": {"politics": 68.71, "science": 64.94, "music": 68.30},
    "jointly train (with CoNLL)": {"politics": 68.85, "science": 65.03, "music": 67.59},
}
WNUT_BEST_2017 = 41.9  # the shared task's best system (entity F1, exact span and type)
# WNUT-17 types as the CoNLL model's labels (the calibration target): the rest is not a PER/LOC/ORG entity.
WNUT_TO_CONLL = {"person": "PER", "location": "LOC", "corporation": "ORG", "group": "ORG"}


@dataclass(frozen=True)
class Domain:
    name: str
    train: Path
    dev: Path
    test: Path

    def read(self, split: str) -> list[TaggedSentence]:
        return read_conll(getattr(self, split))


def crossner(root: Path, name: str) -> Domain:
    d = root / name
    return Domain(name, d / "train.txt", d / "dev.txt", d / "test.txt")


def schema_for(name: str, sentences: list[TaggedSentence]) -> Schema:
    """The schema a user would write: every type of the data, described in a line."""
    types = sorted({t[2:] for s in sentences for t in s.tags if t != "O"})
    return Schema(name=name, types=[EntityType(name=t, description=DESCRIPTIONS.get(t, "")) for t in types])


def relabel(sentences: list[TaggedSentence], mapping: dict[str, str]) -> list[TaggedSentence]:
    """Tags renamed by ``mapping``; types it does not name become ``O`` (a B- after a dropped entity stays B-)."""
    out = []
    for s in sentences:
        tags = [t if t == "O" else (f"{t[:2]}{mapping[t[2:]]}" if t[2:] in mapping else "O") for t in s.tags]
        out.append(TaggedSentence(s.words, tags))
    return out


def write_conll(sentences: list[TaggedSentence], path: Path) -> Path:
    path.write_text(
        "".join("".join(f"{w}\t{t}\n" for w, t in zip(s.words, s.tags, strict=True)) + "\n" for s in sentences)
    )
    return path
