"""The state one request carries through the stages: what was asked (``Request``) and, per text, what each
stage found so far (``Doc``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hybrid_ner.datamodel import Entity, Result
from hybrid_ner.llm.extractor import RegionResult
from hybrid_ner.protocols import Extractor
from hybrid_ner.routing import Granularity, Router, RoutingPlan
from hybrid_ner.schemas import Schema
from hybrid_ner.text import Sentence
from kb.meta import KBState


@dataclass(frozen=True)
class Request:
    """Everything a batch of texts is processed with; resolved once, before the first stage."""

    schema: Schema
    router: Router
    link: bool | None  # None: link when a KB is loaded
    threshold: float
    granularity: Granularity
    llm_score: float
    state: KBState | None  # None when the database could not be read
    extractor: Extractor  # the local model this request uses (chosen by the call, its schema, or the default)


@dataclass
class Doc:
    """One text and what the stages found in it."""

    text: str
    sentences: list[Sentence]
    local: list[Entity] = field(default_factory=list)
    local_error: str | None = None
    plan: RoutingPlan = field(default_factory=RoutingPlan)
    regions: list[RegionResult] = field(default_factory=list)
    entities: list[Entity] = field(default_factory=list)
    degraded: list[str] = field(default_factory=list)
    llm: dict[str, Any] | None = None

    @property
    def bounds(self) -> list[tuple[int, int]]:
        """Each sentence as a character range."""
        return [(s[0].start, s[-1].end) for s in self.sentences]

    def result(self) -> Result:
        reasons = list(dict.fromkeys(self.degraded))
        return Result(
            entities=self.entities, degraded=bool(reasons), degraded_reason=", ".join(reasons) or None, llm=self.llm
        )
