"""Entity schemas: named, versioned sets of entity types that users edit without retraining.

A schema is validated as a pydantic model, stored as immutable versions in SQL
(``kb.models.SchemaVersionRow``), and edited with optimistic versioning: a
write names the version it was based on, and a stale write is a conflict.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from hybrid_ner.errors import HybridNERError

log = logging.getLogger(__name__)
DEFAULT_SCHEMA = "default"
NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_\-]*$"


class SchemaError(HybridNERError, ValueError):
    """A schema is invalid or unknown."""


class SchemaConflictError(HybridNERError):
    """A write was based on a version that is no longer the latest."""


class RoutingMode(StrEnum):
    """Per-type routing: ``auto`` lets the strategy decide; ``local``/``llm`` pin the path."""

    AUTO = "auto"
    LOCAL = "local"
    LLM = "llm"


class ExampleEntity(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: int = Field(ge=0)
    end: int = Field(gt=0)
    label: str


class Example(BaseModel):
    """A few-shot example: a text and its entities, with offsets into that text."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=2000)
    entities: list[ExampleEntity] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _spans_in_text(self) -> Example:
        for e in self.entities:
            if not e.start < e.end <= len(self.text):
                raise ValueError(
                    f"example entity [{e.start}, {e.end}) is not inside its text (length {len(self.text)})"
                )
            if not self.text[e.start : e.end].strip():
                raise ValueError(f"example entity [{e.start}, {e.end}) covers only whitespace")
        return self


class EntityType(BaseModel):
    """One entity type: what it means, how it is found, and how it is routed."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=NAME_PATTERN)
    description: str = Field(default="", max_length=1000)
    examples: list[Example] = Field(default_factory=list, max_length=20, description="Positive few-shot examples.")
    negative_examples: list[Example] = Field(
        default_factory=list, max_length=20, description="Texts whose look-alike spans are NOT this type."
    )
    local_labels: list[str] = Field(default_factory=list, description="Local-model labels mapped to this type.")
    mode: RoutingMode = RoutingMode.AUTO
    threshold: float | None = Field(default=None, ge=0.0, le=1.0, strict=True)
    sensitive: bool = Field(
        default=False, strict=True, description="Policy flag: keep this type working in degraded mode."
    )
    patterns: list[str] = Field(
        default_factory=list, max_length=200, description="Exact phrases for the rules fallback."
    )


class Schema(BaseModel):
    """A named set of entity types. ``version`` is assigned by the store."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128, pattern=NAME_PATTERN)
    version: int | None = Field(default=None, ge=1)
    types: list[EntityType] = Field(min_length=1, max_length=100)
    model: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        pattern=NAME_PATTERN,
        description="The registered (or shipped) NER model that serves this schema's local types; default: the "
        "service's model.",
    )

    @field_validator("types")
    @classmethod
    def _unique_names(cls, types: list[EntityType]) -> list[EntityType]:
        seen: set[str] = set()
        for t in types:
            if t.name in seen:
                raise ValueError(f"duplicate type name {t.name!r}")
            seen.add(t.name)
        return types

    @model_validator(mode="after")
    def _example_labels_known(self) -> Schema:
        names = {t.name for t in self.types}
        for t in self.types:
            for ex in t.examples + t.negative_examples:
                for e in ex.entities:
                    if e.label not in names:
                        raise ValueError(f"example of {t.name!r} uses label {e.label!r}, which the schema lacks")
        mapped: dict[str, str] = {}
        for t in self.types:
            for lab in t.local_labels:
                if lab in mapped:
                    raise ValueError(f"local label {lab!r} is mapped to both {mapped[lab]!r} and {t.name!r}")
                mapped[lab] = t.name
        return self

    @property
    def labels(self) -> list[str]:
        return [t.name for t in self.types]

    def get_type(self, name: str) -> EntityType:
        for t in self.types:
            if t.name == name:
                return t
        raise SchemaError(f"schema {self.name!r} has no type {name!r}; valid types: {', '.join(self.labels)}")

    def local_map(self) -> dict[str, str]:
        """Local-model label → schema type name."""
        return {lab: t.name for t in self.types for lab in t.local_labels}

    def for_model(self, model_labels: list[str]) -> Schema:
        """This schema with each type also mapped from the model label of its own name (case-insensitive), where
        no type maps that label already: a model adapted to a schema labels entities with its type names."""
        mapped = set(self.local_map())
        by_key = {lab.casefold(): lab for lab in model_labels if lab not in mapped}
        types = []
        for t in self.types:
            own = by_key.get(t.name.casefold())
            extra = [own] if own is not None and own not in t.local_labels else []
            types.append(t.model_copy(update={"local_labels": [*t.local_labels, *extra]}) if extra else t)
        return self if types == self.types else self.model_copy(update={"types": types})

    def content_hash(self) -> str:
        """Stable hash of the content (not the version), for caches."""
        import hashlib

        body = self.model_dump(mode="json", exclude={"version"})
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


def default_schema() -> Schema:
    """The built-in schema that maps the shipped model's CoNLL labels one to one."""
    descriptions = {
        "PER": "Names of people, real or fictional.",
        "ORG": "Companies, institutions, agencies, teams and other organisations.",
        "LOC": "Countries, cities, regions, geographic features and other locations.",
        "MISC": "Other named entities: nationalities, events, works, products, languages.",
    }
    return Schema(
        name=DEFAULT_SCHEMA,
        version=1,
        types=[EntityType(name=k, description=v, local_labels=[k]) for k, v in descriptions.items()],
    )


def load_schema_file(path: Path) -> Schema:
    """Read and validate a schema JSON file; errors name the file."""
    try:
        return Schema.model_validate_json(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        raise SchemaError(f"{path}: {exc}") from exc


class SchemaStore:
    """Schema versions in SQL. Reads are by name and optional version; writes are optimistic."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def latest_version(self, name: str) -> int | None:
        from kb.models import SchemaVersionRow

        with self._sessions() as s:
            v = s.scalar(select(func.max(SchemaVersionRow.version)).where(SchemaVersionRow.name == name))
            return int(v) if v is not None else None

    def get(self, name: str, version: int | None = None) -> Schema:
        """A stored schema; the built-in default is served when none named ``default`` was stored."""
        from kb.models import SchemaVersionRow

        with self._sessions() as s:
            q = select(SchemaVersionRow).where(SchemaVersionRow.name == name)
            q = q.where(SchemaVersionRow.version == version) if version else q.order_by(SchemaVersionRow.version.desc())
            row = s.scalars(q.limit(1)).first()
        if row is None:
            if name == DEFAULT_SCHEMA and version in (None, 1):
                return default_schema()
            known = ", ".join(self.names()) or "none stored"
            what = f"{name!r} version {version}" if version else repr(name)
            raise SchemaError(f"unknown schema {what}; stored schemas: {known}")
        return Schema.model_validate({**row.body, "version": row.version})

    def names(self) -> list[str]:
        from kb.models import SchemaVersionRow

        with self._sessions() as s:
            return sorted(s.scalars(select(SchemaVersionRow.name).distinct()))

    def versions(self, name: str) -> list[dict[str, Any]]:
        from kb.models import SchemaVersionRow

        with self._sessions() as s:
            rows = s.scalars(
                select(SchemaVersionRow).where(SchemaVersionRow.name == name).order_by(SchemaVersionRow.version)
            ).all()
        return [
            {"version": r.version, "created_at": r.created_at.isoformat(), "created_by": r.created_by} for r in rows
        ]

    def delete(self, name: str) -> int:
        """Remove every version of ``name``; returns how many were removed."""
        from sqlalchemy import delete

        from kb.models import SchemaVersionRow

        with self._sessions.begin() as s:
            result = s.execute(delete(SchemaVersionRow).where(SchemaVersionRow.name == name))
            return int(getattr(result, "rowcount", 0) or 0)

    def put(self, schema: Schema, *, base_version: int | None, author: str = "") -> Schema:
        """Store ``schema`` as the next version.

        ``base_version`` is the version the edit started from (``None`` to create). If
        another write landed since, :class:`SchemaConflictError` is raised and nothing
        is stored. The unique (name, version) key settles races between processes.
        """
        from kb.models import SchemaVersionRow

        current = self.latest_version(schema.name)
        if current != base_version:
            raise SchemaConflictError(
                f"schema {schema.name!r} is at version {current}, but the edit was based on {base_version}; "
                "reload it and apply the edit again"
            )
        new_version = (current or 0) + 1
        body = schema.model_dump(mode="json", exclude={"version"})
        try:
            with self._sessions.begin() as s:
                s.add(SchemaVersionRow(name=schema.name, version=new_version, body=body, created_by=author))
        except IntegrityError as exc:
            raise SchemaConflictError(f"schema {schema.name!r} was changed concurrently; reload and retry") from exc
        return schema.model_copy(update={"version": new_version})


def resolve_schema(
    store: Callable[[], SchemaStore], chosen: Schema | str | None, default_name: str, version: int | None = None
) -> Schema:
    """The schema for a request: given as an object, stored by name (and version), or the default. When the
    store is down, only the built-in default can still be served."""
    if isinstance(chosen, Schema):
        return chosen
    name = chosen or default_name
    try:
        return store().get(name, version)
    except SQLAlchemyError as exc:
        if name == DEFAULT_SCHEMA and version is None:
            log.warning("schema store unavailable (%s); using the built-in default schema", type(exc).__name__)
            return default_schema()
        raise SchemaError(f"the schema store is unavailable: {type(exc).__name__}") from exc
