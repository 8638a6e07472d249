"""The override list in SQL: policy rules for sensitive entities, versioned and audited.

A rule matches a surface form (exact, normalized, or a regex), optionally only for a label and a context regex
over the sentence, and does one thing: ``force_link`` to a KB id, ``block`` (no link, or drop the entity),
``review`` (flag it) or ``redact`` (mask its text). Every write bumps the override version, so every cache and
every worker sees the change on its next request. ``linking.overrides`` applies the rules.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import regex
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kb import audit
from kb.meta import OVERRIDE_VERSION, bump
from kb.models import KBEntityRow, OverrideRow


class MatchKind(StrEnum):
    EXACT = "exact"
    NORMALIZED = "normalized"
    REGEX = "regex"


class Action(StrEnum):
    FORCE_LINK = "force_link"
    BLOCK = "block"
    REVIEW = "review"
    REDACT = "redact"


def compile_pattern(pattern: str) -> Any:
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
            compile_pattern(value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> OverrideIn:
        if self.match == MatchKind.REGEX:
            compile_pattern(self.pattern)
        if (self.action == Action.FORCE_LINK) != (self.kb_id is not None):
            raise ValueError("force_link needs a kb_id, and only force_link takes one")
        if self.drop_entity and self.action != Action.BLOCK:
            raise ValueError("drop_entity goes with the block action")
        return self


class Override(OverrideIn):
    id: int


_FIELDS = ("id", *OverrideIn.model_fields)


def _as_dict(row: OverrideRow) -> dict[str, Any]:
    return {k: getattr(row, k) for k in _FIELDS}


class OverrideStore:
    """Rules through SQLAlchemy; each write is audited and bumps the override version in one transaction."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def all(self) -> list[Override]:
        """Every rule, enabled or not, oldest first."""
        with self._sessions() as s:
            return [
                Override.model_validate(_as_dict(r)) for r in s.scalars(select(OverrideRow).order_by(OverrideRow.id))
            ]

    def save(self, rule: OverrideIn, actor: str, rule_id: int | None = None) -> Override:
        """Create (``rule_id`` None) or replace a rule. An unknown KB id raises ``LookupError``, an unknown rule
        ``KeyError``; either way nothing is stored."""
        with self._sessions.begin() as s:
            if rule.kb_id is not None and s.get(KBEntityRow, rule.kb_id) is None:
                raise LookupError(f"unknown KB id {rule.kb_id!r}: load or create the entity first")
            row = s.get(OverrideRow, rule_id) if rule_id is not None else OverrideRow()
            if row is None:
                raise KeyError(f"no override {rule_id}")
            before = _as_dict(row) if rule_id is not None else None
            for key, value in rule.model_dump(mode="json").items():
                setattr(row, key, value)
            if rule_id is None:
                s.add(row)
            s.flush()
            after = _as_dict(row)
            audit.record(s, actor, "update" if before else "create", "override", str(row.id), before, after)
            bump(s, OVERRIDE_VERSION)
        return Override.model_validate(after)

    def delete(self, rule_id: int, actor: str) -> bool:
        with self._sessions.begin() as s:
            row = s.get(OverrideRow, rule_id)
            if row is None:
                return False
            audit.record(s, actor, "delete", "override", str(rule_id), _as_dict(row), None)
            s.delete(row)
            bump(s, OVERRIDE_VERSION)
        return True
