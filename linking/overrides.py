"""Applying the override list (``kb.overrides``) to entities: the last step on every path that returns them.

The highest priority wins; ties go to the older rule. Regexes run with a time limit, so a catastrophic pattern
cannot hang a request.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from hybrid_ner.datamodel import Entity, Link, LinkDecision, Source, Span
from kb.keys import normalize
from kb.overrides import Action, MatchKind, Override, compile_pattern

log = logging.getLogger(__name__)
REGEX_TIMEOUT_S = 0.05
MASK = "█"


@lru_cache(maxsize=1024)
def _cached(pattern: str) -> Any:
    return compile_pattern(pattern)


def _search(pattern: str, text: str, full: bool) -> bool:
    compiled = _cached(pattern)
    try:
        found = (compiled.fullmatch if full else compiled.search)(text, timeout=REGEX_TIMEOUT_S)
    except TimeoutError:
        log.warning("override regex timed out", extra={"fields": {"pattern_length": len(pattern)}})
        return False
    return found is not None


def matches(rule: Override, entity: Entity, sentence: str) -> bool:
    surface = entity.span.text
    if rule.label is not None and entity.span.label != rule.label:
        return False
    if rule.match == MatchKind.EXACT and surface != rule.pattern:
        return False
    if rule.match == MatchKind.NORMALIZED and normalize(surface) != normalize(rule.pattern):
        return False
    if rule.match == MatchKind.REGEX and not _search(rule.pattern, surface, full=True):
        return False
    return rule.context is None or _search(rule.context, sentence, full=False)


def apply_overrides(rules: Sequence[Override], text: str, entities: list[Entity]) -> list[Entity]:
    """Apply the first matching rule (by priority, then age) to each entity; returns the new list."""
    ordered = sorted((r for r in rules if r.enabled), key=lambda r: (-r.priority, r.id))
    if not ordered:
        return entities
    out: list[Entity] = []
    for e in entities:
        rule = next((r for r in ordered if matches(r, e, _sentence(text, e.span.start, e.span.end))), None)
        if rule is None:
            out.append(e)
        elif not (rule.action == Action.BLOCK and rule.drop_entity):
            out.append(_apply(rule, e))
    return out


def _apply(rule: Override, e: Entity) -> Entity:
    decision = e.decision.model_copy(update={"override": {"id": rule.id, "action": rule.action.value}})
    update: dict[str, Any] = {"decision": decision, "source": Source.OVERRIDE}
    if rule.action == Action.FORCE_LINK:
        update["link"] = Link(
            kb_id=rule.kb_id,
            score=1.0,
            nil=False,
            candidates=e.link.candidates if e.link else [],
            decision=LinkDecision(stage="override"),
        )
    elif rule.action == Action.BLOCK:
        update["link"] = Link(nil=True, candidates=[], decision=LinkDecision(stage="override"))
    elif rule.action == Action.REVIEW:
        decision.review = True  # type: ignore[attr-defined]
    else:  # redact: the text is masked and the link removed; offsets still say where it was
        update["span"] = Span(
            start=e.span.start, end=e.span.end, text=MASK * (e.span.end - e.span.start), label=e.span.label
        )
        update["link"] = None
        update["redacted"] = True
    return e.model_copy(update=update)


def _sentence(text: str, start: int, end: int, reach: int = 300) -> str:
    """The text around a span, up to sentence ends within ``reach`` characters."""
    lo = max(text.rfind(". ", max(0, start - reach), start), text.rfind("\n", max(0, start - reach), start))
    hi_candidates = [i for i in (text.find(". ", end, end + reach), text.find("\n", end, end + reach)) if i != -1]
    hi = min(hi_candidates) + 1 if hi_candidates else min(len(text), end + reach)
    return text[(lo + 1 if lo != -1 else max(0, start - reach)) : hi]
