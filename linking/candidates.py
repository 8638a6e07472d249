"""Candidate generation: exact/normalized alias lookup in SQL, united with dense FAISS retrieval."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from kb.store import KBStore, normalize
from linking.index import DenseIndex


@dataclass
class Mention:
    text: str
    label: str | None
    context: str  # the sentence around the mention
    vector: np.ndarray | None = None  # mention embedding, filled by the resolver
    context_vector: np.ndarray | None = None


@dataclass
class Candidate:
    kb_id: str
    alias_hit: bool = False
    dense: float = 0.0  # cosine of mention and entry
    sources: set[str] = field(default_factory=set)


class CandidateGenerator(Protocol):
    name: str

    def candidates(self, mentions: Sequence[Mention]) -> list[list[Candidate]]: ...


class UnionCandidates:
    """Alias hits (all of them, capped) plus the dense top-k; the reranker sees the union."""

    name = "candidates.alias_dense.v1"

    def __init__(self, store: KBStore, index: DenseIndex, k: int = 30, max_alias: int = 100) -> None:
        self.store = store
        self.index = index
        self.k = k
        self.max_alias = max_alias

    def candidates(self, mentions: Sequence[Mention]) -> list[list[Candidate]]:
        alias = self.store.by_alias(m.text for m in mentions)
        vectors = np.vstack([m.vector for m in mentions if m.vector is not None]) if mentions else np.zeros((0, 384))
        dense = self.index.search(vectors.astype(np.float32), self.k) if len(vectors) else []
        out: list[list[Candidate]] = []
        for i, m in enumerate(mentions):
            found: dict[str, Candidate] = {}
            for kb_id in alias.get(normalize(m.text), [])[: self.max_alias]:
                found[kb_id] = Candidate(kb_id, alias_hit=True, sources={"alias"})
            for kb_id, score in dense[i] if i < len(dense) else []:
                c = found.setdefault(kb_id, Candidate(kb_id))
                c.dense = max(c.dense, score)
                c.sources.add("dense")
            out.append(list(found.values()))
        return out
