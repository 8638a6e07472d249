"""Input drift: the same figures over a model's reference text (its training or dev input) and over a sliding
window of live traffic, compared by the population stability index (PSI) per figure.

Figures: tokens per text, the shares of capitalised, upper-case, non-ASCII and out-of-vocabulary words per text
(the vocabulary is the base encoder's word list), the entity types found, their confidence, and the share the
cascade would escalate. Each is a histogram over fixed bins, so a profile is a few hundred numbers, no text.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from hybrid_ner.datamodel import Result
from hybrid_ner.ner.artifacts import PROFILE_FILE

WORD = re.compile(r"\w+|[^\w\s]")
EPS = 1e-4
BINS: dict[str, list[float]] = {  # upper edges (a value goes to the first bin whose edge exceeds it)
    "tokens": [5, 10, 15, 20, 25, 30, 40, 50, 70, 100, math.inf],
    "capitalised_share": [0.0001, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.6, math.inf],
    "upper_share": [0.0001, 0.05, 0.1, 0.2, 0.5, math.inf],
    "non_ascii_share": [0.0001, 0.01, 0.05, 0.2, math.inf],
    "oov_share": [0.0001, 0.05, 0.1, 0.2, 0.3, 0.5, math.inf],
    "confidence": [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, math.inf],
}
TEXT_FIGURES = ("tokens", "capitalised_share", "upper_share", "non_ascii_share", "oov_share")
ALL_FIGURES = (*TEXT_FIGURES, "entity_types", "confidence", "escalation")


@lru_cache(maxsize=1)
def vocabulary() -> frozenset[str]:
    """Whole words of the base encoder's vocabulary (no word pieces, no special tokens)."""
    from hybrid_ner.packages import base_encoder_path

    words = (base_encoder_path() / "vocab.txt").read_text(encoding="utf-8").split("\n")
    return frozenset(w for w in words if w and not w.startswith(("##", "[")))


def _bin(figure: str, value: float) -> int:
    for i, edge in enumerate(BINS[figure]):
        if value < edge:
            return i
    return len(BINS[figure]) - 1


def text_bins(text: str) -> tuple[int, ...]:
    """One text's bin per text figure."""
    tokens = WORD.findall(text)
    words = [t for t in tokens if t[0].isalpha()]
    n = max(len(words), 1)
    vocab = vocabulary()
    values = (
        len(tokens),
        sum(w[0].isupper() for w in words) / n,
        sum(len(w) > 1 and w.isupper() for w in words) / n,
        sum(ord(c) > 127 for c in text) / max(len(text), 1),
        sum(w.lower() not in vocab for w in words) / n,
    )
    return tuple(_bin(f, v) for f, v in zip(TEXT_FIGURES, values, strict=True))


@dataclass(frozen=True)
class Sample:
    """What one served text adds to a window: its text bins, entity types, confidence bins, escalations."""

    bins: tuple[int, ...]
    types: tuple[str, ...]
    confidence: tuple[int, ...]
    escalated: int
    kept: int


def sample(text: str, result: Result, threshold: float) -> Sample:
    scores = [e.score for e in result.entities]
    return Sample(
        bins=text_bins(text),
        types=tuple(e.span.label for e in result.entities) or ("(none)",),
        confidence=tuple(_bin("confidence", s) for s in scores),
        escalated=sum(s < threshold for s in scores),
        kept=sum(s >= threshold for s in scores),
    )


class Histograms:
    """Counts per figure, added to and taken from as samples enter and leave a window."""

    def __init__(self) -> None:
        self.texts = 0
        self.counts: dict[str, Counter[str]] = {f: Counter() for f in ALL_FIGURES}

    def add(self, s: Sample, sign: int = 1) -> None:
        self.texts += sign
        for f, b in zip(TEXT_FIGURES, s.bins, strict=True):
            self.counts[f][str(b)] += sign
        for t in s.types:
            self.counts["entity_types"][t] += sign
        for b in s.confidence:
            self.counts["confidence"][str(b)] += sign
        self.counts["escalation"]["escalated"] += sign * s.escalated
        self.counts["escalation"]["kept"] += sign * s.kept

    def to_json(self) -> dict[str, Any]:
        return {"texts": self.texts, "figures": {f: dict(c) for f, c in self.counts.items()}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Histograms:
        h = cls()
        h.texts = int(data.get("texts", 0))
        for f, counts in data.get("figures", {}).items():
            if f in h.counts:
                h.counts[f] = Counter({k: int(v) for k, v in counts.items()})
        return h


def psi(reference: Counter[str], live: Counter[str]) -> float:
    """Population stability index of two histograms over the union of their bins (empty bins smoothed)."""
    keys = set(reference) | set(live)
    r_total, l_total = sum(reference.values()), sum(live.values())
    if not keys or not r_total or not l_total:
        return 0.0
    total = 0.0
    for k in keys:
        r = max(reference.get(k, 0) / r_total, EPS)
        q = max(live.get(k, 0) / l_total, EPS)
        total += (q - r) * math.log(q / r)
    return total


class Window:
    """The last ``size`` served texts of one model, against its reference profile."""

    def __init__(self, reference: Histograms, size: int, minimum: int, threshold: float) -> None:
        self.reference, self.size, self.minimum, self.threshold = reference, size, minimum, threshold
        self.live = Histograms()
        self._samples: deque[Sample] = deque()

    def add(self, s: Sample) -> None:
        self._samples.append(s)
        self.live.add(s)
        if len(self._samples) > self.size:
            self.live.add(self._samples.popleft(), -1)

    def report(self) -> dict[str, Any]:
        ready = self.live.texts >= self.minimum
        figures = []
        for f in ALL_FIGURES:
            value = psi(self.reference.counts[f], self.live.counts[f])
            figures.append({"name": f, "psi": round(value, 4), "threshold": self.threshold,
                            "alarm": ready and value > self.threshold})  # fmt: skip
        return {"alarm": any(f["alarm"] for f in figures), "window": self.live.texts, "figures": figures}


def build_profile(texts: Sequence[str], results: Sequence[Result], threshold: float) -> Histograms:
    h = Histograms()
    for text, result in zip(texts, results, strict=True):
        h.add(sample(text, result, threshold))
    return h


def write_profile(directory: Path, profile: Histograms) -> None:
    (Path(directory) / PROFILE_FILE).write_text(json.dumps(profile.to_json(), sort_keys=True))


def read_profile(directory: Path) -> Histograms | None:
    path = Path(directory) / PROFILE_FILE
    if not path.is_file():
        return None
    return Histograms.from_json(json.loads(path.read_text()))


def texts_of(lines: Iterable[str]) -> list[str]:
    """Non-empty lines, stripped: a plain-text reference file."""
    return [t.strip() for t in lines if t.strip()]
