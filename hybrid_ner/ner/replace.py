"""Copies of training sentences with their names swapped for other names of the same type, so the model learns
what makes a span a person or a place from the words around it, not from the few thousand names CoNLL repeats.
Half of CoNLL test's entities, and nine in ten of a tweet's, are names the training data never labels.

``train-ner --replace SHARE --names FILE`` adds one copy of that share of the sentences that hold a replaceable
entity. The names file is UTF-8, one ``LABEL<TAB>name`` per line (``python -m eval.kb_names`` writes one from
the bundled KB); each entity of a label the file has is replaced with a chance of one in two (at least one per
copy).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

from hybrid_ner.ner.data import TaggedSentence
from hybrid_ner.ner.noise import drawn_copies
from hybrid_ner.ner.tags import spans_from_bio
from hybrid_ner.text import split_sentences

Names = dict[str, list[list[str]]]


def read_names(path: Path) -> Names:
    """``LABEL<TAB>name`` lines → each label's names as word lists; a malformed line raises naming its line."""
    names: Names = {}
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        label, sep, name = line.partition("\t")
        words = [w.text for sentence in split_sentences(name) for w in sentence]
        if not sep or not label.strip() or not words:
            raise ValueError(f"{path}:{lineno}: expected 'LABEL<TAB>name', got {line.strip()[:80]!r}")
        names.setdefault(label.strip(), []).append(words)
    if not names:
        raise ValueError(f"{path}: no names")
    return names


def replaced(s: TaggedSentence, names: Names, rng: random.Random) -> TaggedSentence | None:
    """``s`` with some of its entities of the labels ``names`` has swapped for a drawn name, tags following."""
    spans = [e for e in spans_from_bio(s.tags) if e[2] in names]
    if not spans:
        return None
    chosen = [e for e in spans if rng.random() < 0.5] or [rng.choice(spans)]
    words, tags, at = [], [], 0
    for start, end, label in chosen:
        name = rng.choice(names[label])
        words += [*s.words[at:start], *name]
        tags += [*s.tags[at:start], f"B-{label}", *[f"I-{label}"] * (len(name) - 1)]
        at = end
    return TaggedSentence([*words, *s.words[at:]], [*tags, *s.tags[at:]])


def replaced_copies(sentences: Sequence[TaggedSentence], share: float, names: Names, seed: int) -> list[TaggedSentence]:
    """One name-swapped copy of about ``share`` of the ``sentences`` that hold an entity of a label in ``names``."""
    return [copy for copy, _ in drawn_copies(sentences, share, seed, lambda s, rng: replaced(s, names, rng))]
