"""Close calls, settled by a slower judge: a ``Judge`` sees the reranked candidates of a batch's mentions and
re-orders those whose best candidate leads the runner-up by a small margin. The cross-encoder here reads the
mention in its context against each of the few best candidates; the LLM judge (``hybrid_ner.llm.linking``) picks
one of them or none.

Only a close call pays for it (a pair costs about 25 ms on one thread), and only the ``top`` candidates are read.
The cross-encoder's logits move each candidate's probability on the log-odds scale, centred on their mean, so a
judge that likes every candidate the same changes nothing and calibration is kept where it has no view.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol

import numpy as np

from hybrid_ner.datamodel import LinkStage
from kb.records import EntityRecord
from linking.candidates import Mention
from linking.cross_encoder import CrossEncoder
from linking.rerank import Scored

QUERY_REACH = 120  # characters of context on each side of the mention that the cross-encoder reads


Ranked = list[list[Scored]]


class Judge(Protocol):
    """Re-orders close calls; says per mention whether it was consulted (a link it settled names its stage)."""

    stage: ClassVar[LinkStage]

    @property
    def version(self) -> str:
        """Everything its verdicts depend on (model, prompt, settings): part of the result cache's key."""
        ...

    def __call__(
        self, mentions: Sequence[Mention], ranked: Ranked, entities: dict[str, EntityRecord]
    ) -> tuple[Ranked, list[bool]]: ...


def is_close(scored: Sequence[Scored], margin: float) -> bool:
    """Whether the best candidate leads the second by less than ``margin``."""
    return len(scored) > 1 and scored[0].score - scored[1].score < margin


@dataclass(frozen=True)
class CrossCheck:
    """Settings of the cross-encoder stage (``HNER_LINK_CROSS_*``) with the model they drive."""

    stage: ClassVar[LinkStage] = "cross-encoder"
    encoder: CrossEncoder
    margin: float = 0.2  # consult it when the best candidate leads the second by less than this
    top: int = 3  # candidates it reads
    weight: float = 0.5  # log-odds per logit

    @property
    def version(self) -> str:
        return f"{self.stage}:{self.encoder.name}:{self.margin}:{self.top}:{self.weight}"

    def __call__(
        self, mentions: Sequence[Mention], ranked: Ranked, entities: dict[str, EntityRecord]
    ) -> tuple[Ranked, list[bool]]:
        """The ranked lists with close calls re-scored, and per mention whether the cross-encoder was read."""
        out, consulted = [], []
        for m, scored in zip(mentions, ranked, strict=True):
            close = is_close(scored, self.margin)
            out.append(self._settle(m, scored, entities) if close else scored)
            consulted.append(close)
        return out, consulted

    def _settle(self, mention: Mention, scored: list[Scored], entities: dict[str, EntityRecord]) -> list[Scored]:
        head = scored[: self.top]
        passages = [entities[s.kb_id].text() if s.kb_id in entities else s.kb_id for s in head]
        logits = self.encoder.score(query_of(mention), passages)
        shift = self.weight * (logits - float(np.mean(logits)))
        moved = [  # an excluded candidate (probability 0: a type clash) stays excluded
            Scored(s.kb_id, _sigmoid(_logit(s.score) + float(d)) if s.score > 0 else 0.0)
            for s, d in zip(head, shift, strict=True)
        ]
        return sorted(moved + scored[self.top :], key=lambda s: -s.score)  # stable: ties keep the reranker's order


def query_of(mention: Mention) -> str:
    """The mention in brackets within ``QUERY_REACH`` characters of its context, cut at spaces."""
    at = mention.context.find(mention.text)
    if at < 0:
        return f"[{mention.text}] {mention.context[: 2 * QUERY_REACH]}"
    before = mention.context[max(0, at - QUERY_REACH) : at]
    after = mention.context[at + len(mention.text) : at + len(mention.text) + QUERY_REACH]
    before = before.split(" ", 1)[1] if at > QUERY_REACH and " " in before else before
    after = after.rsplit(" ", 1)[0] if len(after) == QUERY_REACH and " " in after else after
    return f"{before}[{mention.text}]{after}"


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))
