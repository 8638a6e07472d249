"""The state one request carries through the stages: what was asked (``Request``) and, per text, what each
stage found so far (``Doc``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hybrid_ner.datamodel import Entity, Result
from hybrid_ner.llm.extractor import RegionResult
from hybrid_ner.protocols import Extractor
from hybrid_ner.rollout.deployments import Deployment
from hybrid_ner.routing import Granularity, Router, RoutingPlan
from hybrid_ner.schemas import Schema
from hybrid_ner.text import Sentence
from kb.meta import KBState


@dataclass(frozen=True)
class StageFailure:
    """Why a stage could not run for a text: a code later stages and counters read, and a message for people."""

    stage: str
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


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
    deployment: Deployment | None = None  # the schema's rollout state (None when the database could not be read)
    spans_given: bool = False  # the caller gave the spans (link only): NIL by the threshold for given spans


@dataclass
class Doc:
    """One text and what the stages found in it."""

    text: str
    sentences: list[Sentence]
    local: list[Entity] = field(default_factory=list)
    local_error: StageFailure | None = None
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
            entities=self.entities,
            degraded=bool(reasons),
            degraded_reason=", ".join(reasons) or None,
            llm=self.llm,
            failed=(self.local_error.stage,) if self.local_error else (),
        )
