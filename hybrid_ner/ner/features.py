"""Word-shape features.

The packaged MiniLM encoder is uncased, so capitalisation (the strongest NER cue
in English news) is lost in its tokenizer. Each word gets a shape id that the
model embeds beside the subword embeddings.
"""

from __future__ import annotations

from functools import lru_cache

PAD, LOWER, TITLE, UPPER, MIXED, DIGIT, ALNUM, PUNCT = range(8)
NUM_SHAPES = 8
SHAPE_NAMES = ("pad", "lower", "title", "upper", "mixed", "digit", "alnum", "punct")


@lru_cache(maxsize=1 << 16)  # words repeat: a batch of news spends more time here than in the tokenizer
def word_shape(word: str) -> int:
    """Map a word to one of the coarse shape classes."""
    has_alpha = any(c.isalpha() for c in word)
    has_digit = any(c.isdigit() for c in word)
    if not has_alpha:
        return DIGIT if has_digit else PUNCT
    if has_digit:
        return ALNUM
    letters = [c for c in word if c.isalpha()]
    if all(c.islower() for c in letters):
        return LOWER
    if all(c.isupper() for c in letters):
        return UPPER
    if letters[0].isupper() and all(c.islower() for c in letters[1:]):
        return TITLE
    return MIXED
