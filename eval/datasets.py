"""Evaluation datasets behind one reader interface: CoNLL BIO, JSONL spans, ELEVANT entity-linking JSONL.

Every reader returns documents with character-offset gold entities and, where
the format has them, gold links. Lines that fail to parse are reported with file
and line and skipped; the caller reports how many.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hybrid_ner.ner.data import read_conll
from hybrid_ner.ner.tags import spans_from_bio
from hybrid_ner.text import words_from_tokens

FORMATS = ("conll", "jsonl", "elevant")
# ELEVANT coarse type QIDs → CoNLL labels (Person, Organization, Geographic Entity); the rest is MISC.
ELEVANT_TYPES = {"Q215627": "PER", "Q43229": "ORG", "Q27096213": "LOC"}


@dataclass
class GoldEntity:
    start: int
    end: int
    label: str
    kb_id: str | None = None  # None: not linked, or NIL


@dataclass
class Document:
    id: str
    text: str
    entities: list[GoldEntity]
    evaluation_span: tuple[int, int] | None = None


@dataclass
class Dataset:
    name: str
    documents: list[Document]
    skipped: list[str] = field(default_factory=list)  # "file:line: reason"

    @property
    def labels(self) -> list[str]:
        return sorted({e.label for d in self.documents for e in d.entities})

    @property
    def has_links(self) -> bool:
        return any(e.kb_id for d in self.documents for e in d.entities)


def read_conll_docs(path: Path) -> Dataset:
    """One document per sentence, its words joined by single spaces."""
    skipped: list[str] = []
    docs: list[Document] = []
    for i, s in enumerate(read_conll(path, skipped)):
        text, words = words_from_tokens(s.words)
        ents = [GoldEntity(words[a].start, words[b - 1].end, t) for a, b, t in spans_from_bio(s.tags)]
        docs.append(Document(str(i), text, ents))
    return Dataset(path.name, docs, skipped)


def _jsonl(path: Path, parse: Callable[[dict[str, object], int], Document | None]) -> Dataset:
    docs: list[Document] = []
    skipped: list[str] = []
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw.decode("utf-8"))
                if not isinstance(row, dict):
                    raise ValueError("expected a JSON object")
                doc = parse(row, lineno)
            except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
                skipped.append(f"{path}:{lineno}: {type(exc).__name__}: {exc}")
                continue
            if doc is not None:
                docs.append(doc)
    return Dataset(path.name, docs, skipped)


def _checked(text: str, start: int, end: int) -> tuple[int, int]:
    if not (0 <= start < end <= len(text)):
        raise ValueError(f"span [{start}, {end}) is outside the text")
    return start, end


def _text(row: dict[str, object]) -> str:
    text = row["text"]
    if not isinstance(text, str):
        raise TypeError("'text' must be a string")
    return text


def read_jsonl_docs(path: Path) -> Dataset:
    def parse(row: dict[str, object], lineno: int) -> Document:
        text = _text(row)
        ents = []
        for e in row.get("entities", []) or []:  # type: ignore[attr-defined]
            s, t = _checked(text, int(e["start"]), int(e["end"]))
            ents.append(GoldEntity(s, t, str(e["label"]), e.get("kb_id")))
        return Document(str(row.get("id", lineno)), text, ents)

    return _jsonl(path, parse)


def _elevant_label(type_field: str) -> str:
    for qid in type_field.split("|"):
        if qid in ELEVANT_TYPES:
            return ELEVANT_TYPES[qid]
    return "MISC"


def read_elevant_docs(path: Path) -> Dataset:
    """ELEVANT articles: root, non-optional labels; ``<NIL>``/``<NO_MAPPING>`` links become ``kb_id=None``."""

    def parse(row: dict[str, object], lineno: int) -> Document:
        text = _text(row)
        ents = []
        for lab in row["labels"]:  # type: ignore[attr-defined]
            if lab.get("parent") is not None or lab.get("optional") or lab.get("desc"):
                continue
            if lab["type"] in ("DATETIME", "QUANTITY"):
                continue
            s, t = _checked(text, int(lab["span"][0]), int(lab["span"][1]))
            qid = None if str(lab["entity_id"]).startswith("<") else str(lab["entity_id"])  # <NIL>, <NO_MAPPING>
            ents.append(GoldEntity(s, t, _elevant_label(str(lab["type"])), qid))
        span = row.get("evaluation_span")
        ev = (int(span[0]), int(span[1])) if isinstance(span, list) else None
        return Document(str(row["id"]), text, ents, ev)

    return _jsonl(path, parse)


READERS: dict[str, Callable[[Path], Dataset]] = {
    "conll": read_conll_docs,
    "jsonl": read_jsonl_docs,
    "elevant": read_elevant_docs,
}


def read_dataset(path: Path, fmt: str | None = None) -> Dataset:
    """Read ``path`` in ``fmt`` (guessed from the name when omitted)."""
    path = Path(path)
    if fmt is None:
        fmt = "elevant" if "benchmark" in path.name else ("jsonl" if path.suffix in {".jsonl", ".json"} else "conll")
    if fmt not in READERS:
        raise ValueError(f"unknown format {fmt!r}; valid formats: {', '.join(FORMATS)}")
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    return READERS[fmt](path)
