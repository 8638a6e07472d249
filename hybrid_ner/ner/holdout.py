"""Training data must not hold the sentences a model is judged on: ``train-ner`` and ``adapt`` refuse a corpus
that overlaps an evaluation set (their ``--dev``, each ``--holdout``, and for ``adapt`` the schema's registered
evaluation sets), naming both files and the first shared sentence's line.

Two corpora of one genre share some boilerplate by nature ("Goals for , goals against , points ) :" is in CoNLL
train, dev and test), so an evaluation sentence counts only when it has at least ``MIN_WORDS`` words and occurs
once in its set, and a training corpus is refused when it holds more than ``MAX_SHARE`` of those (CoNLL train
holds 1.4 % of dev's and 0.4 % of test's; a copied evaluation set, however often repeated, all of them).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hybrid_ner.errors import HybridNERError
from hybrid_ner.ner.data import TaggedSentence

MIN_WORDS = 8
MAX_SHARE = 0.02


class EvaluationOverlapError(HybridNERError, ValueError):
    """A training corpus holds too much of an evaluation set."""


@dataclass(frozen=True)
class Holdout:
    """An evaluation set: where it came from (a file, or a registered set's name) and its sentences."""

    source: str
    sentences: Sequence[TaggedSentence]


def _key(sentence: TaggedSentence) -> str:
    """The sentence without spaces: text split by another tokenizer ("U.S." or "U.S ."; raw text for
    distillation) gives the same key."""
    return "".join(sentence.words).casefold()


def _singles(sentences: Sequence[TaggedSentence]) -> set[str]:
    """The keys of the sentences long enough to count that occur once."""
    counts = Counter(_key(s) for s in sentences if len(s.words) >= MIN_WORDS)
    return {k for k, n in counts.items() if n == 1}


def check_disjoint(train: Path, sentences: Sequence[TaggedSentence], holdouts: Sequence[Holdout]) -> None:
    """Raise ``EvaluationOverlapError`` when ``sentences`` (read from ``train``) hold more than ``MAX_SHARE`` of
    any holdout's countable sentences."""
    mine: dict[str, int] = {}
    for i, s in enumerate(sentences):
        mine.setdefault(_key(s), i)
    for holdout in holdouts:
        theirs = _singles(holdout.sentences)
        shared = [mine[k] for k in theirs if k in mine]
        if not theirs or len(shared) <= MAX_SHARE * len(theirs):
            continue
        first = sentences[min(shared)]
        where = locate(train, first.words)
        raise EvaluationOverlapError(
            f"{train}{f':{where}' if where else ''}: the training data holds {len(shared)} of the "
            f"{len(theirs)} sentences of the evaluation set {holdout.source} "
            f"({100 * len(shared) / len(theirs):.1f} %, more than {100 * MAX_SHARE:.0f} %), the first being "
            f"{' '.join(first.words)[:80]!r}; remove them, or the scores on that set mean nothing"
        )


def locate(path: Path, words: Sequence[str]) -> int | None:
    """The line of ``path`` where the sentence of ``words`` starts (CoNLL: a token per line; other formats, and
    plain text: the first line holding its words in order), or None."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    if path.suffix not in {".jsonl", ".json"}:
        firsts = [line.split()[0] if line.strip() else "" for line in lines]
        for n in range(len(firsts) - len(words) + 1):
            if firsts[n : n + len(words)] == list(words):
                return n + 1
    return next((n for n, line in enumerate(lines, 1) if _in_order(line, words)), None)


def _in_order(line: str, words: Sequence[str]) -> bool:
    at = 0
    for word in words:
        at = line.find(word, at)
        if at < 0:
            return False
        at += len(word)
    return True
