"""What the request path reports to a rollout monitor after each group of texts it served."""

from __future__ import annotations

from dataclasses import dataclass

from hybrid_ner.datamodel import Entity, Result, Source
from hybrid_ner.protocols import Extractor
from hybrid_ner.rollout.deployments import Deployment
from hybrid_ner.schemas import Schema


@dataclass(frozen=True)
class Observation:
    """Texts served by one model of a deployment (``role``: ``served`` or ``candidate``), with their results and
    the seconds the pipeline took. ``failure`` says the candidate could not be loaded and the served model
    answered instead."""

    schema: Schema
    deployment: Deployment
    role: str
    texts: list[str]
    results: list[Result]
    seconds: float
    extractor: Extractor
    failure: str | None = None

    @property
    def errors(self) -> int:
        """Texts whose local stage failed (a typed field, never a parsed message)."""
        return sum(1 for r in self.results if "local" in r.failed)


def agreement(a: list[Entity], b: list[Entity]) -> float:
    """Span-and-label F1 of two models' local entities on one text (1.0 when neither found any)."""
    left = {(e.span.start, e.span.end, e.span.label) for e in a if e.source == Source.LOCAL}
    right = {(e.span.start, e.span.end, e.span.label) for e in b if e.source == Source.LOCAL}
    if not left and not right:
        return 1.0
    return 2 * len(left & right) / (len(left) + len(right))
