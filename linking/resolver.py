"""The resolver: mentions in, links out (candidates → rerank → NIL → overrides)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hybrid_ner.datamodel import Candidate as LinkCandidate
from hybrid_ner.datamodel import Entity, Link
from kb.store import EntityRecord, KBStore
from linking.candidates import Candidate, CandidateGenerator, Mention, UnionCandidates, document_vectors, embed_mentions
from linking.embedder import Embedder
from linking.index import DenseIndex
from linking.overrides import apply_overrides
from linking.rerank import LogisticReranker, Reranker

TOP_K = 5
SpanIn = tuple[int, int, str | None]  # (start, end, label)


def context_of(text: str, start: int, end: int, width: int = 200) -> str:
    """The mention with up to ``width`` characters of text around it, cut at spaces."""
    lo = max(0, start - width)
    hi = min(len(text), end + width)
    if lo > 0:
        lo = text.find(" ", lo, start) + 1 or lo
    if hi < len(text):
        cut = text.rfind(" ", end, hi)
        hi = cut if cut != -1 else hi
    return text[lo:hi]


class Resolver:
    """Links spans to KB ids; ``nil`` when the best candidate scores below the reranker's NIL threshold."""

    def __init__(
        self,
        store: KBStore,
        embedder: Embedder,
        index: DenseIndex,
        candidates: CandidateGenerator | None = None,
        reranker: Reranker | None = None,
        top_k: int = TOP_K,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.index = index
        self.generator = candidates or UnionCandidates(store, index)
        self.reranker = reranker or LogisticReranker.load()
        self.top_k = top_k

    @classmethod
    def open(cls, store: KBStore, data_dir: Path, embedder: Embedder | None = None) -> Resolver:
        embedder = embedder or Embedder()
        return cls(store, embedder, DenseIndex(store, embedder, data_dir / "index"))

    def gather(
        self, mentions: Sequence[Mention]
    ) -> tuple[list[list[Candidate]], dict[str, EntityRecord], dict[str, np.ndarray]]:
        """Everything the reranker needs: embedded mentions, their candidates, the candidates' records and vectors."""
        embed_mentions(self.embedder.encode, mentions)
        cands = self.generator.candidates(mentions)
        ids = list({c.kb_id for cs in cands for c in cs})
        entities = self.store.get(ids)
        vectors = self.index.vectors(ids)
        missing = [i for i in ids if i not in vectors and i in entities]
        if missing:  # alias hits outside the dense index's view (e.g. just added): embed them now
            fresh = self.embedder.encode([entities[i].text() for i in missing])
            vectors.update({i: v for i, v in zip(missing, fresh, strict=True)})
        document_vectors(mentions, cands, vectors)
        return cands, entities, vectors

    def link(self, items: Sequence[tuple[str, Sequence[SpanIn]]]) -> list[list[Link]]:
        """One list of links per (text, spans) item, in span order."""
        mentions = [
            Mention(text[s:e], label, context_of(text, s, e), doc=d)
            for d, (text, spans) in enumerate(items)
            for s, e, label in spans
        ]
        if not mentions:
            return [[] for _ in items]
        scored = self.reranker.rerank(mentions, *self.gather(mentions))
        threshold = getattr(self.reranker, "nil_threshold", 0.5)
        links = []
        for ranked in scored:
            top = [LinkCandidate(kb_id=c.kb_id, score=round(c.score, 4)) for c in ranked[: self.top_k]]
            if ranked and ranked[0].score >= threshold:
                links.append(Link(kb_id=ranked[0].kb_id, score=round(ranked[0].score, 4), candidates=top, nil=False))
            else:
                links.append(Link(kb_id=None, score=round(ranked[0].score, 4) if ranked else 0.0, candidates=top))
        out: list[list[Link]] = []
        pos = 0
        for _, spans in items:
            out.append(links[pos : pos + len(spans)])
            pos += len(spans)
        return out

    def annotate(self, text: str, entities: list[Entity]) -> list[Entity]:
        """Add links to extracted entities, then apply the override list (read fresh from SQL)."""
        links = self.link([(text, [(e.span.start, e.span.end, e.span.label) for e in entities])])[0]
        linked = [e.model_copy(update={"link": link}) for e, link in zip(entities, links, strict=True)]
        return apply_overrides(self.store.overrides(), text, linked)
