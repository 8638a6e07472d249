"""Labelled sentences for adapting and calibrating, read strictly against the types they must use.

Accepted files: CoNLL (the tag in the last column, tab or space separated, blank lines between sentences,
``-DOCSTART-`` ignored), JSONL of ``{"text", "entities": [{"start", "end", "label"}]}`` (doccano's exports too:
``"label": [[start, end, label]]`` or ``start_offset``/``end_offset``), and Label Studio's JSON export. Tags match
the allowed types by name, case-insensitively. Anything else (a tag with no type, an ``I-`` that continues
nothing, bytes that are not UTF-8, an empty file) is a :class:`TrainingDataError` naming the file and line, raised
before anything is trained or written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

from hybrid_ner.errors import HybridNERError
from hybrid_ner.ner.data import TaggedSentence
from hybrid_ner.ner.data import tag_text as bio_sentences


class TrainingDataError(HybridNERError, ValueError):
    """A labelled file cannot be used; the message names the file and, where there is one, the line."""


@dataclass(frozen=True)
class Labelled:
    """Sentences with BIO tags over the canonical type names, and the digest of the file they came from."""

    path: Path
    sentences: list[TaggedSentence]
    digest: str

    @property
    def types(self) -> list[str]:
        return sorted({t[2:] for s in self.sentences for t in s.tags if t != "O"})

    @property
    def entities(self) -> int:
        return sum(t.startswith("B-") for s in self.sentences for t in s.tags)


class _Types:
    """Case-insensitive type names → their canonical spelling."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = list(names)
        self._by_key = {n.casefold(): n for n in names}

    def canonical(self, name: str, where: str) -> str:
        found = self._by_key.get(name.casefold())
        if found is None:
            raise TrainingDataError(f"{where}: tag {name!r} is not a type here; types: {', '.join(self.names)}")
        return found


def read_labelled(path: Path, types: Sequence[str]) -> Labelled:
    """Read ``path`` (format by extension and content) with tags mapped onto ``types``."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise TrainingDataError(f"{path}: cannot read: {exc.strerror or exc}") from None
    known = _Types(types)
    if path.suffix in {".jsonl", ".json"}:
        stripped = raw.lstrip()
        sentences = _label_studio(path, raw, known) if stripped.startswith(b"[") else _jsonl(path, raw, known)
    else:
        sentences = _conll(path, raw, known)
    if not sentences:
        raise TrainingDataError(f"{path}: no labelled sentences (the file is empty)")
    data = Labelled(path, sentences, hashlib.sha256(raw).hexdigest())
    if not data.entities:
        raise TrainingDataError(f"{path}: no entities of the types {', '.join(known.names)}")
    return data


def _lines(path: Path, raw: bytes) -> Iterator[tuple[int, str]]:
    for lineno, line in enumerate(raw.split(b"\n"), 1):
        try:
            yield lineno, line.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError as exc:
            raise TrainingDataError(f"{path}:{lineno}: not valid UTF-8 (byte {exc.start + 1} of the line)") from None


def _conll(path: Path, raw: bytes, known: _Types) -> list[TaggedSentence]:
    out: list[TaggedSentence] = []
    words: list[str] = []
    tags: list[str] = []
    for lineno, line in _lines(path, raw):
        parts = line.split()
        if not parts or parts[0] == "-DOCSTART-":
            if words:
                out.append(TaggedSentence(words, tags))
            words, tags = [], []
            continue
        where = f"{path}:{lineno}"
        if len(parts) < 2:
            raise TrainingDataError(f"{where}: expected 'token ... tag', got {line.strip()[:80]!r}")
        tags.append(_bio(parts[-1], tags[-1] if tags else "O", known, where))
        words.append(parts[0])
    if words:
        out.append(TaggedSentence(words, tags))
    return out


def _bio(tag: str, previous: str, known: _Types, where: str) -> str:
    """One CoNLL tag checked and put in canonical form: ``O``, or ``B-``/``I-`` and a known type."""
    if tag == "O":
        return tag
    prefix, _, name = tag.partition("-")
    if prefix not in {"B", "I"} or not name:
        raise TrainingDataError(f"{where}: {tag!r} is not a BIO tag (O, B-TYPE or I-TYPE)")
    canonical = known.canonical(name, where)
    if prefix == "I" and previous[2:] != canonical:
        raise TrainingDataError(f"{where}: {tag} does not continue an entity of type {canonical} (no B-{name} before)")
    return f"{prefix}-{canonical}"


def _jsonl(path: Path, raw: bytes, known: _Types) -> list[TaggedSentence]:
    out: list[TaggedSentence] = []
    for lineno, line in _lines(path, raw):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise TrainingDataError(f"{where}: invalid JSON: {exc}") from None
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            raise TrainingDataError(f'{where}: expected an object with a string "text"')
        spans = [_span(item, row["text"], known, where) for item in _entity_items(row, where)]
        out.extend(tag_text(row["text"], spans, where))
    return out


def _entity_items(row: dict[str, Any], where: str) -> list[Any]:
    items = row.get("entities", row.get("label", []))
    if not isinstance(items, list):
        raise TrainingDataError(f'{where}: "entities" must be a list')
    return items


def _span(item: Any, text: str, known: _Types, where: str) -> tuple[int, int, str]:
    """One entity as ``{"start", "end", "label"}``, doccano's ``start_offset``/``end_offset``, or ``[s, e, l]``."""
    if isinstance(item, list) and len(item) == 3:
        start, end, label = item
    elif isinstance(item, dict):
        start = item.get("start", item.get("start_offset"))
        end = item.get("end", item.get("end_offset"))
        label = item.get("label")
    else:
        raise TrainingDataError(f"{where}: an entity must be {{start, end, label}} or [start, end, label]")
    if not (type(start) is int and type(end) is int and isinstance(label, str)):
        raise TrainingDataError(f"{where}: entity {item!r:.80} needs integer start/end and a string label")
    if not 0 <= start < end <= len(text):
        raise TrainingDataError(f"{where}: entity [{start}, {end}) is outside the text (length {len(text)})")
    return start, end, known.canonical(label, where)


def tag_text(text: str, spans: Sequence[tuple[int, int, str]], where: str = "") -> list[TaggedSentence]:
    """Character spans → BIO-tagged sentences (a word belongs to an entity it overlaps); overlaps are errors."""
    ordered = sorted(spans)
    for (_, end, _), (start, _, _) in pairwise(ordered):
        if start < end:
            raise TrainingDataError(f"{where}: entities overlap at offset {start}")
    return bio_sentences(text, ordered)


def _label_studio(path: Path, raw: bytes, known: _Types) -> list[TaggedSentence]:
    """Label Studio's JSON export: tasks with ``data.text`` and the first annotation's labelled spans; tasks
    nobody annotated are not training data and are left out."""
    try:
        tasks = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise TrainingDataError(f"{path}: not a Label Studio JSON export: {exc}") from None
    out: list[TaggedSentence] = []
    for n, task in enumerate(tasks, 1):
        where = f"{path}: task {n}"
        text = task.get("data", {}).get("text") if isinstance(task, dict) else None
        if not isinstance(text, str):
            raise TrainingDataError(f'{where}: expected "data": {{"text": ...}}')
        done = [a for a in task.get("annotations") or [] if isinstance(a, dict) and not a.get("was_cancelled")]
        if not done:
            continue
        results = [r for r in done[0].get("result") or [] if isinstance(r, dict) and "labels" in r.get("value", {})]
        spans = [_span({**r["value"], "label": (r["value"]["labels"] or [""])[0]}, text, known, where) for r in results]
        out.extend(tag_text(text, spans, where))
    return out
