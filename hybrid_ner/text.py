"""Word tokenisation and sentence splitting that keep offsets into the original string.

spaCy's rule-based English tokenizer and sentencizer need no model. Very long
inputs are cut into segments at whitespace before spaCy sees them, so a 1 MB
document never hits spaCy's length limit and every offset still indexes the
caller's string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spacy.language import Language

SEGMENT_CHARS = 100_000
# spaCy interns every new word in the pipeline's vocabulary and never forgets it, so a long-running service
# that sees unique texts would grow without bound: past this many strings the pipeline is built afresh.
MAX_VOCAB_STRINGS = 200_000
_SPLIT_PREFERENCE = ("\n\n", "\n", ". ", " ")
# Control characters (other than tab/newline/CR) are not words; they act like spaces.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Word:
    """One word with its character offsets into the original text."""

    text: str
    start: int
    end: int


Sentence = list[Word]


@lru_cache(maxsize=1)
def _nlp() -> Language:
    import spacy
    from spacy.util import compile_infix_regex

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.max_length = SEGMENT_CHARS * 2
    tokenizer: Any = nlp.tokenizer
    tokenizer.infix_finditer = compile_infix_regex(_infixes()).finditer
    return nlp


def _infixes() -> list[str]:
    """spaCy's English infixes without the hyphen splits: CoNLL, and the model trained on it, keep hyphenated
    words (``AL-AIN``, ``Saudi-based``) and scores (``1-0``) whole."""
    from spacy.lang.char_classes import (
        ALPHA,
        ALPHA_LOWER,
        ALPHA_UPPER,
        CONCAT_QUOTES,
        LIST_ELLIPSES,
        LIST_ICONS,
    )

    return [
        *LIST_ELLIPSES,
        *LIST_ICONS,
        r"(?<=[0-9])[+*^](?=[0-9-])",
        rf"(?<=[{ALPHA_LOWER}{CONCAT_QUOTES}])\.(?=[{ALPHA_UPPER}{CONCAT_QUOTES}])",
        rf"(?<=[{ALPHA}]),(?=[{ALPHA}])",
        rf"(?<=[{ALPHA}0-9])[:<>=/](?=[{ALPHA}])",
    ]


def _segments(text: str, size: int = SEGMENT_CHARS) -> list[tuple[int, int]]:
    """Cut ``text`` into ranges of at most ``size`` chars, preferring paragraph, line, sentence, then word breaks."""
    out: list[tuple[int, int]] = []
    start = 0
    n = len(text)
    while n - start > size:
        limit = start + size
        cut = -1
        for sep in _SPLIT_PREFERENCE:
            pos = text.rfind(sep, start + size // 2, limit)
            if pos != -1:
                cut = pos + len(sep)
                break
        if cut == -1:  # no whitespace at all: a hard cut is the only option
            cut = limit
        out.append((start, cut))
        start = cut
    if start < n:
        out.append((start, n))
    return out


def split_sentences(text: str) -> list[Sentence]:
    """Return the sentences of ``text`` as lists of non-space words with original offsets."""
    if not text or text.isspace():
        return []
    clean = _CONTROL.sub(" ", text)  # same length, so offsets are unchanged
    nlp = _nlp()
    if len(nlp.vocab.strings) > MAX_VOCAB_STRINGS:
        _nlp.cache_clear()
        nlp = _nlp()
    sentences: list[Sentence] = []
    for seg_start, seg_end in _segments(clean):
        doc = nlp(clean[seg_start:seg_end])
        for sent in doc.sents:
            words = [
                Word(tok.text, seg_start + tok.idx, seg_start + tok.idx + len(tok.text))
                for tok in sent
                if not tok.is_space
            ]
            sentences.extend(_lines(clean, words))
    return sentences


def _lines(text: str, words: Sentence) -> list[Sentence]:
    """A sentence cut where a line ends: at a blank line, or at a line break before a word that is not lower case
    (a headline and the text under it, a title and its article), so no entity spans two lines. A line break
    before a lower-case word is a hard wrap inside a sentence, and stays."""
    out: list[Sentence] = []
    start = 0
    for i in range(1, len(words)):
        gap = text[words[i - 1].end : words[i].start]
        if "\n" in gap and (gap.count("\n") > 1 or not words[i].text[:1].islower()):
            out.append(words[start:i])
            start = i
    if words[start:]:
        out.append(words[start:])
    return out


def words_from_tokens(tokens: list[str], start: int = 0) -> tuple[str, Sentence]:
    """Join pre-tokenised words with single spaces; return the text and the words with offsets."""
    words: Sentence = []
    pos = start
    for tok in tokens:
        words.append(Word(tok, pos, pos + len(tok)))
        pos += len(tok) + 1
    return " ".join(tokens), words
