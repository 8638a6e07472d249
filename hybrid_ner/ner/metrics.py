"""Entity-level precision/recall/F1 with exact span and label, counted as conlleval and seqeval do."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable
from dataclasses import dataclass

# An entity key is (document id, start, end, label); only exact matches count.
EntityKey = tuple[Hashable, int, int, str]


@dataclass(frozen=True)
class PRF:
    precision: float
    recall: float
    f1: float
    support: int
    predicted: int
    correct: int

    @classmethod
    def from_counts(cls, correct: int, predicted: int, support: int) -> PRF:
        p = correct / predicted if predicted else 0.0
        r = correct / support if support else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return cls(p, r, f, support, predicted, correct)


@dataclass(frozen=True)
class NERScores:
    micro: PRF
    macro_f1: float
    per_label: dict[str, PRF]


def score_entities(gold: Iterable[EntityKey], pred: Iterable[EntityKey]) -> NERScores:
    """Micro, macro and per-label scores over sets of exact entity keys."""
    gold_set, pred_set = set(gold), set(pred)
    hit = gold_set & pred_set
    g = Counter(k[3] for k in gold_set)
    p = Counter(k[3] for k in pred_set)
    c = Counter(k[3] for k in hit)
    labels = sorted(set(g) | set(p))
    per = {lab: PRF.from_counts(c[lab], p[lab], g[lab]) for lab in labels}
    macro = sum(s.f1 for s in per.values()) / len(per) if per else 0.0
    return NERScores(PRF.from_counts(len(hit), len(pred_set), len(gold_set)), macro, per)
