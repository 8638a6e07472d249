"""Mention replacement: more training sentences from the few there are, by swapping each entity for another
mention of the same type (Dai and Adel, 2020). The contexts stay real; the names vary, so the model leans on the
context and the type's usual names rather than on the exact names it saw."""

from __future__ import annotations

import random
from collections.abc import Sequence

from hybrid_ner.ner.data import TaggedSentence
from hybrid_ner.ner.tags import spans_from_bio


def mention_pool(sentences: Sequence[TaggedSentence]) -> dict[str, list[tuple[str, ...]]]:
    """Every distinct mention of each type, as word tuples, in first-seen order."""
    pool: dict[str, dict[tuple[str, ...], None]] = {}
    for s in sentences:
        for a, b, t in spans_from_bio(s.tags):
            pool.setdefault(t, {})[tuple(s.words[a:b])] = None
    return {t: list(names) for t, names in pool.items()}


def replace_mentions(sentences: Sequence[TaggedSentence], copies: int, seed: int) -> list[TaggedSentence]:
    """``copies`` new versions of every sentence that has entities, each mention swapped for a random mention of
    its type (types with a single distinct mention keep it)."""
    rng = random.Random(seed)
    pool = mention_pool(sentences)
    out: list[TaggedSentence] = []
    for _ in range(copies):
        for s in sentences:
            spans = spans_from_bio(s.tags)
            if not spans:
                continue
            words: list[str] = []
            tags: list[str] = []
            at = 0
            for a, b, t in spans:
                words += s.words[at:a]
                tags += s.tags[at:a]
                name = list(rng.choice(pool[t]))
                words += name
                tags += [f"B-{t}"] + [f"I-{t}"] * (len(name) - 1)
                at = b
            out.append(TaggedSentence(words + s.words[at:], tags + s.tags[at:]))
    return out
