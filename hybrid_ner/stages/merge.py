"""Stage 5, the merge policy: confident local entities, LLM entities where they were asked for, and the rules
fallback for sensitive types the LLM failed on; every entity keeps a ``Decision`` saying who found it and why."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from hybrid_ner.datamodel import Decision, Entity, Source, Span
from hybrid_ner.llm.extractor import RegionResult
from hybrid_ner.routing import Granularity, RoutingPlan
from hybrid_ner.rules import RulesExtractor
from hybrid_ner.stages.doc import Doc, Request

FUZZY_DISCOUNT = 0.75


def merge(docs: Sequence[Doc], request: Request, llm_model: Callable[[], str | None]) -> None:
    """Fill ``doc.entities`` (sorted by offset) and the LLM accounting of each text."""
    rules = RulesExtractor(request.schema)
    for doc in docs:
        if doc.plan.use_rules:
            doc.entities = rules.extract([doc.text], reason=doc.plan.rules_reason)[0]
            continue
        kept = list(doc.plan.keep)
        llm_entities, drops = _llm_entities(doc, kept, request, llm_model())
        failed = [r for r in doc.regions if r.error]
        kept += _unjudged(doc.plan, failed)
        entities = kept + [e for e in llm_entities if not _overlaps(e.span, kept)]
        entities += _sensitive_fallback(doc, failed, request, rules, entities)
        doc.entities = sorted(entities, key=lambda e: (e.span.start, e.span.end))
        doc.degraded += sorted({f"llm_{r.error}" for r in failed})
        if doc.regions:
            doc.llm = _llm_summary(doc.regions, len(doc.plan.escalated), drops)


def _llm_entities(
    doc: Doc, kept: list[Entity], request: Request, llm_model: str | None
) -> tuple[list[Entity], dict[str, int]]:
    """The LLM's grounded spans that the granularity lets in, and how many it dropped and why."""
    plan = doc.plan
    drops = {"local_conflict": 0, "outside_escalated_spans": 0}
    out: list[Entity] = []
    for g in (g for res in doc.regions for g in res.spans):
        span = Span.from_text(doc.text, g.start, g.end, g.label)
        if _overlaps(span, kept):
            drops["local_conflict"] += 1  # a confident local entity wins
            continue
        hit = next((e for e in plan.escalated if _overlaps_one(span, e)), None)
        if g.label in plan.llm_only:
            why = f"type {g.label} is routed to the LLM"
        elif hit is not None:
            why = f"replaces escalated local {hit.span.label} (confidence {hit.score:.2f})"
        elif request.granularity == Granularity.SENTENCE:
            why = "found by the LLM in an escalated sentence"
        else:
            drops["outside_escalated_spans"] += 1
            continue
        decision = Decision(
            routed="llm",
            strategy=request.router.name.split(".")[1],
            reason=why,
            grounding=g.method,
            model=llm_model,
        )
        score = request.llm_score * (1.0 if g.method != "fuzzy" else FUZZY_DISCOUNT)
        out.append(Entity(span=span, score=score, source=Source.LLM, decision=decision))
    return out, drops


def _unjudged(plan: RoutingPlan, failed: list[RegionResult]) -> list[Entity]:
    """Escalated local entities the LLM could not judge (it failed there) stay, marked; those it judged go."""
    out = []
    for e in plan.escalated:
        if any(r.region.start <= e.span.start < r.region.end for r in failed):
            decision = e.decision.model_copy(update={"routed": "local", "reason": "escalation failed; kept local"})
            out.append(e.model_copy(update={"decision": decision}))
    return out


def _sensitive_fallback(
    doc: Doc, failed: list[RegionResult], request: Request, rules: RulesExtractor, taken: list[Entity]
) -> list[Entity]:
    """Policy-sensitive LLM-only types keep working without the LLM: their patterns match instead."""
    plan = doc.plan
    types = {t for r in failed for t in r.region.labels if t in plan.llm_only and request.schema.get_type(t).sensitive}
    if not types:
        return []
    found = rules.extract([doc.text], only=types, reason="fallback: llm failed")[0]
    return [e for e in found if not _overlaps(e.span, taken)]


def _overlaps_one(span: Span, e: Entity) -> bool:
    return span.start < e.span.end and e.span.start < span.end


def _overlaps(span: Span, entities: Sequence[Entity]) -> bool:
    return any(_overlaps_one(span, e) for e in entities)


def _llm_summary(results: list[RegionResult], escalated: int, merge_drops: dict[str, int]) -> dict[str, Any]:
    g = {k: sum(getattr(r.grounding, k) for r in results) for k in ("returned", "exact", "normalized", "fuzzy")}
    dropped = {k: sum(getattr(r.grounding, k) for r in results) for k in ("unknown_label", "ungrounded", "overlapping")}
    dropped.update(merge_drops)
    costs = [r.usage.cost_usd for r in results]
    return {
        "calls": sum(r.calls for r in results),
        "cache_hits": sum(r.cache_hits for r in results),
        "escalated_spans": escalated,
        "prompt_tokens": sum(r.usage.prompt_tokens for r in results),
        "completion_tokens": sum(r.usage.completion_tokens for r in results),
        "cost_usd": None if any(c is None for c in costs) else sum(c or 0.0 for c in costs),
        "grounding": g,
        "dropped": dropped,
        "errors": sorted({r.error for r in results if r.error}),
    }
