"""Locate every LLM-returned mention in the source text, or drop it.

The LLM returns mention strings, never trusted offsets. Each mention is found
in the text by exact match at word boundaries, then by a case- and
whitespace-insensitive match, then by a bounded fuzzy alignment over word
windows. Whatever cannot be found, or overlaps a span already placed, is
dropped and counted, so nothing the LLM invents reaches a caller.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from difflib import SequenceMatcher

MAX_MENTION_CHARS = 200
FUZZY_MAX_CHARS = 100
FUZZY_MIN_RATIO = 0.85
_WORD = re.compile(r"\w+|[^\w\s]", re.UNICODE)


@dataclass
class GroundingStats:
    """How each returned mention fared; summed into decisions and metrics."""

    returned: int = 0
    exact: int = 0
    normalized: int = 0
    fuzzy: int = 0
    unknown_label: int = 0
    ungrounded: int = 0
    overlapping: int = 0

    def add(self, other: GroundingStats) -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)

    @property
    def dropped(self) -> int:
        return self.unknown_label + self.ungrounded + self.overlapping


@dataclass(frozen=True)
class Grounded:
    start: int
    end: int
    label: str
    method: str  # exact | normalized | fuzzy


def _at_word_boundary(text: str, start: int, end: int) -> bool:
    before_ok = start == 0 or not (text[start - 1].isalnum() and text[start].isalnum())
    after_ok = end == len(text) or not (text[end - 1].isalnum() and text[end].isalnum())
    return before_ok and after_ok


def _exact(text: str, mention: str) -> Iterator[tuple[int, int]]:
    pos = text.find(mention)
    while pos != -1:
        if _at_word_boundary(text, pos, pos + len(mention)):
            yield pos, pos + len(mention)
        pos = text.find(mention, pos + 1)


def _normalized(text: str, mention: str) -> Iterator[tuple[int, int]]:
    words = mention.split()
    pattern = re.compile(r"\s+".join(re.escape(w) for w in words), re.IGNORECASE)
    for m in pattern.finditer(text):
        if _at_word_boundary(text, m.start(), m.end()):
            yield m.start(), m.end()


def _fuzzy(text: str, mention: str) -> Iterator[tuple[int, int]]:
    """Best word window (mention's word count ±1) with a similarity ratio of at least FUZZY_MIN_RATIO."""
    if len(mention) > FUZZY_MAX_CHARS:
        return
    tokens = [(m.start(), m.end()) for m in _WORD.finditer(text)]
    n = len(_WORD.findall(mention))
    target = mention.lower()
    best: tuple[float, int, int] | None = None
    for size in {max(1, n - 1), n, n + 1}:
        for i in range(len(tokens) - size + 1):
            start, end = tokens[i][0], tokens[i + size - 1][1]
            ratio = SequenceMatcher(None, text[start:end].lower(), target, autojunk=False).ratio()
            if ratio >= FUZZY_MIN_RATIO and (best is None or ratio > best[0]):
                best = (ratio, start, end)
    if best is not None:
        yield best[1], best[2]


def ground(text: str, items: Iterable[tuple[str, str]], labels: set[str]) -> tuple[list[Grounded], GroundingStats]:
    """Place ``(mention, label)`` items in ``text``; returns sorted non-overlapping spans and the counts.

    A repeated mention takes the next free occurrence after the previous one, so
    an LLM that lists "Paris" twice grounds to both places, in order.
    """
    stats = GroundingStats()
    placed: list[Grounded] = []
    cursor = 0
    for mention, label in items:
        stats.returned += 1
        if label not in labels:
            stats.unknown_label += 1
            continue
        mention = mention.strip()
        if not mention or len(mention) > MAX_MENTION_CHARS:
            stats.ungrounded += 1
            continue
        found = None
        for method, finder in (("exact", _exact), ("normalized", _normalized), ("fuzzy", _fuzzy)):
            spots = [s for s in finder(text, mention) if not _overlaps(s, placed)]
            if spots:
                after = [s for s in spots if s[0] >= cursor]
                found = (*(after or spots)[0], method)
                break
        if found is None:
            in_text = next(_normalized(text, mention), None) is not None
            if in_text:  # it is there, but only where a span was already placed
                stats.overlapping += 1
            else:
                stats.ungrounded += 1
            continue
        start, end, method = found
        placed.append(Grounded(start, end, label, method))
        setattr(stats, method, getattr(stats, method) + 1)
        cursor = end
    return sorted(placed, key=lambda g: g.start), stats


def _overlaps(span: tuple[int, int], placed: list[Grounded]) -> bool:
    return any(span[0] < g.end and g.start < span[1] for g in placed)
