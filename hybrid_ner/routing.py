"""Router strategies: which entities the local model keeps and what goes to the LLM.

Strategies are registered by versioned name; the short names (``local``,
``llm``, ``cascade``, ``schema``, ``rules``) are aliases. Routing works per type
and per span, and the LLM is asked about whole sentences (it needs context);
see ``Granularity`` for how its answers are merged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from hybrid_ner.datamodel import Decision, Entity
from hybrid_ner.registry import Registry
from hybrid_ner.schemas import RoutingMode, Schema


class Granularity(StrEnum):
    """How LLM answers in an escalated sentence are merged.

    ``span``: an LLM entity is accepted only where it overlaps an escalated local
    span (or is of an LLM-only type); confident local entities are never touched.
    ``sentence``: the LLM is authoritative for its types in the whole sentence.
    """

    SPAN = "span"
    SENTENCE = "sentence"


@dataclass
class RoutingPlan:
    """A router's decision for one text."""

    keep: list[Entity] = field(default_factory=list)
    escalated: list[Entity] = field(default_factory=list)
    # (start, end) sentence → labels to ask the LLM for there
    ask: dict[tuple[int, int], set[str]] = field(default_factory=dict)
    llm_only: set[str] = field(default_factory=set)
    use_rules: bool = False
    rules_reason: str = "pattern match"

    def ask_for(self, sentence: tuple[int, int], labels: set[str]) -> None:
        if labels:
            self.ask.setdefault(sentence, set()).update(labels)


class Router(Protocol):
    """Decides, per text, what to keep from the local model and what to ask the LLM."""

    name: str

    def needs_local(self, schema: Schema) -> bool: ...

    def route(
        self, sentences: Sequence[tuple[int, int]], local: list[Entity], schema: Schema, threshold: float
    ) -> RoutingPlan: ...


def _map_local(local: list[Entity], schema: Schema) -> list[Entity]:
    """Local entities relabelled to schema types; labels the schema does not map are dropped."""
    mapping = schema.local_map()
    return [
        e.model_copy(update={"span": e.span.model_copy(update={"label": mapping[e.span.label]})})
        for e in local
        if e.span.label in mapping
    ]


def _sentence_of(entity: Entity, sentences: Sequence[tuple[int, int]]) -> tuple[int, int]:
    for s, e in sentences:
        if s <= entity.span.start < e:
            return s, e
    return entity.span.start, entity.span.end


def _keep(entity: Entity, strategy: str, threshold: float | None, reason: str) -> Entity:
    decision = Decision(
        routed="local",
        strategy=strategy,
        confidence=round(entity.score, 4),
        threshold=threshold,
        reason=reason,
        model=entity.decision.model,
    )
    return entity.model_copy(update={"decision": decision})


class _Base:
    name = ""
    short = ""

    def needs_local(self, schema: Schema) -> bool:
        return True

    def _types(self, schema: Schema, mode: RoutingMode) -> set[str]:
        return {t.name for t in schema.types if t.mode == mode}


class LocalRouter(_Base):
    """Local model only; nothing is escalated."""

    name, short = "router.local.v1", "local"

    def route(
        self, sentences: Sequence[tuple[int, int]], local: list[Entity], schema: Schema, threshold: float
    ) -> RoutingPlan:
        return RoutingPlan(keep=[_keep(e, self.short, None, "strategy local") for e in _map_local(local, schema)])


class LLMRouter(_Base):
    """Everything goes to the LLM, except types pinned to the local model."""

    name, short = "router.llm.v1", "llm"

    def needs_local(self, schema: Schema) -> bool:
        return bool(self._types(schema, RoutingMode.LOCAL))

    def route(
        self, sentences: Sequence[tuple[int, int]], local: list[Entity], schema: Schema, threshold: float
    ) -> RoutingPlan:
        pinned = self._types(schema, RoutingMode.LOCAL)
        plan = RoutingPlan(
            keep=[
                _keep(e, self.short, None, "type pinned to local")
                for e in _map_local(local, schema)
                if e.span.label in pinned
            ]
        )
        plan.llm_only = set(schema.labels) - pinned
        for sent in sentences:
            plan.ask_for(sent, plan.llm_only)
        return plan


class CascadeRouter(_Base):
    """Keep confident local entities; escalate the sentences of those below their type's threshold.

    Types pinned to ``llm`` always go to the LLM; types with no local mapping are
    not extracted (the ``schema`` strategy adds them).
    """

    name, short = "router.cascade.v1", "cascade"

    def _llm_only(self, schema: Schema) -> set[str]:
        return self._types(schema, RoutingMode.LLM)

    def route(
        self, sentences: Sequence[tuple[int, int]], local: list[Entity], schema: Schema, threshold: float
    ) -> RoutingPlan:
        plan = RoutingPlan(llm_only=self._llm_only(schema))
        escalatable = {t.name for t in schema.types if t.mode != RoutingMode.LOCAL and t.local_labels}
        for e in _map_local(local, schema):
            etype = schema.get_type(e.span.label)
            t = etype.threshold if etype.threshold is not None else threshold
            if etype.mode == RoutingMode.LLM:
                continue  # the LLM extracts this type everywhere
            if etype.mode == RoutingMode.LOCAL or e.score >= t:
                why = "type pinned to local" if etype.mode == RoutingMode.LOCAL else f"confidence >= {t}"
                plan.keep.append(_keep(e, self.short, t, why))
            else:
                why = f"escalated: confidence {e.score:.2f} < {t}"
                decision = Decision(
                    routed="llm", strategy=self.short, confidence=round(e.score, 4), threshold=t, reason=why,
                    model=e.decision.model,
                )  # fmt: skip
                plan.escalated.append(e.model_copy(update={"decision": decision}))
                plan.ask_for(_sentence_of(e, sentences), escalatable)
        for sent in sentences:
            plan.ask_for(sent, plan.llm_only)
        return plan


class SchemaRouter(CascadeRouter):
    """As cascade, plus every type with no local mapping always goes to the LLM."""

    name, short = "router.schema.v1", "schema"

    def _llm_only(self, schema: Schema) -> set[str]:
        unmapped = {t.name for t in schema.types if not t.local_labels and t.mode != RoutingMode.LOCAL}
        return super()._llm_only(schema) | unmapped


class RulesRouter(_Base):
    """Patterns only: no model, no LLM."""

    name, short = "router.rules.v1", "rules"

    def needs_local(self, schema: Schema) -> bool:
        return False

    def route(
        self, sentences: Sequence[tuple[int, int]], local: list[Entity], schema: Schema, threshold: float
    ) -> RoutingPlan:
        return RoutingPlan(use_rules=True)


routers: Registry[Router] = Registry("router")
ALIASES: dict[str, str] = {}
for _cls in (LocalRouter, LLMRouter, CascadeRouter, SchemaRouter, RulesRouter):
    routers.register(_cls.name)(_cls)
    ALIASES[_cls.short] = _cls.name
STRATEGIES = tuple(ALIASES)


def get_router(strategy: str) -> Router:
    """A router by short name or registered name; unknown names list the valid ones."""
    name = ALIASES.get(strategy, strategy)
    if name not in routers.names():
        raise ValueError(
            f"unknown strategy {strategy!r}; valid: {', '.join(STRATEGIES)} (or {', '.join(routers.names())})"
        )
    return routers.get(name)()
