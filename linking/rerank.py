"""Rerank candidates by the mention's context, its string, the entity's prior and type fit; NIL below a threshold.

The weights are a logistic regression fitted on labelled dev data by
``linking.train`` (``linking/weights.json``), not set by hand.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path
from typing import Protocol

import numpy as np

from kb.store import EntityRecord, normalize
from linking.candidates import Candidate, Mention

WEIGHTS = Path(__file__).resolve().parent / "weights.json"
FEATURES = (
    "bias",
    "context_sim",
    "context_gap",
    "mention_sim",
    "mention_gap",
    "alias_hit",
    "string_sim",
    "alias_prior_rank",
    "alias_most_popular",
    "type_fit",
    "type_clash",
)
# NER label → KB type words that fit it (KB types are free text: Wikidata coarse names, GeoNames kinds).
TYPE_WORDS = {
    "PER": ("person", "human", "people", "character"),
    "ORG": ("organization", "organisation", "company", "team", "club", "party", "agency", "institution", "business"),
    "LOC": (
        "location",
        "geographic",
        "city",
        "country",
        "state",
        "province",
        "region",
        "airport",
        "place",
        "county",
        "district",
        "municipality",
        "island",
        "river",
        "mountain",
    ),
}


@dataclass
class Scored:
    kb_id: str
    score: float


class Reranker(Protocol):
    name: str

    def rerank(
        self,
        mentions: Sequence[Mention],
        candidates: Sequence[Sequence[Candidate]],
        entities: dict[str, EntityRecord],
        vectors: dict[str, np.ndarray],
    ) -> list[list[Scored]]: ...


def type_fit(label: str | None, types: Sequence[str]) -> tuple[float, float]:
    """(fits, clashes): 1/0 when the NER label agrees/disagrees with the entity's types; 0/0 when unknown."""
    if not label or label not in TYPE_WORDS or not types:
        return 0.0, 0.0
    joined = " ".join(types).lower()
    fits = any(w in joined for w in TYPE_WORDS[label])
    other = any(w in joined for lab, words in TYPE_WORDS.items() if lab != label for w in words)
    return float(fits), float(other and not fits)


def features(
    mention: Mention, cands: Sequence[Candidate], entities: dict[str, EntityRecord], vectors: dict[str, np.ndarray]
) -> np.ndarray:
    """One row per candidate. The *gap* features compare a candidate with the best one for the same mention,
    and the prior only counts among candidates whose alias matches, so popularity never outranks the name."""
    norm = normalize(mention.text)
    ctx, men = [], []
    for c in cands:
        vec = vectors.get(c.kb_id)
        has = vec is not None
        ctx.append(float(mention.context_vector @ vec) if has and mention.context_vector is not None else 0.0)
        men.append(float(mention.vector @ vec) if has and mention.vector is not None else c.dense)
    priors = [math.log1p(entities[c.kb_id].prior) if c.kb_id in entities else 0.0 for c in cands]
    alias_top = max((p for p, c in zip(priors, cands, strict=True) if c.alias_hit), default=0.0)
    rows = []
    for i, c in enumerate(cands):
        e = entities.get(c.kb_id)
        name = normalize(e.name) if e else ""
        sim = SequenceMatcher(None, norm, name, autojunk=False).ratio() if name else 0.0
        fit, clash = type_fit(mention.label, e.types if e else [])
        rank = priors[i] / alias_top if c.alias_hit and alias_top else 0.0
        most = float(c.alias_hit and alias_top > 0 and priors[i] == alias_top)
        rows.append(
            [1.0, ctx[i], ctx[i] - max(ctx), men[i], men[i] - max(men), float(c.alias_hit), sim, rank, most, fit, clash]
        )
    return np.array(rows, dtype=np.float64).reshape(len(cands), len(FEATURES))


class LogisticReranker:
    name = "reranker.logistic.v1"

    def __init__(self, weights: Sequence[float], nil_threshold: float) -> None:
        self.weights = np.asarray(weights, dtype=np.float64)
        self.nil_threshold = nil_threshold

    @classmethod
    def load(cls, path: Path = WEIGHTS) -> LogisticReranker:
        data = json.loads(path.read_text())
        if tuple(data["features"]) != FEATURES:
            raise ValueError(f"{path} was fitted for features {data['features']}, not {list(FEATURES)}")
        return cls(data["weights"], data["nil_threshold"])

    def rerank(
        self,
        mentions: Sequence[Mention],
        candidates: Sequence[Sequence[Candidate]],
        entities: dict[str, EntityRecord],
        vectors: dict[str, np.ndarray],
    ) -> list[list[Scored]]:
        out: list[list[Scored]] = []
        for m, cands in zip(mentions, candidates, strict=True):
            if not cands:
                out.append([])
                continue
            z = features(m, cands, entities, vectors) @ self.weights
            probs = 1.0 / (1.0 + np.exp(-z))
            out.append(
                sorted((Scored(c.kb_id, float(p)) for c, p in zip(cands, probs, strict=True)), key=lambda s: -s.score)
            )
        return out
