"""The override list: policy rules for sensitive entities, applied after linking, on every request.

Rules live in SQL, so an edit takes effect on the very next request with no
re-indexing. Each rule matches a surface form (exact, normalized, or a regex)
optionally restricted by label and by a context regex, and does one thing:
``force_link`` to a KB id, ``block`` (no link, or drop the entity), ``review``
(flag it) or ``redact`` (mask its text in the response). The highest priority
wins; ties go to the older rule. Regexes run with a time limit, so a
catastrophic pattern cannot hang a request.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from enum import StrEnum
from functools import lru_cache
from typing import Any

import regex
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hybrid_ner.datamodel import Entity, Link, Source, Span
from kb.store import normalize

log = logging.getLogger(__name__)
REGEX_TIMEOUT_S = 0.05
MASK = "█"


class MatchKind(StrEnum):
    EXACT = "exact"
    NORMALIZED = "normalized"
    REGEX = "regex"


class Action(StrEnum):
    FORCE_LINK = "force_link"
    BLOCK = "block"
    REVIEW = "review"
    REDACT = "redact"


def _compile(pattern: str) -> Any:
    try:
        return regex.compile(pattern)
    except regex.error as exc:
        raise ValueError(f"invalid regex {pattern!r}: {exc}") from None


class OverrideIn(BaseModel):
    """A rule as the admin API and the Python API accept it."""

    model_config = ConfigDict(extra="forbid")

    pattern: str = Field(min_length=1, max_length=500)
    match: MatchKind = MatchKind.EXACT
    label: str | None = Field(default=None, max_length=64)
    context: str | None = Field(default=None, max_length=500, description="Regex that must occur in the sentence.")
    action: Action
    kb_id: str | None = Field(default=None, max_length=200)
    drop_entity: bool = Field(default=False, description="With block: remove the entity, not only its link.")
    priority: int = Field(default=0, ge=-1000, le=1000)
    enabled: bool = True
    note: str = Field(default="", max_length=500)

    @field_validator("context")
    @classmethod
    def _context_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            _compile(value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> OverrideIn:
        if self.match == MatchKind.REGEX:
            _compile(self.pattern)
        if (self.action == Action.FORCE_LINK) != (self.kb_id is not None):
            raise ValueError("force_link needs a kb_id, and only force_link takes one")
        if self.drop_entity and self.action != Action.BLOCK:
            raise ValueError("drop_entity goes with the block action")
        return self


class Override(OverrideIn):
    id: int


@lru_cache(maxsize=1024)
def _cached(pattern: str) -> Any:
    return _compile(pattern)


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
    out: list[Entity] = []
    for e in entities:
        sentence = _sentence(text, e.span.start, e.span.end)
        rule = next((r for r in ordered if matches(r, e, sentence)), None)
        if rule is None:
            out.append(e)
            continue
        decision = e.decision.model_copy(update={"override": {"id": rule.id, "action": rule.action.value}})
        update: dict[str, Any] = {"decision": decision, "source": Source.OVERRIDE}
        if rule.action == Action.FORCE_LINK:
            update["link"] = Link(
                kb_id=rule.kb_id, score=1.0, nil=False, candidates=e.link.candidates if e.link else []
            )
        elif rule.action == Action.BLOCK:
            if rule.drop_entity:
                continue
            update["link"] = Link(nil=True, candidates=[])
        elif rule.action == Action.REVIEW:
            decision.review = True  # type: ignore[attr-defined]
        else:  # redact: the text is masked; offsets still say where it was
            update["span"] = Span(
                start=e.span.start, end=e.span.end, text=MASK * (e.span.end - e.span.start), label=e.span.label
            )
            update["link"] = None
            decision.redacted = True  # type: ignore[attr-defined]
        out.append(e.model_copy(update=update))
    return out


def _sentence(text: str, start: int, end: int, reach: int = 300) -> str:
    """The text around a span, up to sentence ends within ``reach`` characters."""
    lo = max(text.rfind(". ", max(0, start - reach), start), text.rfind("\n", max(0, start - reach), start))
    hi_candidates = [i for i in (text.find(". ", end, end + reach), text.find("\n", end, end + reach)) if i != -1]
    hi = min(hi_candidates) + 1 if hi_candidates else min(len(text), end + reach)
    return text[(lo + 1 if lo != -1 else max(0, start - reach)) : hi]
